"""A meditation cut short: /stop, a DJ's stop while others listen, or the bot leaving an idle
channel end the session at once as not completed, with no XP, exactly once; its timer does not
run on to mark it completed later."""

from __future__ import annotations

from bot.models import AuditLog
from plugins.music.models import MeditationSession, MusicSession
from plugins.music.tests.e2e import content, music, start_music
from plugins.music.tests.test_music_meditation import XpRecorder


async def meditating(fake_lavalink, start_bot, world, fake_discord, *, length_ms=3_600_000,
                     listeners=("member",), minute=0.5, idle_minutes=None):
    fake_lavalink.add_track("Calm Waves", author="Ocean", length_ms=length_ms)
    running = await start_music(start_bot, fake_lavalink)
    xp = XpRecorder()
    running.services.xp.provide("music", xp)
    plugin = music(running)
    # A "minute" of half a second: the end is near (if nothing stops it first).
    plugin.meditation.minute = minute
    if idle_minutes is not None:
        plugin.playback.minute = 0.2
        await (await fake_discord.slash(world.admin, "music settings",
                                        {"idle_minutes": idle_minutes})).response()
    for who in listeners:
        await fake_discord.voice_join(getattr(world, who), world.voice)
    ix = await fake_discord.slash(world.member, "meditate start", {"minutes": 2, "query": "calm"})
    assert "Meditation started: 2 min" in content(await ix.response())
    return running, plugin, xp, plugin.meditation.sessions[world.guild.id]


async def assert_ended_early_once(plugin, session, xp, world, fake_discord) -> None:
    await session.finished.wait()  # the timer was stopped, not left to run to the end
    row = await MeditationSession.get(guild_id=world.guild.id)
    assert row.ended_at is not None and row.ended_at < row.ends_at
    assert (row.completed, row.xp_granted, row.stayed, row.participants) == (False, 0, 0, [])
    # Whatever else reaches the end later finds it ended: no second ending, no XP.
    assert await plugin.meditation.finish(session) is False
    assert await plugin.meditation.abandon(world.guild.id) is False
    assert xp.awards == []
    assert await AuditLog.filter(action="music.meditation_stopped").count() == 1
    assert not await AuditLog.filter(action="music.meditation_completed").exists()
    assert not [m for m in fake_discord.channel_messages(world.channel.id)
                if "session has ended" in (m.get("content") or "")]
    assert world.guild.id not in plugin.meditation.sessions


async def test_stop_during_a_meditation_ends_it_not_completed_without_xp(
    fake_lavalink, start_bot, world, fake_discord
):
    _running, plugin, xp, session = await meditating(fake_lavalink, start_bot, world,
                                                     fake_discord)
    stop = await fake_discord.slash(world.member, "stop")  # the only listener may stop
    assert content(await stop.response()).startswith("Stopped")
    assert await MusicSession.all().count() == 0
    await assert_ended_early_once(plugin, session, xp, world, fake_discord)
    # The server is free for a new session at once.
    again = await fake_discord.slash(world.member, "meditate start",
                                     {"minutes": 1, "query": "calm"})
    assert "Meditation started" in content(await again.response())


async def test_a_dj_stopping_while_others_listen_ends_the_meditation_early(
    fake_lavalink, start_bot, world, fake_discord
):
    _running, plugin, xp, session = await meditating(
        fake_lavalink, start_bot, world, fake_discord, listeners=("member", "other", "admin"))
    stop = await fake_discord.slash(world.admin, "stop")  # Manage Server: a DJ
    assert content(await stop.response()).startswith("Stopped")
    await assert_ended_early_once(plugin, session, xp, world, fake_discord)


async def test_the_bot_leaving_an_idle_channel_ends_the_meditation_early(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.time_scale = 50.0
    # The only track ends long before the timer would (a real minute a "minute").
    _running, plugin, xp, session = await meditating(
        fake_lavalink, start_bot, world, fake_discord, length_ms=5_000, minute=60.0,
        idle_minutes=1)
    await fake_discord.wait_for_message(
        world.channel.id, lambda m: "Left the voice channel" in (m.get("content") or ""),
        since=0, timeout=15)
    await assert_ended_early_once(plugin, session, xp, world, fake_discord)


async def test_an_admin_disconnecting_the_bot_ends_the_meditation_early(
    fake_lavalink, start_bot, world, fake_discord
):
    _running, plugin, xp, session = await meditating(fake_lavalink, start_bot, world,
                                                     fake_discord)
    # Discord's "Disconnect" on the bot: only a voice state update says so.
    await fake_discord.voice_leave(fake_discord.bot_member(world.guild))
    note = await fake_discord.wait_for_message(
        world.channel.id, lambda m: "disconnected from the voice channel" in (
            m.get("content") or ""), since=0)
    assert "the queue was cleared" in note["content"]
    assert world.guild.id not in plugin.playback.players
    assert await MusicSession.all().count() == 0
    await assert_ended_early_once(plugin, session, xp, world, fake_discord)
