"""Queue verbs on a 5,000-entry queue: SQL statements and p99 time of play-next (add_front),
dedupe, a history write (every track start) and the /previous lookup; and the metadata filter
(`metadata.admission`) over a 5,000-track playlist.

play-next and a history write must cost a constant number of statements whatever the queue's
or the history's length; dedupe reads once and deletes in batches of 1,000.

    python bench/music_queue_verbs.py                 # 5,000 entries, 100 runs, SQLite
    python bench/music_queue_verbs.py --database-url postgres://postgres@127.0.0.1:5432/bench_verbs

Use a database of its own for PostgreSQL: the benchmark migrates it and leaves the music tables.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from dataclasses import replace  # noqa: E402
from typing import Any  # noqa: E402

from bench.music_queue import StatementCounter, p99, track  # noqa: E402
from bot.database import apply_migrations, close_database, init_database  # noqa: E402
from plugins.music.history import PlayHistory  # noqa: E402
from plugins.music.metadata import admission  # noqa: E402
from plugins.music.models import (  # noqa: E402
    MusicGuildSettings,
    MusicHistoryEntry,
    MusicQueueEntry,
    UserMusicPreferences,
)
from plugins.music.queue import QueueRepository  # noqa: E402

GUILD = 1
MODELS = {"music": "plugins.music.models"}


async def measure(name: str, counter: StatementCounter, runs: int,
                  prepare: Callable[[], Awaitable[Any]], op: Callable[[], Awaitable[Any]]
                  ) -> dict[str, Any]:
    times: list[float] = []
    statements: list[int] = []
    for _ in range(runs):
        await prepare()
        before = counter.count
        started = time.perf_counter()
        await op()
        times.append((time.perf_counter() - started) * 1000)
        statements.append(counter.count - before)
    return {"op": name, "statements": statistics.mean(statements),
            "max_statements": max(statements), "p50": statistics.median(times),
            "p99": p99(times)}


async def run(database_url: str, size: int, runs: int) -> None:
    await apply_migrations(database_url, MODELS)
    await init_database(database_url, MODELS)
    await MusicQueueEntry.filter(guild_id=GUILD).delete()
    await MusicHistoryEntry.filter(guild_id=GUILD).delete()
    counter = StatementCounter()
    counter.install()
    repo = QueueRepository()
    history = PlayHistory()
    serial = iter(range(10**9))

    async def full_queue() -> None:
        missing = size - await repo.count(GUILD)
        if missing > 0:
            await repo.add(GUILD, [track(i) for i in range(missing)], limit=size)
        await repo.pop_next(GUILD)  # room for the one added at the front

    async def queue_with_duplicates() -> None:
        # One entry in ten repeats an earlier one.
        await repo.clear(GUILD)
        await repo.add(GUILD, [track(i if i % 10 else i // 2) for i in range(size)], limit=size)

    async def nothing() -> None:
        return None

    try:
        for n in range(150):  # a full history (100 rows) before measuring
            await history.record(GUILD, track(n))
        current = track(-5)
        results = [
            await measure("play next (1 track)", counter, runs, full_queue,
                          lambda: repo.add_front(GUILD, [track(-1)], limit=size)),
            await measure("history write (start)", counter, runs, nothing,
                          lambda: history.record(GUILD, track(next(serial) + 10_000))),
            await measure("/previous lookup", counter, runs, nothing,
                          lambda: history.previous(GUILD, current)),
            await measure(f"dedupe ({size // 10} repeats)", counter, max(3, runs // 20),
                          queue_with_duplicates, lambda: repo.dedupe(GUILD)),
        ]
        kept_rows = await MusicHistoryEntry.filter(guild_id=GUILD).count()
    finally:
        await MusicQueueEntry.filter(guild_id=GUILD).delete()
        await MusicHistoryEntry.filter(guild_id=GUILD).delete()
        await close_database()

    settings = MusicGuildSettings(guild_id=GUILD, max_track_minutes=10)
    prefs = UserMusicPreferences(user_id=1, explicit_filter=True,
                                 blocked_sources=["soundcloud", "bandcamp.com"])
    playlist = [replace(track(i), explicit=i % 3 == 0) for i in range(size)]
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        kept = [t for t in playlist if admission(t, settings, prefs).allowed]
        samples.append((time.perf_counter() - started) * 1000)

    print(f"queue of {size} entries, history of {kept_rows} rows kept (of 150 + {runs} "
          f"written) on {database_url.split(':', 1)[0]}, {runs} runs")
    print(f"{'operation':<26}{'statements':>12}{'max':>6}{'p50 ms':>10}{'p99 ms':>10}")
    for r in results:
        print(f"{r['op']:<26}{r['statements']:>12.1f}{r['max_statements']:>6}"
              f"{r['p50']:>10.2f}{r['p99']:>10.2f}")
    print(f"admission over a {size}-track playlist: {len(kept)} kept, "
          f"p50 {statistics.median(samples):.2f} ms, max {max(samples):.2f} ms, no SQL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite://{tmp}/bench-verbs.sqlite3"
        asyncio.run(run(url, args.size, args.runs))


if __name__ == "__main__":
    main()
