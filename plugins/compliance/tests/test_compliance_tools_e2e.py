"""Audit tools, privacy rights, XP, levels, rank card and leaderboard through the fake Discord."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from bot.models import AuditLog
from plugins.compliance.models import MemberRecord
from plugins.compliance.tests.helpers import StrainProbe, button_ids, content, registry

ADULT = "1990-06-15"


async def _verify(fake, member):
    await (await fake.slash(member, "verify")).response()
    sub = await fake.submit_modal(member, "compliance:dob", {"dob": ADULT, "attest": "yes"})
    await sub.response()


async def test_audit_recent_is_paginated_filtered_and_admin_only(start_bot, world, fake_discord):
    await start_bot(registry=registry(StrainProbe()))
    await _verify(fake_discord, world.member)
    for _ in range(12):
        await (await fake_discord.slash(world.other, "strainprobe")).response()

    try:
        refused = await fake_discord.slash(world.member, "audit recent")
    except PermissionError:
        pass  # Discord hides it from members without Manage Server...
    else:  # ...and if a server admin un-hid it, the core still checks the permission.
        assert "Manage Server" in content(await refused.response()) and refused.ephemeral

    ix = await fake_discord.slash(world.admin, "audit recent")
    page = await ix.wait_original()
    assert ix.ephemeral
    text = fake_discord.text_of(page)
    assert "Page 1 of 2" in text and "age_gate.denied" in text
    nxt = await fake_discord.click(world.admin, page, next(c for c in button_ids(page)
                                                            if "pg.next" in c))
    assert "Page 2 of 2" in fake_discord.text_of((await nxt.response())["data"])

    mine = await fake_discord.slash(world.admin, "audit recent",
                                    {"member": world.member, "action": "verification"})
    only = fake_discord.text_of(await mine.wait_original())
    assert "verification.verified" in only and "age_gate" not in only
    assert "Page 1 of 1" in only


async def test_audit_export_is_a_csv_of_this_guild_only(start_bot, world, fake_discord):
    running = await start_bot(registry=registry(StrainProbe()))
    await _verify(fake_discord, world.member)
    await running.services.audit.record("elsewhere", guild_id=42, actor_id=1,
                                        target="=HYPERLINK(1)")
    await running.services.audit.record("here", guild_id=world.guild.id, target="=cmd|x")
    ix = await fake_discord.slash(world.admin, "audit export")
    message = await ix.wait_original()
    rows = list(csv.DictReader(io.StringIO(fake_discord.attachment_bytes(message).decode())))
    assert message["attachments"][0]["filename"] == "audit-log.csv"
    actions = [r["action"] for r in rows]
    assert "verification.verified" in actions and "elsewhere" not in actions
    # Spreadsheet formulas are neutralised.
    assert next(r for r in rows if r["action"] == "here")["target"] == "'=cmd|x"
    assert await AuditLog.filter(action="audit.exported").exists()


async def test_privacy_export_and_confirmed_delete(start_bot, world, fake_discord):
    running = await start_bot(registry=registry(StrainProbe()))
    await _verify(fake_discord, world.member)
    await running.services.xp.award(world.guild.id, world.member.id, 30, "test.reason")

    ix = await fake_discord.slash(world.member, "privacy export")
    exported = json.loads(fake_discord.attachment_bytes(await ix.wait_original()))
    assert ix.ephemeral
    mine = exported["plugins"]["compliance"]
    assert mine["date_of_birth"] == "never stored"
    assert mine["members"][0]["status"] == "verified"
    assert mine["members"][0]["pending_xp_not_yet_saved"] == 30
    assert ADULT not in json.dumps(exported)

    ask = await fake_discord.slash(world.member, "privacy delete")
    prompt = await ask.wait_original()
    cancel = await fake_discord.click(world.member, prompt, next(
        c for c in button_ids(prompt) if "cf.no" in c))
    await cancel.response()
    assert await MemberRecord.filter(user_id=world.member.id).exists()

    ask = await fake_discord.slash(world.member, "privacy delete")
    prompt = await ask.wait_original()
    yes = next(c for c in button_ids(prompt) if "cf.yes" in c)
    stranger = await fake_discord.click(world.other, prompt, yes)
    assert "isn't yours" in content(await stranger.response())
    done = await fake_discord.click(world.member, prompt, yes)
    await done.response()
    followup = await done.wait_followups(1)
    said = fake_discord.text_of(followup[0])
    # Their member record, plus the core's confirmation controls they owned.
    assert "Deleted 3 records about you." in said
    assert "Kept:" not in said, "nothing to keep: this member was never denied"
    assert not await MemberRecord.filter(user_id=world.member.id).exists()
    await running.bot.plugins.plugins["compliance"].xp.flush()
    assert not await MemberRecord.filter(user_id=world.member.id).exists(), "buffer dropped"
    entry = await AuditLog.get(action="privacy.deleted")
    assert entry.details["records_removed"]["compliance"] == 1
    # Deletion includes the verification: the gate denies at once.
    gated = await fake_discord.slash(world.member, "strainprobe")
    assert "/verify" in content(await gated.response())


async def test_chat_earns_xp_levels_up_announces_and_grants_reward_roles(start_bot, world,
                                                                        fake_discord):
    await start_bot(registry=registry(StrainProbe()))
    sprout = world.guild.add_role("Level 1")
    ix = await fake_discord.slash(world.admin, "levels settings",
                                  {"announce": True, "xp_min": 120, "xp_max": 120})
    assert "Saved." in content(await ix.response())
    reward = await fake_discord.slash(world.admin, "levels reward", {"level": 1, "role": sprout})
    assert "Level 1 now gives" in content(await reward.response())

    await fake_discord.send_message(world.member, world.channel, "hello growmies")
    await fake_discord.send_message(world.member, world.channel, "second message, cooldown")
    # The timer flush (every 2 s) announces without anyone asking.
    announced = await fake_discord.wait_for_message(
        world.channel, lambda m: "reached **level 1**" in m.get("content", ""), timeout=8)
    assert f"<@{world.member.id}>" in announced["content"]
    assert announced["allowed_mentions"]["parse"] == []
    await fake_discord.wait_for_request(
        lambda r: r.method == "PUT" and r.path.endswith(f"/roles/{sprout.id}"), since=0)
    row = await MemberRecord.get(guild_id=world.guild.id, user_id=world.member.id)
    assert (row.xp, row.level, row.message_count) == (120, 1, 1)

    rank = await fake_discord.slash(world.member, "rank")
    card = await rank.wait_original()
    assert fake_discord.attachment_bytes(card).startswith(b"\x89PNG")
    assert "level 1" in fake_discord.text_of(card) and "rank #1" in fake_discord.text_of(card)


async def test_bots_excluded_channels_and_a_disabled_plugin_give_no_xp(start_bot, world,
                                                                       fake_discord):
    running = await start_bot(registry=registry(StrainProbe()))
    engine = running.bot.plugins.plugins["compliance"].xp
    seen: list[int] = []
    arrived = asyncio.Condition()
    judge = engine.on_message

    async def watched(guild_id, user_id, *args, **kwargs):
        granted = await judge(guild_id, user_id, *args, **kwargs)
        async with arrived:
            seen.append(user_id)
            arrived.notify_all()
        return granted

    engine.on_message = watched
    quiet = world.guild.add_text_channel("bot-spam")
    ix = await fake_discord.slash(world.admin, "levels settings", {"exclude_channel": quiet})
    await ix.response()
    helper_bot = world.guild.add_member(fake_discord.create_user("other-bot", bot=True))
    await fake_discord.send_message(helper_bot, world.channel, "bots earn nothing")
    await fake_discord.send_message(world.member, quiet, "no xp here")
    off = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "compliance"})
    await off.response()
    await fake_discord.send_message(world.other, world.channel, "plugin is off")
    on = await fake_discord.slash(world.admin, "plugins enable", {"plugin": "compliance"})
    await on.response()
    await fake_discord.send_message(world.dj, world.channel, "this one counts")
    async with asyncio.timeout(5), arrived:
        await arrived.wait_for(lambda: world.dj.id in seen)
    await engine.flush()
    earned = await MemberRecord.filter(guild_id=world.guild.id, xp__gt=0).values_list(
        "user_id", flat=True)
    assert earned == [world.dj.id]
    assert world.other.id not in seen, "the core did not call the listener while off"


async def test_leaderboard_pages_and_voice_xp(start_bot, world, fake_discord):
    running = await start_bot(registry=registry(StrainProbe()))
    plugin = running.bot.plugins.plugins["compliance"]
    for n in range(1, 13):
        await plugin.xp.add(world.guild.id, 10_000 + n, n * 100, channel_id=world.channel.id)
    levelled = await plugin.xp.flush()
    assert len(levelled) == 12
    # Level-up announcements are off by default: nothing was posted.
    assert not [m for m in fake_discord.channel_messages(world.channel)
                if "reached" in m.get("content", "")]
    await fake_discord.voice_join(world.member, world.voice)
    await fake_discord.voice_join(world.other, world.voice)
    await fake_discord.voice_join(world.dj, world.voice, self_mute=True)
    assert await plugin.voice.tick() == 2
    lb = await fake_discord.slash(world.other, "leaderboard")
    page = await lb.wait_original()
    text = fake_discord.text_of(page)
    assert "Page 1 of 2" in text and text.index("<@10012>") < text.index("<@10011>")
    # Anyone may page a public leaderboard.
    nxt = await fake_discord.click(world.member, page, next(c for c in button_ids(page)
                                                             if "pg.next" in c))
    second = fake_discord.text_of((await nxt.response())["data"])
    assert "Page 2 of 2" in second
    assert f"<@{world.member.id}> — level 0 · 10 XP" in second
    assert f"<@{world.dj.id}>" not in second


async def test_replace_mode_swaps_reward_roles_and_rejoining_restores_them(start_bot, world,
                                                                          fake_discord):
    running = await start_bot(registry=registry(StrainProbe()))
    plugin = running.bot.plugins.plugins["compliance"]
    sprout, bloom = world.guild.add_role("Sprout"), world.guild.add_role("Bloom")
    await (await fake_discord.slash(world.admin, "levels settings",
                                    {"reward_mode": "replace"})).response()
    for level, role in ((1, sprout), (2, bloom)):
        await (await fake_discord.slash(world.admin, "levels reward",
                                        {"level": level, "role": role})).response()
    uid = world.member.id
    await plugin.xp.add(world.guild.id, uid, 100)
    await plugin.xp.flush()
    assert world.member.has_role(sprout) and not world.member.has_role(bloom)
    await plugin.xp.add(world.guild.id, uid, 155)
    await plugin.xp.flush()
    assert world.member.has_role(bloom) and not world.member.has_role(sprout)

    user = world.member.user
    world.guild.remove_member(world.member)
    mark = len(fake_discord.requests)
    back = world.guild.add_member(user)
    await fake_discord.wait_for_request(
        lambda r: r.method == "PUT" and r.path.endswith(f"/roles/{bloom.id}"), since=mark)
    assert back.has_role(bloom) and not back.has_role(sprout)
