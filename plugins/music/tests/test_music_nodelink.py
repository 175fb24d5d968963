"""End to end against a Lavalink-compatible server that bends the protocol (NodeLink 3.7, as
FakeLavalink's "nodelink" flavour plays it): members keep their music and read clear messages,
and the node sees one socket and one session."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from growmies_testkit.fake_lavalink import UNKNOWN_LENGTH, FakeLavalink
from plugins.music.node_errors import UNREADABLE
from plugins.music.tests.e2e import content, music, start_music

PASSWORD = "nodelink-s3cret-pw"
READ_FAILURE = re.compile(re.escape(UNREADABLE) + r" \(ref (\w{6})\)")


@pytest_asyncio.fixture
async def nodelink(running_bots: list[Any]) -> AsyncIterator[FakeLavalink]:
    node = FakeLavalink(password=PASSWORD, version="3.7.0", flavour="nodelink",
                        player_update_interval=0.2)
    await node.start()
    try:
        yield node
    finally:
        for bot in reversed(running_bots):  # the bot goes first: it never sees its node vanish
            await bot.stop()
        await node.close()


def handshakes(node: FakeLavalink) -> list[Any]:
    return [r for r in node.requests if r.path == "/v4/websocket"]


def said_to_everyone(fake_discord: Any, world: Any) -> str:
    messages = fake_discord.channel_messages(world.channel.id)
    return "\n".join(fake_discord.text_of(m) for m in messages)


async def test_unreadable_payloads_keep_one_socket_and_one_session(
    nodelink, start_bot, world, fake_discord
):
    nodelink.time_scale = 20.0  # "Short" lasts one real second
    nodelink.add_track("Short", length_ms=20_000)
    nodelink.add_track("After", length_ms=600_000)
    running = await start_music(start_bot, nodelink)
    plugin = music(running)
    plugin.lavalink.watchdog_interval = 0.05  # a dead reader would be "repaired" at once
    await fake_discord.voice_join(world.member, world.voice)
    for title in ("Short", "After"):
        await (await fake_discord.slash(world.member, "play", {"query": title})).response()
    (session_id,) = nodelink.sessions

    with capture_logs() as logs:
        assert nodelink.send_unreadable("not_json") == 1
        assert nodelink.send_unreadable("bad_event") == 1
        # "Short" ends after the two payloads, on the same socket: the bot must still read it
        # to move on to "After".
        await nodelink.wait_for_event(
            lambda e: e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == "After",
            timeout=10)
        await plugin.playback.wait_for(
            lambda: getattr(plugin.playback.current.get(world.guild.id), "title", "") == "After")

    node = next(iter(plugin.lavalink.nodes.values()))
    assert node._websocket.unreadable == 2  # both skipped; the log says so once (no flood)
    skipped = [e for e in logs if e["event"] == "lavalink.unreadable_payload"]
    assert [e["skipped"] for e in skipped] == [1]
    assert not [e for e in logs if e["event"] == "lavalink.watchdog_reconnect"]
    # No reconnect, no new session, no leaked socket.
    assert len(handshakes(nodelink)) == 1
    assert list(nodelink.sessions) == [session_id]
    assert nodelink.open_websockets == 1
    assert PASSWORD not in repr(logs)


async def test_a_dead_reader_is_replaced_on_the_same_session_without_leaking_its_socket(
    nodelink, start_bot, world, fake_discord
):
    nodelink.add_track("Long", length_ms=600_000)
    running = await start_music(start_bot, nodelink)
    plugin = music(running)
    plugin.lavalink.watchdog_interval = 0.05
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "Long"})).response()
    (session_id,) = nodelink.sessions
    assert nodelink.sessions[session_id]["resuming"]  # PATCH /v4/sessions/{id} switched it on
    replays_before = sum(1 for r in nodelink.requests if (r.json or {}).get("track"))
    node = next(iter(plugin.lavalink.nodes.values()))

    # Whatever kills wavelink's reader (before this fix: any payload it couldn't parse), the
    # socket it read stays open; the watchdog must close it before reconnecting.
    node._websocket.keep_alive_task.cancel()
    resumed = await nodelink.wait_for_message(
        lambda m: m.get("op") == "ready" and m.get("resumed") is True, timeout=10)
    await plugin.playback.wait_for(lambda: len(plugin.lavalink.connected()) == 1)

    second = handshakes(nodelink)[-1]
    assert len(handshakes(nodelink)) == 2
    assert second.headers.get("Session-Id") == session_id == resumed["sessionId"]
    assert list(nodelink.sessions) == [session_id]
    assert nodelink.open_websockets == 1
    # Resumed, not replayed: the node kept playing and was not asked to start the track again.
    assert nodelink.players[world.guild.id].track["info"]["title"] == "Long"
    assert sum(1 for r in nodelink.requests if (r.json or {}).get("track")) == replays_before
    skip = await fake_discord.slash(world.member, "skip")
    assert "Skipped **Long**" in content(await skip.response())


async def test_a_track_of_unknown_length_plays_seeks_and_replays(
    nodelink, start_bot, world, fake_discord
):
    nodelink.add_track("Endless Mix", author="DJ Odd", length_ms=UNKNOWN_LENGTH)
    running = await start_music(start_bot, nodelink)
    plugin = music(running)
    await fake_discord.voice_join(world.member, world.voice)
    play = await fake_discord.slash(world.member, "play", {"query": "Endless"})
    assert content(await play.response()) == (
        "Now playing **Endless Mix — DJ Odd (unknown length)**.")

    card = await (await fake_discord.slash(world.member, "nowplaying")).wait_original()
    description = card["embeds"][0]["description"]
    assert "unknown length" in description
    assert "live" not in description and "🔴" not in description and "/ 0:00" not in description

    nodelink.add_track("Another Endless", author="DJ Odd", length_ms=UNKNOWN_LENGTH)
    queued = await fake_discord.slash(world.member, "play", {"query": "Another Endless"})
    assert "**Another Endless — DJ Odd (unknown length)** at position 1" in content(
        await queued.response())
    page = fake_discord.text_of(
        await (await fake_discord.slash(world.member, "queue show")).wait_original())
    assert "Now:** Endless Mix — DJ Odd (unknown length)" in page
    assert "Another Endless — DJ Odd (unknown length)" in page and "0:00" not in page

    seek = await fake_discord.slash(world.member, "seek", {"time": "1:30"})
    assert content(await seek.response()) == "Jumped to 1:30."
    await nodelink.wait_for_request(lambda r: (r.json or {}).get("position") == 90_000)

    # The node restarts without the session: the bot replays where it was, never at -1.
    await nodelink.kill()
    restarted = time.monotonic()
    await nodelink.restart()
    replay = await nodelink.wait_for_request(
        lambda r: r.method == "PATCH" and r.time > restarted and (r.json or {}).get("track"),
        timeout=10)
    assert 90_000 <= replay.json["position"] <= 100_000
    await nodelink.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == "Endless Mix")
    assert not [r for r in nodelink.requests if r.time > restarted and r.method == "PATCH"
                and (r.json or {}).get("position", 0) < 0]
    assert plugin.playback.current[world.guild.id].title == "Endless Mix"
    assert "Couldn't play" not in said_to_everyone(fake_discord, world)


@pytest.mark.parametrize("kind", ["missing_fields", "bare_error", "not_json"])
async def test_a_load_the_bot_cannot_read_is_explained(
    nodelink, start_bot, world, fake_discord, kind
):
    nodelink.odd_load("weird", kind)
    await start_music(start_bot, nodelink)
    await fake_discord.voice_join(world.member, world.voice)
    with capture_logs() as logs:
        ix = await fake_discord.slash(world.member, "play", {"query": "weird"})
        text = content(await ix.response())
    ref = READ_FAILURE.fullmatch(text)
    assert ref is not None and ix.ephemeral, text
    logged = next(e for e in logs if e["event"] == "music.node_failure")
    assert logged["ref"] == ref[1] and logged["action"] == "load" and logged["error"]
    assert PASSWORD not in repr(logs)
    assert not any(r.method == "PATCH" and "/players/" in r.path for r in nodelink.requests)


async def test_node_errors_on_controls_are_explained_and_change_nothing(
    nodelink, start_bot, world, fake_discord
):
    nodelink.add_track("Long", length_ms=600_000)
    await start_music(start_bot, nodelink)
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "Long"})).response()
    assert content(await (await fake_discord.slash(world.member, "pause")).response()) == "Paused."

    # NodeLink answered /resume's PATCH with a 500 and a text body (not Lavalink's JSON).
    nodelink.fail_next_request("/v4/sessions/*/players/*", 500, method="PATCH", plain=True,
                               message="Internal Server Error")
    with capture_logs() as logs:
        ix = await fake_discord.slash(world.member, "resume")
        text = content(await ix.response())
    assert text.startswith("The music server answered with an error (500); nothing was "
                           "changed. Try again, or ask an admin to check the node. (ref ")
    assert ix.ephemeral and "Something went wrong" not in text
    logged = next(e for e in logs if e["event"] == "music.node_failure")
    assert logged["action"] == "resume" and logged["status"] == 500
    assert logged["ref"] in text and PASSWORD not in repr(logs)
    assert nodelink.players[world.guild.id].paused  # still paused, as the member was told

    # A JSON error body on another control reads the same way.
    nodelink.fail_next_request("/v4/sessions/*/players/*", 500, method="PATCH")
    ix = await fake_discord.slash(world.member, "volume", {"level": 90})
    assert "answered with an error (500)" in content(await ix.response())
    assert content(await (await fake_discord.slash(world.member, "resume")).response()) == (
        "Resumed.")


async def test_a_500_when_switching_resuming_on_leaves_the_node_usable(
    nodelink, start_bot, world, fake_discord, caplog
):
    nodelink.time_scale = 20.0  # "Short" lasts one real second
    nodelink.add_track("Short", length_ms=20_000)
    nodelink.add_track("After", length_ms=600_000)
    # The first PATCH a client sends is PATCH /v4/sessions/{id} {resuming, timeout}.
    nodelink.fail_next_request("/v4/sessions/*", 500, method="PATCH", plain=True)
    running = await start_music(start_bot, nodelink)  # ready, though the PATCH failed
    plugin = music(running)
    plugin.lavalink.watchdog_interval = 0.05
    assert any("lavalink.session_update_failed" in str(r.msg) for r in caplog.records)
    assert PASSWORD not in caplog.text
    # Switching resuming on is retried (after 1 s) until the node accepts it.
    (session_id,) = nodelink.sessions
    patches = [r for r in nodelink.requests
               if r.method == "PATCH" and r.path == f"/v4/sessions/{session_id}"]
    assert len(patches) == 1
    await nodelink.wait_for_request(
        lambda r: r.method == "PATCH" and r.path == f"/v4/sessions/{session_id}",
        since=nodelink.requests.index(patches[0]) + 1, timeout=5)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": "Short"})
    assert content(await ix.response()) == "Now playing **Short — Unknown artist (0:20)**."
    await (await fake_discord.slash(world.member, "play", {"query": "After"})).response()
    # The reader is alive: "Short" ending (a websocket event) moves the queue on; by then the
    # retry has switched resuming on (player updates re-check this every 0.2 s).
    await plugin.playback.wait_for(
        lambda: getattr(plugin.playback.current.get(world.guild.id), "title", "") == "After"
        and nodelink.sessions[session_id]["resuming"])
    assert len(handshakes(nodelink)) == 1 and nodelink.open_websockets == 1
