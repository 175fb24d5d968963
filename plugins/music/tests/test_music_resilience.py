"""Surviving a SIGKILL of the bot and the death of a Lavalink node, end to end."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from growmies_testkit.fake_lavalink import FakeLavalink
from plugins.music.models import MusicQueueEntry, MusicSession
from plugins.music.tests.e2e import content, music, start_music


@pytest.fixture
async def second_lavalink() -> AsyncIterator[FakeLavalink]:
    node = FakeLavalink(player_update_interval=0.2)
    await node.start()
    yield node
    await node.close()


async def queue_three(fake_lavalink, fake_discord, world) -> None:
    for title in ("Long One", "Long Two", "Long Three"):
        fake_lavalink.add_track(title, length_ms=600_000)
    await fake_discord.voice_join(world.member, world.voice)
    for title in ("Long One", "Long Two", "Long Three"):
        ix = await fake_discord.slash(world.member, "play", {"query": title})
        assert "Long" in content(await ix.response())


async def test_after_sigkill_the_session_rejoins_and_seeks(
    fake_lavalink, start_bot, world, fake_discord
):
    running = await start_music(start_bot, fake_lavalink)
    await queue_three(fake_lavalink, fake_discord, world)
    # Let a few player updates save the position, then jump ahead so it is well past zero.
    seek = await fake_discord.slash(world.member, "seek", {"time": "2:00"})
    await seek.response()
    playback = music(running).playback
    await playback.wait_for(lambda: playback.saved_position.get(world.guild.id, 0) >= 120_000)
    saved_before = (await MusicSession.get(guild_id=world.guild.id)).position_ms
    await running.kill()
    # In-process the killed bot's objects linger (a real SIGKILL ends them): keep them quiet.
    music(running).playback.closing = True
    killed_at = time.monotonic()
    old_player = fake_lavalink.players[world.guild.id]

    started = time.monotonic()
    await start_music(start_bot, fake_lavalink)
    replay = await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and r.time > killed_at and (r.json or {}).get("track"),
        timeout=10,
    )
    elapsed = time.monotonic() - started
    print(f"restart: playing again {elapsed:.2f} s after start, position off by "
          f"{abs(replay.json['position'] - old_player.position_ms) / 1000:.2f} s")
    assert elapsed < 10, elapsed
    assert replay.json["track"]["encoded"] == fake_lavalink.catalogue[0]["encoded"]
    # Where the old, still-running player was when the new one started, give or take 6 s.
    assert abs(replay.json["position"] - old_player.position_ms) <= 6_000
    assert replay.json["position"] >= saved_before >= 120_000
    assert [e.title for e in await MusicQueueEntry.all().order_by("position")] == [
        "Long Two",
        "Long Three",
    ]
    # The bot is back in the voice channel, self-deafened.
    state = fake_discord.voice_states[(world.guild.id, fake_discord.bot_user_id)]
    assert int(state["channel_id"]) == world.voice.id and state["self_deaf"]


async def test_when_a_node_dies_players_move_to_the_other(
    fake_lavalink, second_lavalink, start_bot, world, fake_discord
):
    running = await start_music(start_bot, fake_lavalink, second_lavalink)
    plugin = music(running)
    for fake in (fake_lavalink, second_lavalink):
        for title in ("Long One", "Long Two", "Long Three"):
            fake.add_track(title, length_ms=600_000)
    await fake_discord.voice_join(world.member, world.voice)
    for title in ("Long One", "Long Two"):
        await (await fake_discord.slash(world.member, "play", {"query": title})).response()
    player = plugin.playback.players[world.guild.id]
    serving = (
        fake_lavalink if player.node.uri == fake_lavalink.uri.rstrip("/") else (second_lavalink)
    )
    other = second_lavalink if serving is fake_lavalink else fake_lavalink
    await serving.wait_for_message(
        lambda m: m.get("op") == "playerUpdate" and m["state"]["position"] > 0
    )
    position = serving.players[world.guild.id].position_ms

    died = time.monotonic()
    await serving.kill()
    moved = await other.wait_for_request(
        lambda r: r.method == "PATCH" and (r.json or {}).get("track"), timeout=5
    )
    print(f"failover: playing on the other node {moved.time - died:.2f} s after the kill, "
          f"position off by {abs(moved.json['position'] - position) / 1000:.2f} s")
    assert moved.time - died < 5
    assert abs(moved.json["position"] - position) <= 6_000
    await plugin.playback.wait_for(lambda: bool(plugin.playback.failovers))
    assert player.node.uri == other.uri.rstrip("/")
    assert [e.title for e in await MusicQueueEntry.all()] == ["Long Two"]
    # It keeps playing on the survivor: the next track follows when this one is skipped.
    skip = await fake_discord.slash(world.member, "skip")
    assert "Now playing **Long Two" in content(await skip.response())
    await other.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == "Long Two"
    )


async def test_a_clean_close_frame_does_not_kill_the_connection(
    fake_lavalink, start_bot, world, fake_discord
):
    running = await start_music(start_bot, fake_lavalink)
    plugin = music(running)
    plugin.lavalink.watchdog_interval = 0.05
    before = len([r for r in fake_lavalink.requests if r.path == "/v4/websocket"])
    await fake_lavalink.close_websockets(code=1000)  # a polite close frame
    await fake_lavalink.wait_for_request(
        lambda r: r.path == "/v4/websocket", since=before, timeout=10
    )
    await plugin.playback.wait_for(lambda: len(plugin.lavalink.connected()) == 1)
    fake_lavalink.add_track("After Close", length_ms=600_000)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": "After Close"})
    assert "Now playing" in content(await ix.response())


async def test_websocket_drop_mid_track_resumes_and_the_queue_still_advances(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.time_scale = 20.0  # 20 s of track per real second
    fake_lavalink.add_track("Short", length_ms=20_000)
    fake_lavalink.add_track("After", length_ms=600_000)
    running = await start_music(start_bot, fake_lavalink)
    plugin = music(running)
    await fake_discord.voice_join(world.member, world.voice)
    for title in ("Short", "After"):
        await (await fake_discord.slash(world.member, "play", {"query": title})).response()
    before = len(fake_lavalink.requests)
    await fake_lavalink.close_websockets()  # 1006, no close frame: a network failure
    handshake = await fake_lavalink.wait_for_request(
        lambda r: r.path == "/v4/websocket", since=before, timeout=10)
    assert handshake.headers.get("Session-Id")  # wavelink offers the session back
    await fake_lavalink.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == "After",
        timeout=10)
    await plugin.playback.wait_for(
        lambda: getattr(plugin.playback.current.get(world.guild.id), "title", None) == "After")


async def test_a_restarted_node_gets_the_player_back_at_its_position(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Long", length_ms=600_000)
    running = await start_music(start_bot, fake_lavalink)
    plugin = music(running)
    for node in plugin.lavalink.nodes.values():
        node._websocket.backoff.calculate = lambda: 0.05  # type: ignore[union-attr]  # connected nodes have a websocket
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "Long"})).response()
    seek = await fake_discord.slash(world.member, "seek", {"time": "3:00"})
    await seek.response()
    await fake_lavalink.kill()
    restarted = time.monotonic()
    await fake_lavalink.restart()  # a new process: the old session and its players are gone
    replay = await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and r.time > restarted and (r.json or {}).get("track"),
        timeout=10)
    assert abs(replay.json["position"] - 180_000) <= 6_000
    player = fake_lavalink.players[world.guild.id]
    assert player.track is not None and player.voice.get("channelId") == str(world.voice.id)
