"""`/strain info` autocomplete over many strains, on SQLite and PostgreSQL.

Fills a fresh database with the shipped strains plus generated ones (5,000 in all by default),
then times the autocomplete source the command uses (query cleaning, the prefix range scan on
the indexed `name_key` column, choice labels) over a mix of typed prefixes, empty input,
200-character input and odd Unicode. The baseline, run in the same process on the same data,
is a naive case-insensitive substring search on `name` (what a first version would do).
Prints p50/p99/max per query, the baseline's p99, their ratio, and the query plan.
Discord allows 3 s for an autocomplete answer; the target is p99 under 50 ms.

    python bench/strain_autocomplete.py                      # 5,000 strains, 1,000 queries
    python bench/strain_autocomplete.py --strains 50000 --queries 5000
    python bench/strain_autocomplete.py --backend sqlite     # skip PostgreSQL
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tortoise import Tortoise  # noqa: E402

from bot.components.autocomplete import clean_query, clip_choices  # noqa: E402
from bot.database import apply_migrations, close_database, init_database  # noqa: E402
from growmies_testkit.databases import throwaway_database  # noqa: E402
from plugins.ui import cards, strains  # noqa: E402
from plugins.ui.cog import strain_choices  # noqa: E402
from plugins.ui.models import Strain  # noqa: E402

MODELS = {"ui": "plugins.ui.models"}
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"
WORDS_A = ("Amber", "Blue", "Cosmic", "Dutch", "Electric", "Frosty", "Golden", "Hazy", "Island",
           "Jersey", "Kush", "Lemon", "Midnight", "Northern", "Orange", "Purple", "Quantum",
           "Royal", "Sour", "Tropic", "Ultra", "Velvet", "White", "Xeno", "Yellow", "Zesty")
WORDS_B = ("Dream", "Haze", "Diesel", "Cookies", "Glue", "Cake", "Punch", "Runtz", "Widow",
           "Express", "Skunk", "Berry", "Mints", "Gelato", "Sherbet", "Fuel", "Cheese", "Lights")


async def fill(total: int, rng: random.Random) -> list[str]:
    await strains.seed_strains()
    names = set(await Strain.all().values_list("name", flat=True))
    rows = []
    while len(names) < total:
        name = f"{rng.choice(WORDS_A)} {rng.choice(WORDS_B)} #{rng.randrange(1, 10_000)}"
        if name in names:
            continue
        names.add(name)
        rows.append(strains.StrainFields(
            name, rng.choice(strains.STRAIN_TYPES), (15.0, 22.0), (0.0, 1.0),
            rng.sample(list(strains.EFFECTS), 3), ["Sweet"], source_url="https://example.org",
        ))
    for start in range(0, len(rows), 1000):
        await Strain.bulk_create([Strain(**r.columns()) for r in rows[start:start + 1000]])
    return sorted(names)


def make_queries(names: list[str], count: int, rng: random.Random) -> list[str]:
    odd = ["", "x" * 200, "🌿🔥", "ＯＧ　Ｋｕ", "a\u0000\u202e\u200bk", "Crème", "z" * 99]
    queries = []
    for i in range(count):
        if i % 10 == 0:
            queries.append(odd[(i // 10) % len(odd)])
            continue
        name = rng.choice(names)
        queries.append(name[: rng.randint(1, min(8, len(name)))])
    return queries


async def baseline(query: str) -> list[tuple[str, str]]:
    """The naive version: substring match on the display name, no usable index."""
    rows = await Strain.filter(name__icontains=query).order_by("name").limit(25)
    return [(cards.choice_label(s), s.name) for s in rows]


async def time_source(source: Callable[[str], Awaitable[list[tuple[str, str]]]],
                      queries: list[str]) -> list[float]:
    timings = []
    for query in queries:
        started = time.perf_counter()
        clip_choices(await source(clean_query(query)))
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def query_plan(dialect: str) -> str:
    conn = Tortoise.get_connection("default")
    if dialect == "sqlite":
        sql = ('EXPLAIN QUERY PLAN SELECT "name" FROM "ui_strain" WHERE "name_key" >= ? '
               'AND "name_key" < ? ORDER BY "name_key" LIMIT 25')
        rows = await conn.execute_query_dict(sql, ["blu", "blv"])
        return "; ".join(str(r.get("detail")) for r in rows)
    sql = ('EXPLAIN SELECT "name" FROM "ui_strain" WHERE "name_key" >= $1 '
           'AND "name_key" < $2 ORDER BY "name_key" LIMIT 25')
    rows = await conn.execute_query_dict(sql, ["blu", "blv"])
    return "; ".join(str(next(iter(r.values()))).strip() for r in rows)


async def run_backend(label: str, url: str, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    await apply_migrations(url, MODELS)
    await init_database(url, MODELS)
    try:
        started = time.perf_counter()
        names = await fill(args.strains, rng)
        filled = time.perf_counter() - started
        queries = make_queries(names, args.queries, rng)
        await time_source(strain_choices, queries[:50])  # warm caches and prepared statements
        ours = await time_source(strain_choices, queries)
        naive = await time_source(baseline, queries)
        dialect = "sqlite" if url.startswith("sqlite") else "postgres"
        plan = await query_plan(dialect)
    finally:
        await close_database()
    print(f"\n== {label}: {len(names):,} strains (filled in {filled:.1f} s), "
          f"{len(queries):,} queries ==")
    print(f"prefix range on name_key : p50 {statistics.median(ours):6.2f} ms   "
          f"p99 {p(ours, 0.99):6.2f} ms   max {max(ours):6.2f} ms")
    print(f"baseline icontains(name) : p50 {statistics.median(naive):6.2f} ms   "
          f"p99 {p(naive, 0.99):6.2f} ms   max {max(naive):6.2f} ms")
    print(f"p99 ratio baseline/ours  : {p(naive, 0.99) / max(p(ours, 0.99), 1e-9):.1f}x   "
          f"target p99 < 50 ms: {'met' if p(ours, 0.99) < 50 else 'MISSED'}")
    print(f"query plan               : {plan}")


async def main(args: argparse.Namespace) -> int:
    if args.backend in ("sqlite", "both"):
        async with throwaway_database("", prefix="growmies_bench") as url:
            await run_backend("SQLite", url, args)
    if args.backend in ("postgres", "both"):
        try:
            import asyncpg

            admin = await asyncpg.connect(args.pg_url, timeout=3)
        except Exception as exc:
            print(f"\n== PostgreSQL skipped: {args.pg_url} unreachable ({type(exc).__name__})")
            return 0 if args.backend == "both" else 1
        await admin.close()
        async with throwaway_database(args.pg_url, prefix="growmies_bench") as url:
            await run_backend("PostgreSQL", url, args)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strains", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true",
                        help="the defaults already run in seconds; kept for CI scripts")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
