"""/leaderboard on a 100,000-member guild: time per page and the query plan.

Each page is what one paginator click costs: the page count (COUNT on the index) and one
LIMIT/OFFSET read walking the (guild_id, xp, user_id) index backwards. Prints p50/p95 per
page over random pages (first and last included) and PostgreSQL's EXPLAIN of the page query.

    python bench/leaderboard.py                       # 100,000 members, 200 pages sampled
    python bench/leaderboard.py --members 20000 --samples 50
    python bench/leaderboard.py --database-url sqlite://x.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tortoise import Tortoise

from bench.support import (
    default_url,
    open_orm,
    percentile,
    throwaway_database,
)
from bot.logs import configure_logging
from plugins.compliance.pages import LEADERBOARD_PAGE_SIZE, LeaderboardPages

GUILD = 4242
NEIGHBOUR = 4343


async def populate(members: int) -> None:
    conn = Tortoise.get_connection("default")
    columns = ('"guild_id", "user_id", "status", "is_21_plus", "failed_attempts", "xp", '
               '"level", "message_count", "tier"')
    if conn.capabilities.dialect == "postgres":
        for guild, count in ((GUILD, members), (NEIGHBOUR, members // 5)):
            await conn.execute_script(
                f'INSERT INTO "compliance_member" ({columns}) SELECT {guild}, n, '
                "'unverified', FALSE, 0, (random() * 500000)::BIGINT, 0, 0, 'Seedling' "
                f"FROM generate_series(1, {count}) AS n")
        # Steady state: autovacuum has set the visibility map, so index-only scans work.
        await conn.execute_script('VACUUM ANALYZE "compliance_member"')
        return
    rng = random.Random(1)
    for guild, count in ((GUILD, members), (NEIGHBOUR, members // 5)):
        rows = [[guild, n, "unverified", 0, 0, rng.randrange(500_000), 0, 0, "Seedling"]
                for n in range(1, count + 1)]
        await conn.execute_many(
            f'INSERT INTO "compliance_member" ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
            rows)
    await conn.execute_script('ANALYZE "compliance_member"')


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--database-url", default=default_url())
    args = parser.parse_args()
    configure_logging("WARNING", "json", [])
    async with throwaway_database(args.database_url) as url:
        await open_orm(url)
        started = time.perf_counter()
        await populate(args.members)
        fill = time.perf_counter() - started
        source = LeaderboardPages()
        params = {"guild_id": GUILD}
        pages = await source.page_count(params)
        rng = random.Random(7)
        sample = [0, pages - 1, *(rng.randrange(pages) for _ in range(args.samples - 2))]
        renders: list[float] = []
        clicks: list[float] = []
        counts: list[float] = []
        uncached = LeaderboardPages(count_ttl=0)
        for page in sample:
            t0 = time.perf_counter()
            await source.page_count(params)
            t1 = time.perf_counter()
            await source.render(params, page)
            t2 = time.perf_counter()
            await uncached.page_count(params)
            t3 = time.perf_counter()
            renders.append(t2 - t1)
            clicks.append(t2 - t0)
            counts.append(t3 - t2)
        deep = source.page_query(params, pages - 1)
        conn = Tortoise.get_connection("default")
        pg = conn.capabilities.dialect == "postgres"
        explain = "EXPLAIN (ANALYZE, COSTS OFF)" if pg else "EXPLAIN QUERY PLAN"
        _, plan = await conn.execute_query(f"{explain} {deep.sql(params_inline=True)}")
        _, count_plan = await conn.execute_query(
            f"{explain} {source._query(params).count().sql(params_inline=True)}")
        await Tortoise.close_connections()
    db = "PostgreSQL" if pg else "SQLite"
    print(f"{args.members:,} members in the guild (+{args.members // 5:,} in another) on {db}; "
          f"filled in {fill:.1f} s; {pages:,} pages of {LEADERBOARD_PAGE_SIZE}")
    for label, values in (("page read", renders), ("click (cached count + page)", clicks),
                          ("uncached page count", counts)):
        print(f"{label:28s} p50 {percentile(values, 0.5) * 1000:7.2f} ms   "
              f"p95 {percentile(values, 0.95) * 1000:7.2f} ms   "
              f"max {max(values) * 1000:7.2f} ms   ({len(values)} pages)")
    print("\nEXPLAIN of the last (deepest) page:")
    for row in plan:
        print("  " + str(row[0] if pg else row[-1]))
    print("EXPLAIN of the page count:")
    for row in count_plan:
        print("  " + str(row[0] if pg else row[-1]))


if __name__ == "__main__":
    asyncio.run(main())
