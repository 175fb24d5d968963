"""Restore after a restart: N guilds each had an active music session when the bot died; print
the time from starting the bot until every one of them is playing again (its track PATCHed to
the node at the saved position, with the session's effects), through the fake Discord and
FakeLavalink. Every session has effects (a stored Lavalink `filters` payload); two in five are
meditation sessions with time left (their timers must resume) and one in ten a meditation whose
end passed while the bot was down (it must end at once, once, without rejoining).

    python bench/music_restore.py               # 200 guild sessions
    python bench/music_restore.py --guilds 50
    python bench/music_restore.py --shards 3    # the same 200 spread over three shards
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import prepare, shutdown
from bot.logs import configure_logging
from bot.settings import Settings
from growmies_testkit.fake_discord import FakeDiscord
from growmies_testkit.fake_lavalink import FakeLavalink
from plugins.music.models import MeditationSession, MusicQueueEntry, MusicSession
from plugins.music.tracks import TrackInfo

EFFECTS = {"timescale": {"speed": 1.25, "pitch": 1.25, "rate": 1.0},
           "equalizer": [{"band": b, "gain": 0.2} for b in range(3)]}


def kind_of(index: int) -> str:
    """general (half), meditation with time left (two in five), ended while down (one in ten)."""
    return ("general", "general", "meditation", "meditation", "general",
            "general", "meditation", "meditation", "general", "ended")[index % 10]


async def run(guilds: int, db_url: str, shards: int) -> dict[str, Any]:
    fake = FakeDiscord(shard_count=shards)
    await fake.start()
    lavalink = FakeLavalink(player_update_interval=5.0)
    await lavalink.start()
    raw = lavalink.add_track("Restored Song", author="Bench", length_ms=3_600_000)
    track = TrackInfo(encoded=raw["encoded"], title="Restored Song", author="Bench",
                      uri=raw["info"]["uri"], length_ms=3_600_000, source="youtube")
    worlds = []
    for i in range(guilds):
        guild = fake.create_guild(f"Bench {i}")
        listener = guild.add_member(f"listener{i}")
        worlds.append((guild, listener))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=fake.token, discord_api_base=fake.api_base,
        database_url=db_url, log_format="json", log_level="WARNING",
        growmies_plugins=["music"], shard_count=shards,
    )
    nodes = [{"id": "bench", "uri": lavalink.uri, "password": lavalink.password}]
    bot = await prepare(settings, plugin_settings={"music": {"lavalink_nodes": nodes}})
    now = datetime.now(UTC)
    kinds: dict[int, str] = {}
    for index, (guild, listener) in enumerate(worlds):
        kind = kinds[guild.id] = kind_of(index)
        await fake.voice_join(listener, guild.voice_channel)
        await MusicSession.create(
            guild_id=guild.id, voice_channel_id=guild.voice_channel.id,
            text_channel_id=guild.text_channel.id, current=track.to_json(),
            position_ms=61_000 + guild.id % 1000, volume=70,
            effects={"preset": "nightcore", "filters": EFFECTS},
            kind="general" if kind == "general" else "meditation",
        )
        await MusicQueueEntry.create(guild_id=guild.id, position=65_536, encoded=raw["encoded"],
                                     title="Next Song", requester_id=listener.id)
        if kind != "general":
            ends = now + (timedelta(minutes=20) if kind == "meditation"
                          else -timedelta(minutes=1))
            await MeditationSession.create(
                guild_id=guild.id, channel_id=guild.voice_channel.id,
                text_channel_id=guild.text_channel.id, started_by=listener.id, minutes=30,
                participants=[listener.id], started_at=ends - timedelta(minutes=30),
                ends_at=ends)
    grants: list[tuple[int, int]] = []

    class XpCount:
        async def award(self, guild_id: int, user_id: int, amount: int, reason: str) -> int:
            if reason == "music.meditation":  # listening XP goes through here too
                grants.append((guild_id, user_id))
            return amount

    bot.services.xp.provide("music", XpCount())
    wanted = {g for g, kind in kinds.items() if kind != "ended"}
    ended_while_down = {g for g, kind in kinds.items() if kind == "ended"}
    with_effects: set[int] = set()
    seen: dict[int, float] = {}
    started = time.monotonic()
    task = asyncio.create_task(bot.start(fake.token))

    def all_playing(rec: Any) -> bool:
        if rec.method == "PATCH" and (rec.json or {}).get("track", {}).get("encoded"):
            guild_id = int(rec.path.rsplit("/", 1)[1])
            if guild_id in wanted and guild_id not in seen:
                seen[guild_id] = rec.time - started
                if rec.json.get("filters", {}).get("timescale") == EFFECTS["timescale"]:
                    with_effects.add(guild_id)
        return len(seen) == len(wanted)

    try:
        await lavalink.wait_for_request(all_playing, timeout=120)
        elapsed = time.monotonic() - started
        plugin = bot.plugins.plugins["music"]
        for _ in range(600):  # the last guilds' restore passes end their expired meditations
            ended = await MeditationSession.filter(ended_at__isnull=False).count()
            if ended >= len(ended_while_down):
                break
            await asyncio.sleep(0.1)
        resumed = {g for g in plugin.meditation.sessions if kinds.get(g) == "meditation"}
        ended_rows = await MeditationSession.filter(ended_at__isnull=False).values_list(
            "guild_id", flat=True)
        rejoined_ended = ended_while_down & set(seen)
        positions = [p.position_ms for p in lavalink.players.values()]
        joins = Counter(shard for shard, frame in fake.gateway_received if frame.get("op") == 4)
        print("voice joins (op 4) per shard:", dict(sorted(joins.items())))
    finally:
        await shutdown(bot)
        task.cancel()
        await lavalink.close()
        await fake.close()
    return {"elapsed": elapsed, "times": sorted(seen.values()), "positions": positions,
            "playing": len(seen), "wanted": len(wanted), "with_effects": len(with_effects),
            "resumed": len(resumed),
            "meditations": sum(k == "meditation" for k in kinds.values()),
            "ended": len(ended_rows), "ended_wanted": len(ended_while_down),
            "grants": len(grants), "granted_twice": len(grants) - len(set(grants)),
            "rejoined_ended": len(rejoined_ended)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args()
    configure_logging(args.log_level, "json", [])
    logging.getLogger().setLevel(args.log_level)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite://{Path(tmp) / 'bench.sqlite3'}"
        shards = args.shards
        result = asyncio.run(run(args.guilds, url, shards))
    times = result["times"]
    shards = args.shards
    print(f"restore after restart: {args.guilds} active guild sessions on {shards} shard(s)")
    print(f"playing again: {result['playing']}/{result['wanted']} sessions, "
          f"{result['with_effects']} with their effects in the replay PATCH; meditation timers "
          f"resumed {result['resumed']}/{result['meditations']}; meditations whose end passed "
          f"while down ended {result['ended']}/{result['ended_wanted']} (rejoined: "
          f"{result['rejoined_ended']}; meditation XP grants {result['grants']}, twice to one "
          f"member: {result['granted_twice']})")
    print(f"all playing again after {result['elapsed']:.2f} s from bot start "
          f"(first {times[0]:.2f} s, median {statistics.median(times):.2f} s)")
    print(f"resumed positions: min {min(result['positions']) / 1000:.1f} s, "
          f"max {max(result['positions']) / 1000:.1f} s (saved 61-62 s)")
    print("note: each rejoin is one gateway command (op 4); Discord allows 120 per minute per "
          "shard and nextcord keeps 10 for heartbeats, so past ~105 sessions per shard the "
          "rest wait for the next minute (compare --guilds 100, or --shards 3).")


if __name__ == "__main__":
    main()
