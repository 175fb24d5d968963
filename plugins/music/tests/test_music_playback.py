"""Playback driven by real wavelink against FakeLavalink, without Discord: queue advancement,
failed and stuck tracks, saved positions, restart restore and node failover."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from growmies_testkit.fake_lavalink import FakeLavalink
from plugins.music.models import MusicSession
from plugins.music.tests.rig import Rig, StubClient, StubVoice, make_rig
from plugins.music.tracks import TrackInfo

GUILD, VOICE, TEXT = 7001, 7002, 7003


def info(track: dict[str, Any], requester: int = 11) -> TrackInfo:
    i = track["info"]
    return TrackInfo(encoded=track["encoded"], title=i["title"], author=i["author"],
                     uri=i["uri"], length_ms=i["length"], source=i["sourceName"],
                     requester_id=requester)


@pytest.fixture
async def fakes() -> AsyncIterator[list[FakeLavalink]]:
    made: list[FakeLavalink] = []
    for _ in range(2):
        fake = FakeLavalink(player_update_interval=0.05, time_scale=20.0)
        await fake.start()
        made.append(fake)
    yield made
    for fake in made:
        await fake.close()


@pytest.fixture
async def rig(db, fakes) -> AsyncIterator[Rig]:
    rig = await make_rig(fakes[:1])
    rig.voice.add_guild(GUILD, VOICE, {11, 12, 13})
    yield rig
    await rig.close()


async def start(rig: Rig, tracks: list[TrackInfo]) -> None:
    await rig.playback.ensure_player(GUILD, VOICE, TEXT, volume=60)
    await rig.queue.add(GUILD, tracks, limit=50)
    await rig.playback.advance(GUILD)


async def test_queue_advances_on_track_end_and_empties(rig: Rig, fakes):
    fake = fakes[0]
    songs = [fake.add_track(f"Song {i}", length_ms=2_000) for i in range(3)]
    await start(rig, [info(s) for s in songs])
    await fake.wait_for_event(lambda e: e["type"] == "TrackEndEvent" and e["reason"] == "finished"
                              and e["track"]["encoded"] == songs[2]["encoded"], timeout=10)
    starts = [e["track"]["info"]["title"] for e in fake.sent_events
              if e["type"] == "TrackStartEvent"]
    assert starts == ["Song 0", "Song 1", "Song 2"]
    await rig.client.wait_until(lambda: rig.playback.current.get(GUILD) is None)
    session = await MusicSession.get(guild_id=GUILD)
    assert session.current is None and await rig.queue.count(GUILD) == 0
    # joined self-deafened, and the PATCH carried Lavalink 4.2's channelId
    assert rig.voice.guilds[GUILD].voice_changes[0][1] is True
    voice = await fake.wait_for_request(lambda r: r.json and "voice" in r.json)
    assert voice.json["voice"]["channelId"] == str(VOICE)


async def test_position_is_saved_from_player_updates_and_listening_counts(rig: Rig, fakes):
    fake = fakes[0]
    fake.time_scale = 1.0
    long = fake.add_track("Long", length_ms=600_000)
    await start(rig, [info(long)])
    await rig.client.wait_until(lambda: len(rig.listened) >= 2)
    session = await MusicSession.get(guild_id=GUILD)
    assert session.position_ms > 0 and session.current["title"] == "Long"
    assert rig.listened[0][1] == {11, 12, 13} and rig.listened[0][2] > 0


async def test_failed_track_is_skipped_with_a_plain_message_and_the_detail_in_the_log(
    rig: Rig, fakes
):
    fake = fakes[0]
    bad = fake.add_track("Bad", length_ms=60_000)
    good = fake.add_track("Good", length_ms=600_000)
    fake.fail_track(bad["encoded"], "exception",
                    message="Connection refused: lavalink-secret.internal:2333")
    with capture_logs() as logs:
        await start(rig, [info(bad), info(good)])
        await rig.client.wait_until(lambda: (rig.playback.current.get(GUILD) or info(bad)).title
                                    == "Good")
    [(channel, text)] = rig.notifier.said
    ref = re.fullmatch(r"Couldn't play \*\*Bad\*\* \(it could not be loaded, ref (\w{6})\); "
                       r"skipping it\.", text)
    assert channel == TEXT and ref is not None and "lavalink-secret" not in text
    logged = next(e for e in logs if e["event"] == "music.track_exception")
    assert logged["ref"] == ref[1] and "lavalink-secret.internal:2333" in logged["message"]


async def test_a_failed_21_plus_track_is_not_named_in_the_public_post(rig: Rig, fakes):
    fake = fakes[0]
    bad = fake.add_track("Kush Anthem", length_ms=60_000)
    good = fake.add_track("Good", length_ms=600_000)
    fake.fail_track(bad["encoded"], "exception", message="decoder died")
    await start(rig, [info(bad).with_requester(11, cannabis=True), info(good)])
    await rig.client.wait_until(lambda: len(rig.notifier.said) == 1)
    assert "Kush" not in rig.notifier.said[0][1]
    assert rig.notifier.said[0][1].startswith("Couldn't play **21+ track**")


async def test_three_failures_in_a_row_stop_with_an_explanation(rig: Rig, fakes):
    fake = fakes[0]
    bad = [fake.add_track(f"Bad {i}", length_ms=60_000) for i in range(3)]
    spare = fake.add_track("Spare", length_ms=60_000)
    for track in bad:
        fake.fail_track(track["encoded"], "exception", message="decoder died")
    await start(rig, [info(t) for t in [*bad, spare]])
    await rig.client.wait_until(lambda: len(rig.notifier.said) >= 3)
    last = rig.notifier.said[-1][1]
    assert "Stopped: 3 tracks in a row failed" in last
    assert rig.playback.current.get(GUILD) is None
    assert [e.title for e in await rig.queue.page(GUILD, 0, 10)] == ["Spare"]


async def test_stuck_track_is_skipped(rig: Rig, fakes):
    fake = fakes[0]
    sticky = fake.add_track("Sticky", length_ms=600_000)
    after = fake.add_track("After", length_ms=600_000)
    fake.fail_track(sticky["encoded"], "stuck", after_ms=100, threshold_ms=10_000)
    await start(rig, [info(sticky), info(after)])
    await rig.client.wait_until(lambda: (rig.playback.current.get(GUILD) or info(sticky)).title
                                == "After")
    assert "stuck for 10 s" in rig.notifier.said[0][1]


async def test_node_error_on_play_skips_to_the_next(rig: Rig, fakes):
    fake = fakes[0]
    one = fake.add_track("One", length_ms=600_000)
    two = fake.add_track("Two", length_ms=600_000)
    await rig.playback.ensure_player(GUILD, VOICE, TEXT, volume=60)
    await rig.queue.add(GUILD, [info(one), info(two)], limit=50)
    fake.fail_next_request("/v4/sessions/*/players/*", 500, method="PATCH")
    played = await rig.playback.advance(GUILD)
    assert played is not None and played.title == "Two"
    assert "the music server answered 500" in rig.notifier.said[0][1]


async def test_loop_track_and_loop_queue(rig: Rig, fakes):
    fake = fakes[0]
    a = fake.add_track("A", length_ms=1_000)
    b = fake.add_track("B", length_ms=1_000)
    await rig.playback.ensure_player(GUILD, VOICE, TEXT, volume=60)
    await MusicSession.filter(guild_id=GUILD).update(loop_mode="queue")
    await rig.queue.add(GUILD, [info(a), info(b)], limit=50)
    await rig.playback.advance(GUILD)

    def starts() -> list[str]:
        return [e["track"]["info"]["title"] for e in fake.sent_events
                if e["type"] == "TrackStartEvent"]

    await rig.client.wait_until(lambda: len(starts()) >= 5)
    assert starts()[:5] == ["A", "B", "A", "B", "A"]
    await MusicSession.filter(guild_id=GUILD).update(loop_mode="track")
    count = len(starts())
    await rig.client.wait_until(lambda: len(starts()) >= count + 3)
    assert len(set(starts()[count:count + 3])) == 1


async def test_restore_after_a_kill_rejoins_and_seeks(db, fakes):
    fake = fakes[0]
    fake.time_scale = 1.0
    long = fake.add_track("Long", length_ms=600_000)
    nxt = fake.add_track("Next", length_ms=600_000)
    rig = await make_rig(fakes[:1])
    rig.voice.add_guild(GUILD, VOICE, {11})
    await start(rig, [info(long), info(nxt)])
    # The process dies; its last saved position was 95 s into the track.
    rig.playback.closing = True
    await rig.lavalink.close()
    await MusicSession.filter(guild_id=GUILD).update(position_ms=95_000)

    client = StubClient()
    voice = StubVoice(client)
    voice.add_guild(GUILD, VOICE, {11})
    rig2 = await make_rig(fakes[:1], client, voice)
    try:
        # node_ready may have restored it already
        assert await rig2.playback.recovery.restore_all() in (0, 1)
        await rig2.client.wait_until(lambda: GUILD in rig2.playback.players)
        patch = await fake.wait_for_request(
            lambda r: r.method == "PATCH" and (r.json or {}).get("position") == 95_000)
        assert patch.json["track"]["encoded"] == long["encoded"]
        assert [e.title for e in await rig2.queue.page(GUILD, 0, 10)] == ["Next"]
    finally:
        await rig2.close()


async def test_failover_moves_players_to_the_other_node(db, fakes):
    a, b = fakes
    for fake in fakes:
        fake.time_scale = 1.0
    long = a.add_track("Long", length_ms=600_000)
    rig = await make_rig([a, b])
    rig.voice.add_guild(GUILD, VOICE, {11})
    try:
        await start(rig, [info(long)])
        player = rig.playback.players[GUILD]
        first = player.node
        serving, other = (a, b) if first.uri == a.uri.rstrip("/") else (b, a)
        since = rig.client.mark()
        await serving.kill()
        await rig.client.wait_event("wavelink_node_disconnected", since=since)
        moved = await other.wait_for_request(
            lambda r: r.method == "PATCH" and (r.json or {}).get("track") is not None)
        assert moved.json["track"]["encoded"] == long["encoded"]
        assert player.node is not first
        async with asyncio.timeout(5), rig.playback.changed:
            await rig.playback.changed.wait_for(lambda: rig.playback.failovers)
        assert (await MusicSession.get(guild_id=GUILD)).node_id == rig.lavalink.name_of(player.node)
    finally:
        await rig.close()
