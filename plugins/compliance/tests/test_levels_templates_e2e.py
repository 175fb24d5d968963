"""Level-up message templates and destinations, through the fake Discord."""

from __future__ import annotations

import pytest

from bot.models import AuditLog
from plugins.compliance.levelup_messages import MAX_RENDERED, check_template, render
from plugins.compliance.models import GuildSettings
from plugins.compliance.tests.helpers import content, registry

TEMPLATE = "{member} grew to level {level} — a {tier}! Next level at {next_level_xp} XP."


async def _level_up(running, world, member, xp=300):
    plugin = running.bot.plugins.plugins["compliance"]
    await plugin.xp.add(world.guild.id, member.id, xp, channel_id=world.channel.id)
    return await plugin.xp.flush()


async def test_a_template_in_a_fixed_channel_pings_only_the_member(start_bot, world,
                                                                   fake_discord):
    running = await start_bot(registry=registry())
    levels = world.guild.add_text_channel("level-ups")
    ix = await fake_discord.slash(world.admin, "levels levelup",
                                  {"destination": "channel", "channel": levels,
                                   "template": TEMPLATE})
    shown = content(await ix.response())
    assert "Saved." in shown and f"level-up messages: in <#{levels.id}>" in shown
    assert await AuditLog.filter(action="levels.levelup_changed").exists()

    await _level_up(running, world, world.member)
    posted = await fake_discord.wait_for_message(levels, since=0)
    assert posted["content"] == (f"<@{world.member.id}> grew to level 2 — a Seedling! "
                                 "Next level at 475 XP.")
    mentions = posted["allowed_mentions"]
    assert mentions["parse"] == [] and [int(u) for u in mentions["users"]] == [world.member.id]
    assert not [m for m in fake_discord.channel_messages(world.channel)
                if "grew" in m.get("content", "")]


async def test_level_up_by_dm_or_where_they_chatted_or_off(start_bot, world, fake_discord):
    running = await start_bot(registry=registry())
    ix = await fake_discord.slash(world.admin, "levels levelup", {"destination": "dm"})
    assert "level-up messages: by DM" in content(await ix.response())
    await _level_up(running, world, world.member)
    dm = await fake_discord.wait_for_message(fake_discord.dm_channel(world.member.user),
                                             since=0)
    assert "reached **level 2**" in dm["content"]

    ix = await fake_discord.slash(world.admin, "levels levelup",
                                  {"destination": "same", "template": "gg {member}"})
    await ix.response()
    await _level_up(running, world, world.other)
    said = await fake_discord.wait_for_message(world.channel, since=0)
    assert said["content"] == f"gg <@{world.other.id}>"

    ix = await fake_discord.slash(world.admin, "levels levelup", {"destination": "off"})
    assert "level-up messages: off" in content(await ix.response())
    before = len(fake_discord.channel_messages(world.channel))
    assert await _level_up(running, world, world.dj), "levelled up, silently"
    assert len(fake_discord.channel_messages(world.channel)) == before


@pytest.mark.parametrize(("template", "why"), [
    ("Congrats {member} @everyone", "`@everyone`"),
    ("{member} is up! @here", "`@here`"),
    ("{member} joins <@&123456789012345678>", "`<@&123456789012345678>`"),
    ("hey <@123456789012345678>", "Use {member}"),
    ("x" * 5000, "5,000 characters"),
    ("{member} reached {lvl}", "Unknown placeholder `{lvl}`"),
    ("{member.id} reached {level}", "Unknown placeholder `{member.id}`"),
    ("{level!r}", "Unknown placeholder"),
    ("{level} {", "unmatched"),
    ("y" * 480 + "{member}", "longest names and numbers"),
])
async def test_bad_templates_are_refused_when_saved(start_bot, world, fake_discord, template,
                                                    why):
    await start_bot(registry=registry())
    ix = await fake_discord.slash(world.admin, "levels levelup", {"template": template})
    said = content(await ix.response())
    assert why in said and ix.ephemeral
    settings = await GuildSettings.get_or_none(guild_id=world.guild.id)
    assert settings is None or settings.levelup_template is None, "nothing saved"


def test_worst_case_rendering_fits_and_a_broken_stored_template_falls_back():
    longest = check_template("z" * (MAX_RENDERED - 23) + "{member}")
    assert len(render(longest, 2**63 - 1, 1000, "Connoisseur")) <= MAX_RENDERED
    assert "reached **level 3**" in render("{nope}", 1, 3, "Seedling")
