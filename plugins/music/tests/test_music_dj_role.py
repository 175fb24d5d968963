"""An admin setting the DJ role hears at once when the role can't work the way they likely
mean (@everyone, an integration's role, a role above the bot's), with how to fix it. The bot
never gives the DJ role, so the setting is saved and only warned about."""

from __future__ import annotations

from plugins.music.models import MusicGuildSettings
from plugins.music.tests.e2e import content, start_music


async def _set_dj(fake_discord, world, role) -> str:
    ix = await fake_discord.slash(world.admin, "music settings", {"dj_role": role})
    text = content(await ix.response())
    assert ix.ephemeral
    settings = await MusicGuildSettings.get(guild_id=world.guild.id)
    assert settings.dj_role_id == role.id  # warned, not refused
    return text


async def test_an_ordinary_dj_role_below_the_bot_is_saved_without_a_warning(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    text = await _set_dj(fake_discord, world, world.guild.add_role("DJ"))
    assert "⚠️" not in text


async def test_a_dj_role_above_the_bots_role_is_saved_with_a_warning_and_the_fix(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    bot_role = world.guild.bot_role
    high = world.guild.add_role("DJ", position=bot_role.position + 1)
    text = await _set_dj(fake_discord, world, high)
    assert f"⚠️ DJ role saved, but: <@&{high.id}> sits at or above my highest role" in text
    assert "I never give it" in text
    assert f"drag <@&{bot_role.id}> above <@&{high.id}>" in text


async def test_everyone_or_a_managed_role_as_dj_role_is_warned_about(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    text = await _set_dj(fake_discord, world, world.guild.everyone)
    assert "@everyone as the DJ role makes every member a DJ" in text
    managed = world.guild.add_role("Server Booster", managed=True)
    text = await _set_dj(fake_discord, world, managed)
    assert f"<@&{managed.id}> is managed by an integration" in text
    assert "create an ordinary role for DJs" in text
