"""A denial outlives /privacy delete; deleting data leaves no trace of a reviewer or of free
text. Everything here is what the member (or staff) sees through the fake Discord."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from bot.models import AuditLog
from plugins.compliance.models import AgeDenial, MemberRecord
from plugins.compliance.tests.helpers import StrainProbe, button_ids, content, registry

ADULT = "1990-06-15"
UNDER_21 = date(date.today().year - 19, 1, 1).isoformat()


async def _submit(fake, member, dob):
    opened = await fake.slash(member, "verify")
    shown = await opened.response()
    if shown["type"] != 9:  # refused before the form: that answer is what the member sees
        return content(shown)
    sub = await fake.submit_modal(member, "compliance:dob", {"dob": dob, "attest": "yes"})
    return content(await sub.response())


async def _delete_my_data(fake, member):
    ask = await fake.slash(member, "privacy delete")
    prompt = await ask.wait_original()
    done = await fake.click(member, prompt, next(c for c in button_ids(prompt) if "cf.yes" in c))
    await done.response()
    return fake.text_of(prompt), fake.text_of((await done.wait_followups(1))[0])


def _later(plugin, hours):
    moment = datetime.now(UTC) + timedelta(hours=hours)
    plugin.verification.clock = lambda: moment


async def test_denied_member_deletes_their_data_and_an_adult_date_is_still_not_approved(
    start_bot, world, fake_discord
):
    probe = StrainProbe()
    running = await start_bot(registry=registry(probe))
    compliance = running.bot.plugins.plugins["compliance"]

    assert "21+ only" in await _submit(fake_discord, world.member, UNDER_21)

    prompt, result = await _delete_my_data(fake_discord, world.member)
    assert "**Kept:**" in prompt and "never a date of birth" in prompt
    assert "Kept:** 1 age-verification denial record" in result
    assert "cannot undo an age check" in result and "365 days" in result
    assert not await MemberRecord.filter(user_id=world.member.id).exists()

    export = await fake_discord.slash(world.member, "privacy export")
    data = json.loads(fake_discord.attachment_bytes(await export.wait_original()))
    [kept] = data["plugins"]["compliance"]["age_verification_denials"]
    assert kept["guild_id"] == world.guild.id and kept["outcome"] == "under_minimum_age"
    assert UNDER_21 not in json.dumps(data)

    # Straight away: the cooldown still runs from the kept denial.
    assert "try verifying again in" in await _submit(fake_discord, world.member, ADULT)
    # After the cooldown: this server has no review channel, so an adult date is refused.
    _later(compliance, 25)
    refused = await _submit(fake_discord, world.member, ADULT)
    assert "was denied" in refused and "no staff review channel" in refused
    stale_form = await fake_discord.submit_modal(world.member, "compliance:dob",
                                                 {"dob": ADULT, "attest": "yes"})
    assert "no staff review channel" in content(await stale_form.response())
    assert stale_form.ephemeral
    gated = await fake_discord.slash(world.member, "strainprobe")
    assert "/verify" in content(await gated.response()) and probe.served == 0
    row = await MemberRecord.get_or_none(guild_id=world.guild.id, user_id=world.member.id)
    assert row is None or row.status != "verified"

    # Staff can still give a fresh start, and it is audited with their reason kept apart.
    reset = await fake_discord.slash(world.admin, "verification reset",
                                     {"member": world.member, "reason": "Typo in year, saw ID"})
    assert "reset from" in content(await reset.response())
    entry = await AuditLog.filter(action="verification.reset").order_by("-id").first()
    assert entry.details["denial_cleared"] is True and "Typo" not in json.dumps(entry.details)
    assert not await AgeDenial.filter(user_id=world.member.id).exists()
    assert "verified as 21+" in await _submit(fake_discord, world.member, ADULT)


async def test_after_a_denial_an_adult_date_goes_to_staff_review_where_there_is_a_channel(
    start_bot, world, fake_discord
):
    running = await start_bot(registry=registry(StrainProbe()))
    compliance = running.bot.plugins.plugins["compliance"]
    review = world.guild.add_text_channel("age-review")
    ix = await fake_discord.slash(world.admin, "verification settings",
                                  {"review_channel": review})  # mode stays self-attest
    await ix.response()

    assert "21+ only" in await _submit(fake_discord, world.member, UNDER_21)
    await _delete_my_data(fake_discord, world.member)
    _later(compliance, 24 * 30)  # long after the cooldown
    answer = await _submit(fake_discord, world.member, ADULT)
    assert "staff will review" in answer and "verified" not in answer
    [request] = fake_discord.channel_messages(review)
    text = fake_discord.text_of(request)
    assert f"<@{world.member.id}>" in text and "denied as under the minimum age" in text
    assert UNDER_21 not in text and ADULT not in text
    gated = await fake_discord.slash(world.member, "strainprobe")
    assert "waiting for staff review" in content(await gated.response())


async def test_a_reviewer_who_deletes_their_data_is_pseudonymised_and_their_notes_redacted(
    start_bot, world, fake_discord
):
    await start_bot(registry=registry(StrainProbe()))
    review = world.guild.add_text_channel("age-review")
    mods = world.guild.add_role("Mods", permissions=1 << 28)  # MANAGE_ROLES
    mod = world.guild.add_member("mia-mod", roles=[mods])
    await (await fake_discord.slash(world.admin, "verification settings",
                                    {"mode": "staff_review", "review_channel": review})
           ).response()
    assert "Staff will review" in await _submit(fake_discord, world.member, ADULT)
    [request] = fake_discord.channel_messages(review)
    approve = next(c for c in button_ids(request) if ":approve:" in c)
    await (await fake_discord.click(mod, request, approve)).response()
    reset = await fake_discord.slash(mod, "verification reset",
                                     {"member": world.other, "reason": "Mia's private note"})
    await reset.response()

    await _delete_my_data(fake_discord, mod)

    record = await MemberRecord.get(guild_id=world.guild.id, user_id=world.member.id)
    assert record.status == "verified" and record.reviewer_id is None
    assert record.reviewer_pseudonym.startswith("former-staff-")
    assert str(mod.id) not in record.reviewer_pseudonym
    export = await fake_discord.slash(world.member, "privacy export")
    body = fake_discord.attachment_bytes(await export.wait_original()).decode()
    assert json.loads(body)["plugins"]["compliance"]["members"][0]["reviewed_by_staff"] is True
    assert str(mod.id) not in body, "another member's id in an export"

    log = await fake_discord.slash(world.admin, "audit recent", {"action": "verification.reset"})
    shown = fake_discord.text_of(await log.wait_original())
    assert "[redacted]" in shown and "private note" not in shown


async def test_a_request_withdrawn_by_privacy_delete_can_no_longer_be_decided(
    start_bot, world, fake_discord
):
    await start_bot(registry=registry(StrainProbe()))
    review = world.guild.add_text_channel("age-review")
    await (await fake_discord.slash(world.admin, "verification settings",
                                    {"mode": "staff_review", "review_channel": review})
           ).response()
    assert "Staff will review" in await _submit(fake_discord, world.member, ADULT)
    [request] = fake_discord.channel_messages(review)
    await _delete_my_data(fake_discord, world.member)
    approve = next(c for c in button_ids(request) if ":approve:" in c)
    late = await fake_discord.click(world.admin, request, approve)
    assert "This control has expired" in content(await late.response()) and late.ephemeral
    assert not await MemberRecord.filter(user_id=world.member.id).exists()
