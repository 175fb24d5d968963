"""Admin XP tools, the server-wide reset, multipliers and timed boosts, through the fake
Discord: what the admin sees, the rows, the audit entries and the role calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.api import UserError
from bot.models import AuditLog, AuditText
from plugins.compliance.models import GuildSettings, MemberRecord
from plugins.compliance.tests.helpers import button_ids, content, registry
from plugins.compliance.xp_admin import MAX_TOTAL_XP, new_total


async def _xp(world, member) -> tuple[int, int]:
    row = await MemberRecord.get_or_none(guild_id=world.guild.id, user_id=member.id)
    return (int(row.xp), int(row.level)) if row else (0, 0)


async def test_admin_adds_removes_sets_and_resets_xp_with_rewards_following(
        start_bot, world, fake_discord):
    running = await start_bot(registry=registry())
    level2 = world.guild.add_role("Level 2")
    reward = await fake_discord.slash(world.admin, "levels reward", {"level": 2, "role": level2})
    await reward.response()

    ix = await fake_discord.slash(world.admin, "levels xp add",
                                  {"member": world.member, "amount": 300,
                                   "reason": "won the grow contest"})
    said = content(await ix.response())
    assert ix.ephemeral and "0 → **300 XP** (level 0 → 2)" in said
    assert await _xp(world, world.member) == (300, 2)
    await fake_discord.wait_for_request(
        lambda r: r.method == "PUT" and r.path.endswith(
            f"/members/{world.member.id}/roles/{level2.id}"), since=0)
    entry = await AuditLog.get(action="levels.xp_changed")
    assert entry.target == str(world.member.id) and entry.actor_id == world.admin.id
    assert entry.details["op"] == "add" and entry.details["after"] == 300
    assert (await AuditText.get(entry_id=entry.id)).text == "won the grow contest"

    # Removing more than they have stops at 0, says so, and takes the reward back.
    ix = await fake_discord.slash(world.admin, "levels xp remove",
                                  {"member": world.member, "amount": 5000, "reason": "spam"})
    said = content(await ix.response())
    assert "They had only 300 XP, so they now have 0." in said
    assert await _xp(world, world.member) == (0, 0)
    await fake_discord.wait_for_request(
        lambda r: r.method == "DELETE" and r.path.endswith(
            f"/members/{world.member.id}/roles/{level2.id}"), since=0)

    # "Set" means exactly that, even with chat XP still buffered.
    plugin = running.bot.plugins.plugins["compliance"]
    await plugin.xp.add(world.guild.id, world.member.id, 77)
    ix = await fake_discord.slash(world.admin, "levels xp set",
                                  {"member": world.member, "amount": 255, "reason": "restore"})
    assert "**255 XP**" in content(await ix.response())
    await plugin.xp.flush()
    assert await _xp(world, world.member) == (255, 2)

    ix = await fake_discord.slash(world.admin, "levels xp reset",
                                  {"member": world.member, "reason": "fresh start"})
    assert "**0 XP**" in content(await ix.response())
    assert await _xp(world, world.member) == (0, 0)
    ops = [e.details["op"] for e in await AuditLog.filter(action="levels.xp_changed")
           .order_by("id")]
    assert ops == ["add", "remove", "set", "reset"]


async def test_overflowing_or_negative_amounts_are_bounded(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    ix = await fake_discord.slash(world.admin, "levels xp set",
                                  {"member": world.member, "amount": MAX_TOTAL_XP - 10,
                                   "reason": "import fix"})
    await ix.response()
    over = await fake_discord.slash(world.admin, "levels xp add",
                                    {"member": world.member, "amount": 11, "reason": "oops"})
    said = content(await over.response())
    assert "would pass the maximum of 1,000,000,000 XP. Nothing was changed." in said
    assert (await _xp(world, world.member))[0] == MAX_TOTAL_XP - 10
    # Discord's client refuses what the command declares out of range...
    with pytest.raises(ValueError):
        await fake_discord.slash(world.admin, "levels xp add",
                                 {"member": world.member, "amount": -5, "reason": "x"})
    with pytest.raises(ValueError):
        await fake_discord.slash(world.admin, "levels xp set",
                                 {"member": world.member, "amount": MAX_TOTAL_XP + 1,
                                  "reason": "x"})
    # ...and the service refuses it anyway (a client is not trusted).
    with pytest.raises(UserError, match="between 0 and 1,000,000,000"):
        new_total("add", 10, -5)
    with pytest.raises(UserError):
        new_total("set", 0, 10**12)


async def test_members_cannot_change_xp(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    ix = await fake_discord.slash(world.member, "levels xp add",
                                  {"member": world.member, "amount": 1000, "reason": "me"})
    assert "Manage Server" in content(await ix.response())
    assert await _xp(world, world.member) == (0, 0)


async def test_server_wide_reset_asks_first_and_takes_rewards_back(start_bot, world,
                                                                   fake_discord):
    running = await start_bot(registry=registry())
    level1 = world.guild.add_role("Level 1")
    await (await fake_discord.slash(world.admin, "levels reward",
                                    {"level": 1, "role": level1})).response()
    plugin = running.bot.plugins.plugins["compliance"]
    for who in (world.member, world.other):
        await plugin.xp.add(world.guild.id, who.id, 150)
    await plugin.xp.flush()

    ask = await fake_discord.slash(world.admin, "levels reset-all", {"reason": "new season"})
    prompt = await ask.wait_original()
    assert "**2** members" in fake_discord.text_of(prompt)
    cancel = await fake_discord.click(world.admin, prompt, next(
        c for c in button_ids(prompt) if "cf.no" in c))
    await cancel.response()
    assert await _xp(world, world.member) == (150, 1)

    ask = await fake_discord.slash(world.admin, "levels reset-all", {"reason": "new season"})
    prompt = await ask.wait_original()
    yes = await fake_discord.click(world.admin, prompt, next(
        c for c in button_ids(prompt) if "cf.yes" in c))
    await yes.response()
    said = fake_discord.text_of((await yes.wait_followups(1))[0])
    assert "Reset the XP of **2** members" in said
    assert await _xp(world, world.member) == (0, 0) and await _xp(world, world.other) == (0, 0)
    for who in (world.member, world.other):
        await fake_discord.wait_for_request(
            lambda r, who=who: r.method == "DELETE" and r.path.endswith(
                f"/members/{who.id}/roles/{level1.id}"), since=0)
    entry = await AuditLog.get(action="levels.xp_reset_all")
    assert entry.details["members"] == 2
    assert (await AuditText.get(entry_id=entry.id)).text == "new season"


async def test_role_and_channel_multipliers_and_a_timed_boost(start_bot, world, fake_discord):
    running = await start_bot(registry=registry())
    engine = running.bot.plugins.plugins["compliance"].xp
    seen: dict[int, int] = {}
    arrived = asyncio.Condition()
    judge = engine.on_message

    async def watched(guild_id, user_id, *args, **kwargs):
        granted = await judge(guild_id, user_id, *args, **kwargs)
        async with arrived:
            seen[user_id] = granted
            arrived.notify_all()
        return granted

    engine.on_message = watched
    quiet = world.guild.add_text_channel("memes")
    await (await fake_discord.slash(world.admin, "levels settings",
                                    {"xp_min": 10, "xp_max": 10})).response()
    booster = world.guild.add_role("Booster")
    world.guild.add_member_role(world.dj, booster)
    for options in ({"role": world.dj_role, "value": 1.5}, {"role": booster, "value": 3},
                    {"channel": quiet, "value": 0}):
        ix = await fake_discord.slash(world.admin, "levels multiplier", options)
        assert "Saved." in content(await ix.response())
    ix = await fake_discord.slash(world.admin, "levels boost", {"value": 2, "until": "2099-01-01"})
    assert "A boost may run at most 90 days." in content(await ix.response())
    until = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    ix = await fake_discord.slash(world.admin, "levels boost", {"value": 2, "until": until})
    shown = content(await ix.response())
    assert f"<@&{booster.id}> ×3" in shown and f"<#{quiet.id}> ×0" in shown
    assert "boost: ×2 until" in shown and "highest role × channel × boost" in shown

    async def earned(member, channel) -> int:
        seen.pop(member.id, None)
        await fake_discord.send_message(member, channel, "hi")
        async with asyncio.timeout(5), arrived:
            await arrived.wait_for(lambda: member.id in seen)
        return seen[member.id]

    # The highest role wins (×3, not ×1.5), times the boost: 10 × 3 × 2.
    assert await earned(world.dj, world.channel) == 60
    assert await earned(world.member, quiet) == 0, "×0 channel excludes"
    assert await earned(world.member, world.channel) == 20, "boost only"
    # Once the boost's end date passes, it no longer counts.
    engine.clock = lambda: datetime.now(UTC) + timedelta(days=3)
    assert await earned(world.other, world.channel) == 10
    settings = await GuildSettings.get(guild_id=world.guild.id)
    assert settings.xp_role_multipliers == {str(world.dj_role.id): 1.5, str(booster.id): 3.0}
    assert await AuditLog.filter(action="levels.multiplier_changed").count() == 3
    assert await AuditLog.filter(action="levels.boost_changed").count() == 1


async def test_voice_xp_follows_the_channel_multiplier(start_bot, world, fake_discord):
    running = await start_bot(registry=registry())
    plugin = running.bot.plugins.plugins["compliance"]
    await fake_discord.voice_join(world.member, world.voice)
    await fake_discord.voice_join(world.other, world.voice)
    ix = await fake_discord.slash(world.admin, "levels multiplier",
                                  {"channel": world.voice, "value": 3})
    await ix.response()
    assert await plugin.voice.tick() == 2
    assert plugin.xp.pending_for(world.guild.id, world.member.id) == 30
    ix = await fake_discord.slash(world.admin, "levels multiplier",
                                  {"channel": world.voice, "value": 0})
    await ix.response()
    assert await plugin.voice.tick() == 0, "a ×0 channel (e.g. AFK) earns nothing"


def test_rows_from_before_multipliers_read_as_none():
    from plugins.compliance.multipliers import Multipliers

    old = GuildSettings(guild_id=1, xp_role_multipliers=None, xp_channel_multipliers=None)
    rules = Multipliers.of(old)
    assert rules.trivial and rules.factor([1], 2, None, datetime.now(UTC)) == 1.0
