"""A node that sends payloads wavelink can't parse (NodeLink 3.7): the queue keeps advancing on
the same socket and session. Prints, for a clean node and for one that sends `--garbage`
unreadable payloads after every track start: the time from each track's TrackEndEvent at the
node to the next track's PATCH (the bot read the event and advanced), the websocket handshakes,
the sockets open at the node and its sessions, through the real bot on the fake Discord.

    python bench/music_nodelink.py                 # 20 tracks, 25 payloads after each start
    python bench/music_nodelink.py --tracks 50 --garbage 100
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bot.app import prepare, shutdown
from bot.logs import configure_logging
from bot.settings import Settings
from growmies_testkit.fake_discord import FakeDiscord
from growmies_testkit.fake_lavalink import FakeLavalink


async def run(tracks: int, garbage: int, db_url: str) -> dict[str, Any]:
    fake = FakeDiscord()
    await fake.start()
    node = FakeLavalink(version="3.7.0", flavour="nodelink", time_scale=40.0,
                        player_update_interval=1.0)
    await node.start()
    for i in range(tracks):
        # 0.5 s each; the last one lasts, so none ends while the bot shuts down.
        length = 20_000 if i < tracks - 1 else 600_000
        node.add_track(f"Bench Song {i:03d}", author="Bench", length_ms=length)
    guild = fake.create_guild("Bench")
    listener = guild.add_member("listener")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=fake.token, discord_api_base=fake.api_base,
        database_url=db_url, log_format="json", log_level="ERROR", growmies_plugins=["music"],
    )
    nodes = [{"id": "bench", "uri": node.uri, "password": node.password}]
    bot = await prepare(settings, plugin_settings={"music": {"lavalink_nodes": nodes,
                                                             "max_queue_size": 500}})
    task = asyncio.create_task(bot.start(fake.token))
    sent = 0

    def on_start(event: dict[str, Any]) -> bool:
        nonlocal sent
        if event["type"] == "TrackStartEvent" and garbage:
            for n in range(garbage):
                sent += node.send_unreadable("not_json" if n % 2 else "bad_event")
        return False

    try:
        await bot.commands_synced.wait()
        playback = bot.plugins.plugins["music"].playback
        await playback.wait_for(lambda: bool(bot.plugins.plugins["music"].lavalink.connected()))
        await fake.voice_join(listener, guild.voice_channel)
        watcher = asyncio.create_task(node.wait_for_event(on_start, timeout=600))
        for i in range(tracks):
            ix = await fake.slash(listener, "play", {"query": f"Bench Song {i:03d}"},
                                  channel=guild.text_channel)
            await ix.response()
        last = f"Bench Song {tracks - 1:03d}"
        await node.wait_for_event(
            lambda e: e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == last,
            timeout=tracks * 5)
        watcher.cancel()
        ends = {e["track"]["encoded"]: i for i, e in enumerate(node.sent_events)
                if e["type"] == "TrackEndEvent" and e["reason"] == "finished"}
        patches = [r for r in node.requests if r.method == "PATCH" and (r.json or {}).get("track")]
        # The fake's events carry no timestamps, but a track ends exactly 0.5 s after the PATCH
        # that started it: each advance took the PATCH-to-PATCH time minus that.
        gaps = [(after.time - before.time - 0.5) * 1000
                for before, after in itertools.pairwise(patches)]
        return {
            "advanced": len(ends), "gaps": gaps, "sent": sent,
            "handshakes": sum(1 for r in node.requests if r.path == "/v4/websocket"),
            "open": node.open_websockets, "sessions": len(node.sessions),
        }
    finally:
        await shutdown(bot)
        task.cancel()
        await node.close()
        await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=20)
    parser.add_argument("--garbage", type=int, default=25)
    parser.add_argument("--log-level", default="ERROR")
    args = parser.parse_args()
    configure_logging(args.log_level, "json", [])
    logging.getLogger().setLevel(args.log_level)
    for garbage in (0, args.garbage):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite://{Path(tmp) / 'bench.sqlite3'}"
            r = asyncio.run(run(args.tracks, garbage, url))
        gaps = sorted(r["gaps"])
        label = "clean node" if not garbage else f"{garbage} unreadable payloads per track"
        print(f"{label}: {r['advanced']} tracks ended and advanced; payloads sent {r['sent']}")
        print(f"  track end -> next PATCH: median {statistics.median(gaps):.0f} ms, "
              f"max {gaps[-1]:.0f} ms")
        print(f"  websocket handshakes {r['handshakes']}, sockets open {r['open']}, "
              f"sessions {r['sessions']}")


if __name__ == "__main__":
    main()
