"""Typed sessions: a meditation survives a bot restart and a Lavalink node restart and ends
(fade-out, XP) exactly once; a session's effects come back with it; members page through their
own meditation history."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from plugins.music.meditation import MeditationRunner
from plugins.music.models import MeditationSession, MusicSession
from plugins.music.tests.e2e import content, custom_ids, music, start_music
from plugins.music.tests.test_music_meditation import XpRecorder


def track_patches(fake_lavalink, since: float) -> list:
    return [r for r in fake_lavalink.requests
            if r.method == "PATCH" and r.time > since and (r.json or {}).get("track")]


def fade_volumes(fake_lavalink, since: float) -> list[int]:
    return [r.json["volume"] for r in fake_lavalink.requests
            if r.method == "PATCH" and r.time > since and set(r.json or {}) == {"volume"}]


def ended_messages(fake_discord, world) -> list[dict]:
    return [m for m in fake_discord.channel_messages(world.channel.id)
            if "session has ended" in (m.get("content") or "")]


async def start_meditating(fake_discord, world, running, minutes: int) -> MeditationSession:
    for member in (world.member, world.other):
        await fake_discord.voice_join(member, world.voice)
    ix = await fake_discord.slash(world.member, "meditate start",
                                  {"minutes": minutes, "query": "calm"})
    assert "Meditation started" in content(await ix.response())
    row = await MeditationSession.get(guild_id=world.guild.id)
    assert row.ended_at is None and set(row.participants) == {world.member.id, world.other.id}
    assert (await MusicSession.get(guild_id=world.guild.id)).kind == "meditation"
    return row


async def crash(running) -> None:
    """A SIGKILL: in-process the dead bot's objects linger, so silence them as death would."""
    plugin = music(running)
    await running.kill()
    plugin.playback.closing = True
    for session in list(plugin.meditation.sessions.values()):
        if session.task is not None:
            session.task.cancel()


@pytest.fixture(autouse=True)
def short_fades(monkeypatch):
    # A restarted bot builds its runner before a test can reach it: set the class defaults.
    monkeypatch.setattr(MeditationRunner, "fade_fraction", 0.5)


async def test_a_meditation_resumes_after_a_bot_restart_and_pays_once(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Calm Waves", author="Ocean", length_ms=3_600_000)
    running = await start_music(start_bot, fake_lavalink)
    row = await start_meditating(fake_discord, world, running, minutes=10)
    # Most of the session passes while the bot is down: 4 s are left as it dies. (Written
    # before the crash: the running timer keeps its own clock, and the dead bot's database
    # connection is closed.)
    ends_at = datetime.now(UTC) + timedelta(seconds=4)
    await MeditationSession.filter(id=row.id).update(ends_at=ends_at)
    await crash(running)
    restarted = time.monotonic()

    running = await start_music(start_bot, fake_lavalink)
    xp = XpRecorder()
    running.services.xp.provide("music", xp)
    plugin = music(running)
    # The music comes back (the meditation track, where it was) and the timer resumes.
    await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and r.time > restarted and (r.json or {}).get("track"))
    await plugin.playback.wait_for(lambda: world.guild.id in plugin.meditation.sessions)
    session = plugin.meditation.sessions[world.guild.id]
    await session.finished.wait()

    ended = await MeditationSession.get(id=row.id)
    assert ended.ended_at is not None and ended.ended_at >= ends_at - timedelta(seconds=0.2)
    assert ended.completed and ended.xp_granted == 20 and ended.stayed == 2
    assert ended.participants == []  # members' ids are kept only while it runs
    assert sorted(xp.awards) == sorted([(world.guild.id, world.member.id, 20, "music.meditation"),
                                        (world.guild.id, world.other.id, 20, "music.meditation")])
    volumes = fade_volumes(fake_lavalink, restarted)
    assert volumes == sorted(volumes, reverse=True) and volumes[-1] == 0
    assert await MusicSession.all().count() == 0
    # A second path reaching the end (a late timer, another process) changes nothing.
    assert await plugin.meditation.finish(session) is False
    assert len(xp.awards) == 2 and len(ended_messages(fake_discord, world)) == 1


async def test_a_meditation_whose_end_passed_while_down_ends_at_once_without_rejoining(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Calm Waves", author="Ocean", length_ms=3_600_000)
    running = await start_music(start_bot, fake_lavalink)
    row = await start_meditating(fake_discord, world, running, minutes=5)
    await MeditationSession.filter(id=row.id).update(  # its end passes while the bot is down
        ends_at=datetime.now(UTC) - timedelta(minutes=1))
    await crash(running)
    await fake_discord.voice_leave(world.other)  # left while the bot was down: no XP
    restarted = time.monotonic()

    running = await start_music(start_bot, fake_lavalink)
    message = await fake_discord.wait_for_message(
        world.channel.id, lambda m: "session has ended" in m.get("content", ""), since=0)
    assert "1 member(s) stayed" in message["content"]
    ended = await MeditationSession.get(id=row.id)
    assert ended.completed and ended.stayed == 1 and ended.xp_granted == 10
    assert await MusicSession.all().count() == 0
    assert track_patches(fake_lavalink, restarted) == []  # it did not rejoin to play
    # Another restore pass (a guild arriving again) does not end it a second time.
    assert await music(running).playback.recovery.restore_all() == 0
    assert await music(running).meditation.sweep() == 0
    assert len(ended_messages(fake_discord, world)) == 1


async def test_a_meditation_whose_node_dies_midway_ends_once_with_xp_once(
    fake_lavalink, start_bot, world, fake_discord, monkeypatch
):
    monkeypatch.setattr(MeditationRunner, "minute", 1.0)  # a "minute" of one second
    fake_lavalink.add_track("Calm Waves", author="Ocean", length_ms=3_600_000)
    running = await start_music(start_bot, fake_lavalink)
    xp = XpRecorder()
    running.services.xp.provide("music", xp)
    plugin = music(running)
    for node in plugin.lavalink.nodes.values():
        node._websocket.backoff.calculate = lambda: 0.05  # type: ignore[union-attr]  # connected nodes have a websocket
    row = await start_meditating(fake_discord, world, running, minutes=4)
    session = plugin.meditation.sessions[world.guild.id]

    await fake_lavalink.kill()
    restarted = time.monotonic()
    await fake_lavalink.restart()  # a new process: the player is gone and is rebuilt
    await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and r.time > restarted and (r.json or {}).get("track"),
        timeout=10)
    assert not session.finished.is_set()  # the node came back before the end
    await session.finished.wait()

    assert xp.awards == [(world.guild.id, world.member.id, 8, "music.meditation"),
                         (world.guild.id, world.other.id, 8, "music.meditation")]
    ended = await MeditationSession.get(id=row.id)
    assert ended.completed and ended.xp_granted == 8 and ended.ended_at is not None
    # The fade-out reached the node that came back, down to silence, then the bot left.
    assert fade_volumes(fake_lavalink, restarted)[-1] == 0
    assert len(ended_messages(fake_discord, world)) == 1
    assert await MusicSession.all().count() == 0


async def test_effects_come_back_with_the_session_after_a_restart(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Bassy", length_ms=600_000)
    running = await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    assert "Bassy" in content(await (await fake_discord.slash(
        world.member, "play", {"query": "Bassy"})).response())
    filters = {"timescale": {"speed": 1.2, "pitch": 1.2, "rate": 1.0}}
    await MusicSession.filter(guild_id=world.guild.id).update(
        effects={"preset": "nightcore", "filters": filters})
    await crash(running)
    restarted = time.monotonic()
    await start_music(start_bot, fake_lavalink)
    replay = await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and r.time > restarted and (r.json or {}).get("track"))
    assert replay.json["filters"]["timescale"] == filters["timescale"]


async def test_meditation_history_pages_through_a_members_own_sessions(
    fake_lavalink, start_bot, world, fake_discord
):
    running = await start_music(start_bot, fake_lavalink)
    start = datetime(2026, 11, 1, 8, tzinfo=UTC)
    for day in range(12):
        began = start + timedelta(days=day)
        await MeditationSession.create(
            guild_id=world.guild.id, channel_id=world.voice.id, started_by=world.member.id,
            minutes=day + 1, started_at=began, ends_at=began + timedelta(minutes=day + 1),
            ended_at=began + timedelta(minutes=day + 1), completed=True,
            xp_granted=min(2 * (day + 1), 60), stayed=1)
    await MeditationSession.create(  # someone else's: never shown
        guild_id=world.guild.id, channel_id=world.voice.id, started_by=world.other.id,
        minutes=99, started_at=start, ends_at=start, ended_at=start, completed=True)

    ix = await fake_discord.slash(world.member, "meditate history")
    message = await ix.wait_original()
    text = fake_discord.text_of(message)
    assert ix.ephemeral and "12 session(s)" in text
    assert text.count(" min · ") == 10 and "12 min · completed, 1 stayed, +24 XP each" in text
    assert "99 min" not in text
    nxt = next(c for c in custom_ids(message) if ":pg.next:" in c)
    page2 = await fake_discord.click(world.member, message, nxt)
    data = (await page2.response())["data"]
    assert fake_discord.text_of(data).count(" min · ") == 2
    assert "1 min · completed" in fake_discord.text_of(data)

    theirs = await fake_discord.slash(world.other, "meditate history")
    assert "99 min" in fake_discord.text_of(await theirs.wait_original())

    # /privacy export lists them; deletion removes the member's own and nobody else's.
    plugin = music(running)
    exported = await plugin.export_user_data(world.member.id)
    assert len(exported["meditation_sessions"]) == 12
    assert await plugin.delete_user_data(world.member.id) == 12
    assert await MeditationSession.filter(started_by=world.other.id).count() == 1


async def test_a_stopped_meditation_stays_ended_after_a_restart(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Calm Waves", author="Ocean", length_ms=3_600_000)
    running = await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "meditate start",
                                  {"minutes": 10, "query": "calm"})
    assert "Meditation started" in content(await ix.response())
    stop = await fake_discord.slash(world.member, "stop")  # the only listener may stop
    await stop.response()
    assert await MusicSession.all().count() == 0
    row = await MeditationSession.get(guild_id=world.guild.id)
    assert row.ended_at is not None and not row.completed and row.xp_granted == 0
    await crash(running)

    running = await start_music(start_bot, fake_lavalink)
    plugin = music(running)
    # Stopped is over: nothing to rejoin, nothing to sweep, a new session may start.
    await plugin.playback.recovery.restore_all()
    assert await plugin.meditation.sweep() == 0
    again = await fake_discord.slash(world.member, "meditate start",
                                     {"minutes": 5, "query": "calm"})
    assert "Meditation started" in content(await again.response())
    assert (await MeditationSession.get(id=row.id)).completed is False
    assert ended_messages(fake_discord, world) == []
