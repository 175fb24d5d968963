"""Verification through the fake Discord: what members and staff see, roles, restarts."""

from __future__ import annotations

from datetime import date

from bot.models import AuditLog
from plugins.compliance.models import MemberRecord
from plugins.compliance.tests.helpers import (
    StrainProbe,
    button_ids,
    content,
    database_down,
    registry,
)

ADULT = "1990-06-15"
UNDER_21 = date(date.today().year - 19, 1, 1).isoformat()


async def _forge_click(fake, actor, message, custom_id):
    """A modified client can send any custom_id on any message; the fake's click() refuses
    ids that are not on the message, so build the interaction directly."""
    data = {"custom_id": custom_id, "component_type": 2}
    return await fake._send_interaction(fake._component_interaction(actor, message, data))


async def _set_role(fake, world, **extra):
    role = world.guild.add_role("Verified 21+")
    ix = await fake.slash(world.admin, "verification settings", {"verified_role": role, **extra})
    assert "Saved." in content(await ix.response())
    return role


def _role_put(role_id, user_id):
    return lambda r: r.method == "PUT" and r.path.endswith(f"/members/{user_id}/roles/{role_id}")


async def test_unverified_member_sees_verify_button_then_verifies_with_the_modal(
    start_bot, world, fake_discord
):
    probe = StrainProbe()
    await start_bot(registry=registry(probe))
    role = await _set_role(fake_discord, world)

    ix = await fake_discord.slash(world.member, "strainprobe")
    denied = await ix.response()
    assert ix.ephemeral and "/verify" in content(denied)
    assert button_ids(denied["data"]) == ["compliance:verify"]
    assert probe.served == 0

    opened = await fake_discord.click(world.member, ix.original, "compliance:verify")
    shown = await opened.response()
    assert shown["type"] == 9 and shown["data"]["custom_id"] == "compliance:dob"

    bad = await fake_discord.submit_modal(world.member, "compliance:dob",
                                          {"dob": "2005-02-30", "attest": "yes"})
    assert "does not exist" in content(await bad.response()) and bad.ephemeral
    ambiguous = await fake_discord.submit_modal(world.member, "compliance:dob",
                                                {"dob": "31/12/1990", "attest": "yes"})
    assert "YYYY-MM-DD" in content(await ambiguous.response())

    ok = await fake_discord.submit_modal(world.member, "compliance:dob",
                                         {"dob": ADULT, "attest": "YES"})
    assert "verified as 21+" in content(await ok.response()) and ok.ephemeral
    await fake_discord.wait_for_request(_role_put(role.id, world.member.id), since=0)
    assert world.member.has_role(role)

    again = await fake_discord.slash(world.member, "strainprobe")
    assert content(await again.response()) == "21+ strain menu"
    actions = await AuditLog.filter(guild_id=world.guild.id).order_by("id").values_list(
        "action", flat=True)
    assert [a for a in actions if a != "verification.settings_changed"] == [
        "age_gate.denied", "verification.invalid_date", "verification.verified",
        "age_gate.allowed"]
    row = await MemberRecord.get(guild_id=world.guild.id, user_id=world.member.id)
    assert row.status == "verified" and row.failed_attempts == 0


async def test_under_21_is_denied_and_cannot_retry_during_the_cooldown(start_bot, world,
                                                                       fake_discord):
    await start_bot(registry=registry(StrainProbe()))
    ix = await fake_discord.slash(world.member, "verify")
    assert (await ix.response())["type"] == 9
    sub = await fake_discord.submit_modal(world.member, "compliance:dob",
                                          {"dob": UNDER_21, "attest": "yes"})
    text = content(await sub.response())
    assert "21+ only" in text and "24 h" in text
    retry = await fake_discord.slash(world.member, "verify")
    refused = await retry.response()
    assert refused["type"] == 4 and "try verifying again in" in content(refused)
    # Submitting the modal directly (e.g. a stale one) is refused the same way.
    forged = await fake_discord.submit_modal(world.member, "compliance:dob",
                                             {"dob": ADULT, "attest": "yes"})
    assert "try verifying again" in content(await forged.response())
    gate = await fake_discord.slash(world.member, "strainprobe")
    assert "could not be verified" in content(await gate.response())


async def test_staff_review_is_restart_proof_and_only_staff_other_than_requester_decide(
    start_bot, world, fake_discord
):
    running = await start_bot(registry=registry(StrainProbe()))
    review = world.guild.add_text_channel("age-review")
    moderators = world.guild.add_role("Mods", permissions=1 << 28)  # MANAGE_ROLES
    mod = world.guild.add_member("mia-mod", roles=[moderators])
    role = await _set_role(fake_discord, world, mode="staff_review", review_channel=review)

    for requester in (world.member, mod):
        await (await fake_discord.slash(requester, "verify")).response()
        sub = await fake_discord.submit_modal(requester, "compliance:dob",
                                              {"dob": ADULT, "attest": "yes"})
        assert "Staff will review" in content(await sub.response())
    posted = fake_discord.channel_messages(review)
    assert len(posted) == 2
    request, mod_request = posted
    assert "date of birth is not stored" in fake_discord.text_of(request)
    approve = next(c for c in button_ids(request) if ":approve:" in c)
    mod_approve = next(c for c in button_ids(mod_request) if ":approve:" in c)

    pending = await fake_discord.slash(world.member, "strainprobe")
    assert "waiting for staff review" in content(await pending.response())

    own = await fake_discord.click(world.member, request, approve)
    assert "Manage Roles" in content(await own.response())
    stranger = await fake_discord.click(world.other, request, approve)
    assert "Manage Roles" in content(await stranger.response())
    self_review = await fake_discord.click(mod, mod_request, mod_approve)
    assert "your own" in content(await self_review.response())
    for forged in ("compliance:approve:AAAAAAAAAAAA", "compliance:approve"):
        click = await _forge_click(fake_discord, mod, request, forged)
        assert "expired" in content(await click.response())

    await running.stop()
    await start_bot(registry=registry(StrainProbe()))
    decided = await fake_discord.click(mod, request, approve)
    resp = await decided.response()
    assert resp["type"] == 7 and "**approved**" in fake_discord.text_of(resp["data"])
    await fake_discord.wait_for_request(_role_put(role.id, world.member.id), since=0)
    assert button_ids(fake_discord.get_message(request["id"])) == []
    # A client still showing the old buttons clicks again: nothing changes twice.
    twice = await _forge_click(fake_discord, world.admin, request, approve)
    assert "already handled" in content(await twice.response())
    allowed = await fake_discord.slash(world.member, "strainprobe")
    assert content(await allowed.response()) == "21+ strain menu"
    row = await MemberRecord.get(guild_id=world.guild.id, user_id=world.member.id)
    assert (row.status, row.reviewer_id, row.method) == ("verified", mod.id, "staff_review")
    actions = set(await AuditLog.filter(guild_id=world.guild.id).values_list("action",
                                                                            flat=True))
    assert {"verification.review_requested", "verification.review_refused",
            "verification.self_review_refused", "verification.approved"} <= actions


async def test_reset_takes_effect_at_once_and_removes_the_role(start_bot, world, fake_discord):
    await start_bot(registry=registry(StrainProbe()))
    role = await _set_role(fake_discord, world)
    await (await fake_discord.slash(world.member, "verify")).response()
    await (await fake_discord.submit_modal(world.member, "compliance:dob",
                                           {"dob": ADULT, "attest": "yes"})).response()
    ok = await fake_discord.slash(world.member, "strainprobe")
    assert content(await ok.response()) == "21+ strain menu"  # now cached as allowed

    members_cant = await fake_discord.slash(world.other, "verification reset",
                                            {"member": world.member})
    assert "Manage Roles" in content(await members_cant.response())
    reset = await fake_discord.slash(world.admin, "verification reset", {"member": world.member})
    assert "from **verified** to **unverified**" in content(await reset.response())
    assert not world.member.has_role(role)
    denied = await fake_discord.slash(world.member, "strainprobe")
    assert "/verify" in content(await denied.response())

    status = await fake_discord.slash(world.member, "verification status")
    assert "**unverified**" in content(await status.response())
    peek = await fake_discord.slash(world.member, "verification status", {"member": world.other})
    assert "Manage Roles" in content(await peek.response())
    staff = await fake_discord.slash(world.admin, "verification status", {"member": world.member})
    assert f"<@{world.member.id}> is **unverified**" in content(await staff.response())


async def test_member_who_leaves_and_rejoins_keeps_status_and_gets_the_role_back(
    start_bot, world, fake_discord
):
    await start_bot(registry=registry(StrainProbe()))
    role = await _set_role(fake_discord, world)
    await (await fake_discord.slash(world.member, "verify")).response()
    await (await fake_discord.submit_modal(world.member, "compliance:dob",
                                           {"dob": ADULT, "attest": "yes"})).response()
    user = world.member.user
    world.guild.remove_member(world.member)
    mark = len(fake_discord.requests)
    back = world.guild.add_member(user)
    await fake_discord.wait_for_request(_role_put(role.id, user.id), since=mark)
    assert back.has_role(role)
    ok = await fake_discord.slash(back, "strainprobe")
    assert content(await ok.response()) == "21+ strain menu"
    # Another guild knows nothing of this verification.
    elsewhere = fake_discord.create_guild("Elsewhere")
    there = elsewhere.add_member(user)
    gated = await fake_discord.slash(there, "strainprobe", channel=elsewhere.text_channel)
    assert "/verify" in content(await gated.response())


async def test_compliance_off_in_a_guild_denies_every_gated_feature(start_bot, world,
                                                                    fake_discord):
    probe = StrainProbe()
    await start_bot(registry=registry(probe))
    await (await fake_discord.slash(world.member, "verify")).response()
    await (await fake_discord.submit_modal(world.member, "compliance:dob",
                                           {"dob": ADULT, "attest": "yes"})).response()
    off = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "compliance"})
    await off.response()
    ix = await fake_discord.slash(world.member, "strainprobe")
    assert "turned off" in content(await ix.response())
    assert probe.served == 0


async def test_database_down_during_a_gate_check_denies_and_the_audit_lands_later(
    start_bot, world, fake_discord
):
    running = await start_bot(registry=registry(StrainProbe()))
    await (await fake_discord.slash(world.member, "verify")).response()
    await (await fake_discord.submit_modal(world.member, "compliance:dob",
                                           {"dob": ADULT, "attest": "yes"})).response()
    warm = await fake_discord.slash(world.member, "strainprobe")  # caches the core's toggles
    assert content(await warm.response()) == "21+ strain menu"
    plugin = running.bot.plugins.plugins["compliance"]
    plugin.gate.clear()  # no cached answer to fall back on
    with database_down():
        ix = await fake_discord.slash(world.member, "strainprobe")
        assert "unavailable right now" in content(await ix.response())
        assert running.services.audit.pending >= 1
    await running.services.audit.flush()
    reasons = await AuditLog.filter(action="age_gate.denied").values_list("details", flat=True)
    assert [r["reason"] for r in reasons] == ["error"]
    allowed = await AuditLog.filter(action="age_gate.allowed").count()
    ok = await fake_discord.slash(world.member, "strainprobe")
    assert content(await ok.response()) == "21+ strain menu"
    assert await AuditLog.filter(action="age_gate.allowed").count() == allowed + 1


async def test_review_channel_the_bot_cannot_post_in_leaves_nobody_pending(start_bot, world,
                                                                           fake_discord):
    await start_bot(registry=registry(StrainProbe()))
    review = world.guild.add_text_channel("age-review")
    await _set_role(fake_discord, world, mode="staff_review", review_channel=review)
    fake_discord.fail_next(f"/channels/{review.id}/messages", 403, code=50013,
                           message="Missing Permissions")
    await (await fake_discord.slash(world.member, "verify")).response()
    sub = await fake_discord.submit_modal(world.member, "compliance:dob",
                                          {"dob": ADULT, "attest": "yes"})
    assert "tell a moderator" in content(await sub.response())
    row = await MemberRecord.get(guild_id=world.guild.id, user_id=world.member.id)
    assert row.status == "unverified"
    again = await fake_discord.slash(world.member, "verify")
    assert (await again.response())["type"] == 9
