"""The persistent music queue on a 5,000-entry queue: SQL statements and p99 time per operation.

Add, remove and move must cost a small constant number of statements whatever the queue's
length (gapped positions); shuffle and clear are shown for comparison. Each operation runs on a
queue refilled to the full size, so every measurement sees 5,000 entries.

    python bench/queue.py                 # 5,000 entries, 200 runs per operation, SQLite
    python bench/queue.py --size 500 --runs 50
    python bench/queue.py --database-url postgres://postgres@127.0.0.1:5432/bench_queue

(bench/queue.py only launches this file; see why there.) Use a database of its own for
PostgreSQL: the benchmark migrates it and leaves the music tables behind.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from typing import Any  # noqa: E402

from tortoise import Tortoise  # noqa: E402

from bench.support import p99  # noqa: E402
from bot.database import apply_migrations, close_database, init_database  # noqa: E402
from plugins.music.models import MusicQueueEntry  # noqa: E402
from plugins.music.queue import QueueRepository  # noqa: E402
from plugins.music.tracks import TrackInfo  # noqa: E402

GUILD = 1
MODELS = {"music": "plugins.music.models"}


class StatementCounter:
    """Counts every statement sent on the default connection."""

    def __init__(self) -> None:
        self.count = 0
        self._originals: dict[str, Any] = {}

    def install(self) -> None:
        conn = Tortoise.get_connection("default")
        for name in ("execute_query", "execute_query_dict", "execute_insert", "execute_many",
                     "execute_script"):
            original = getattr(conn, name)
            self._originals[name] = original

            def wrap(orig: Any) -> Any:
                async def counted(*args: Any, **kwargs: Any) -> Any:
                    self.count += 1
                    return await orig(*args, **kwargs)
                return counted

            setattr(conn, name, wrap(original))


def track(n: int) -> TrackInfo:
    return TrackInfo(encoded=f"encoded-{n}-" + "x" * 200, title=f"Track {n}", author="Artist",
                     uri=f"https://music.example.com/{n}", length_ms=200_000, source="youtube",
                     requester_id=1000 + n % 7)


async def refill(repo: QueueRepository, size: int) -> None:
    missing = size - await repo.count(GUILD)
    if missing > 0:
        await repo.add(GUILD, [track(i) for i in range(missing)], limit=size)



async def measure(name: str, repo: QueueRepository, counter: StatementCounter, size: int,
                  runs: int, op: Callable[[], Awaitable[Any]], *, room: int = 0
                  ) -> dict[str, Any]:
    """Time `op` on a queue of exactly `size` entries, less `room` free slots."""
    times: list[float] = []
    statements: list[int] = []
    for _ in range(runs):
        await refill(repo, size)
        for _free in range(room):
            await repo.pop_next(GUILD)
        before = counter.count
        started = time.perf_counter()
        await op()
        times.append((time.perf_counter() - started) * 1000)
        statements.append(counter.count - before)
    return {"op": name, "statements": statistics.mean(statements),
            "max_statements": max(statements), "p50": statistics.median(times),
            "p99": p99(times)}


async def run(database_url: str, size: int, runs: int, heavy_runs: int) -> None:
    models = dict(MODELS)
    await apply_migrations(database_url, models)
    await init_database(database_url, models)
    await MusicQueueEntry.filter(guild_id=GUILD).delete()
    counter = StatementCounter()
    counter.install()
    repo = QueueRepository()
    rng = random.Random(1)
    try:
        await refill(repo, size)
        results = [
            await measure("add (1 track)", repo, counter, size, runs,
                          lambda: repo.add(GUILD, [track(-1)], limit=size), room=1),
            await measure("remove (random index)", repo, counter, size, runs,
                          lambda: repo.remove_at(GUILD, rng.randrange(size))),
            await measure("move (random → random)", repo, counter, size, runs,
                          lambda: repo.move(GUILD, rng.randrange(size), rng.randrange(size))),
            await measure("pop next (advance)", repo, counter, size, runs,
                          lambda: repo.pop_next(GUILD)),
            await measure("shuffle", repo, counter, size, heavy_runs,
                          lambda: repo.shuffle(GUILD, rng)),
            await measure("clear", repo, counter, size, heavy_runs,
                          lambda: repo.clear(GUILD)),
        ]
    finally:
        await MusicQueueEntry.filter(guild_id=GUILD).delete()
        await close_database()
    print(f"queue of {size} entries on {database_url.split(':', 1)[0]}, "
          f"{runs} runs ({heavy_runs} for shuffle/clear)")
    print(f"{'operation':<26}{'statements':>12}{'max':>6}{'p50 ms':>10}{'p99 ms':>10}")
    for r in results:
        print(f"{r['op']:<26}{r['statements']:>12.1f}{r['max_statements']:>6}"
              f"{r['p50']:>10.2f}{r['p99']:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--heavy-runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite://{tmp}/bench-queue.sqlite3"
        asyncio.run(run(url, args.size, args.runs, args.heavy_runs))


if __name__ == "__main__":
    main()
