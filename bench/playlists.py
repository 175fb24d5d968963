"""Saved playlists: a 5,000-track playlist loaded and enqueued, and one track reordered in it.

Prints the time and the SQL statements (BEGIN and COMMIT included) of each operation. Loading
and enqueueing must cost a constant number of statements per batch, not per track (the
500/1,000/5,000 rows show it); a move, a removal and an append must cost a constant number
at any length (gapped positions: each writes one row). The load is
the playlist store's read plus the queue's bulk insert, the database part of `/playlist play`
(the queue's limit is lifted here so all 5,000 go in). PostgreSQL by default
($TEST_DATABASE_URL or the local server):

    python bench/playlists.py
    python bench/playlists.py --runs 50 --database-url sqlite://x.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import StatementCounter, default_url, percentile, throwaway_database
from bot.database import apply_migrations, close_database, init_database
from bot.logs import configure_logging
from plugins.music.models import MusicQueueEntry
from plugins.music.playlist_store import PlaylistStore, row_to_track
from plugins.music.queue import QueueRepository
from plugins.music.tracks import TrackInfo

GUILD, OWNER = 1, 42
SIZES = (500, 1_000, 5_000)


def track(n: int) -> TrackInfo:
    return TrackInfo(encoded=f"encoded-{n}-" + "x" * 200, title=f"Track {n}", author="Artist",
                     uri=f"https://music.example.com/{n}", length_ms=200_000, source="youtube")


async def once(counter: StatementCounter, op: Callable[[], Awaitable[Any]]
               ) -> tuple[float, int, Any]:
    before = counter.count
    started = time.perf_counter()
    result = await op()
    return (time.perf_counter() - started) * 1000, counter.count - before, result


async def repeated(counter: StatementCounter, runs: int, op: Callable[[], Awaitable[Any]]
                   ) -> dict[str, float]:
    times, statements = [], []
    for _ in range(runs):
        ms, n, _result = await once(counter, op)
        times.append(ms)
        statements.append(n)
    return {"statements": statistics.mean(statements), "max": max(statements),
            "p50": statistics.median(times), "p99": percentile(times, 0.99)}


async def run(url: str, runs: int) -> None:
    models = {"music": "plugins.music.models"}
    await apply_migrations(url, models)
    await init_database(url, models)
    store, queue = PlaylistStore(), QueueRepository()
    counter = StatementCounter()
    counter.install()
    rng = random.Random(1)
    try:
        print(f"{'operation':<44}{'statements':>11}{'ms':>10}")
        biggest = 0
        for size in SIZES:
            ms, n, (playlist, _saved) = await once(counter, lambda size=size: store.create(
                GUILD, OWNER, f"list {size}", f"list {size}",
                [track(i) for i in range(size)], max_tracks=size))
            print(f"{f'save a {size:,}-track playlist':<44}{n:>11}{ms:>10.1f}")

            async def load_and_enqueue(pid: int = playlist.id, size: int = size) -> int:
                tracks = [row_to_track(r, OWNER) for r in await store.tracks(pid)]
                return (await queue.add(GUILD, tracks, limit=size)).added

            ms, n, added = await once(counter, load_and_enqueue)
            assert added == size
            print(f"{f'load and enqueue {size:,} tracks':<44}{n:>11}{ms:>10.1f}")
            await queue.clear(GUILD)
            biggest = playlist.id
        count = SIZES[-1]
        print(f"\none track in the {count:,}-track playlist, {runs} runs each")
        print(f"{'operation':<34}{'statements':>11}{'max':>6}{'p50 ms':>10}{'p99 ms':>10}")
        results = {
            "move (random → random)": await repeated(counter, runs, lambda: store.move(
                biggest, rng.randrange(count), rng.randrange(count))),
            "move (last → first)": await repeated(counter, runs, lambda: store.move(
                biggest, count - 1, 0)),
            # Halves the same gap each time: every ~20th move opens a new one (one UPDATE more).
            "move (last → second, repeated)": await repeated(counter, runs, lambda: store.move(
                biggest, count - 1, 1)),
        }
        for name, r in results.items():
            print(f"{name:<34}{r['statements']:>11.1f}{r['max']:>6}{r['p50']:>10.2f}"
                  f"{r['p99']:>10.2f}")

        async def remove_then_append() -> None:
            row = await store.remove_at(biggest, rng.randrange(count))
            assert row is not None
            await store.append(biggest, [row_to_track(row)], max_tracks=count)

        r = await repeated(counter, runs, remove_then_append)
        print(f"{'remove one + append one':<34}{r['statements']:>11.1f}{r['max']:>6}"
              f"{r['p50']:>10.2f}{r['p99']:>10.2f}")
        rows = await store.tracks(biggest)
        assert len({x.position for x in rows}) == count  # still distinct
    finally:
        counter.uninstall()
        await MusicQueueEntry.filter(guild_id=GUILD).delete()
        await close_database()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--database-url", default=default_url())
    args = parser.parse_args()
    configure_logging("WARNING", "json", [])
    async with throwaway_database(args.database_url, prefix="growmies_bench") as url:
        print(f"database: {url.split(':', 1)[0]}")
        await run(url, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
