"""Knowledge search over 10,000 approved entries: p50/p95 per query.

PostgreSQL full-text search is the figure the issue asks for; SQLite (token scoring) can be
measured for comparison.

    python bench/llm_kb_search.py                     # PostgreSQL on 127.0.0.1, 10,000 entries
    python bench/llm_kb_search.py --entries 2000      # quicker
    python bench/llm_kb_search.py --sqlite            # SQLite FTS5
    python bench/llm_kb_search.py --dense             # worst case: every entry matches
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.database import apply_migrations, close_database, init_database
from bot.loader import discover
from growmies_testkit.databases import is_postgres_url, throwaway_database_sync
from plugins.llm.knowledge import KnowledgeBase
from plugins.llm.models import KB_CATEGORIES, CannabisKnowledgeBase

# --dense: every entry made only of the 60 domain words, so nearly every entry matches every
# query and all of them must be ranked (the worst case).
DENSE = False
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"
VOCABULARY = (
    "indica sativa hybrid terpene myrcene limonene pinene caryophyllene linalool humidity "
    "nutrients nitrogen flowering vegetative trichomes harvest curing drying possession "
    "ounces dispensary license public consumption driving edible dose tincture vaporizer "
    "storage children pets poison tolerance anxiety sleep appetite pain inflammation "
    "genetics phenotype clone seed germination ph runoff light spectrum watts canopy "
    "training topping defoliation pests mites mold airflow temperature yield potency"
).split()
QUERIES = [
    "how much can I possess", "myrcene sleep indica", "edible dose for beginners",
    "driving after an edible", "public consumption rules", "mold during curing",
    "ph runoff nutrients", "limonene anxiety", "store away from children pets",
    "flowering light spectrum watts", "clone germination seed", "tolerance break",
]


def filler_words(rng: random.Random, n: int) -> list[str]:
    # Pronounceable made-up words: a realistic spread of vocabulary, not 60 words repeated.
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    return ["".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(2, 4)))
            for _ in range(n)]


def fake_entry(rng: random.Random, i: int, filler: list[str]) -> CannabisKnowledgeBase:
    # About 80 words: 10 domain words among 70 others, as in a real article.
    domain = 80 if DENSE else 10
    words = rng.choices(VOCABULARY, k=domain) + rng.choices(filler, k=80 - domain)
    rng.shuffle(words)
    title = " ".join(rng.choices(VOCABULARY, k=2) + rng.choices(filler, k=2)).title()
    return CannabisKnowledgeBase(
        guild_id=None, category=rng.choice(KB_CATEGORIES), title=f"{title} {i}",
        content=" ".join(words) + ".", tags=", ".join(rng.choices(VOCABULARY, k=3)),
        source_url="https://example.org/kb", status="approved", active=True)


async def run(url: str, entries: int, queries: int) -> None:
    models = discover(["llm"]).model_modules()
    await apply_migrations(url, models)
    await init_database(url, models)
    try:
        rng = random.Random(42)
        filler = filler_words(rng, 20_000)
        batch = [fake_entry(rng, i, filler) for i in range(entries)]
        for start in range(0, entries, 1000):
            await CannabisKnowledgeBase.bulk_create(batch[start:start + 1000])
        kb = KnowledgeBase()
        for query in QUERIES:  # warm-up
            await kb.search(1, query, 5)
        times, hits = [], 0
        for n in range(queries):
            started = time.perf_counter()
            found = await kb.search(1, QUERIES[n % len(QUERIES)], 5)
            times.append((time.perf_counter() - started) * 1000)
            hits += len(found)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"entries={entries:,} queries={queries} avg hits={hits / queries:.1f}")
        print(f"p50 {statistics.median(times):.2f} ms   p95 {p95:.2f} ms   max {times[-1]:.2f} ms")
    finally:
        await close_database()


def main() -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dense", action="store_true", help="worst case: every entry matches")
    args = parser.parse_args()
    global DENSE
    DENSE = args.dense
    base = "" if args.sqlite else args.database_url
    with throwaway_database_sync(base, prefix="growmies_bench") as url:
        kind = "PostgreSQL full-text search" if is_postgres_url(url) else "SQLite FTS5 (bm25)"
        print(f"database: {kind}")
        asyncio.run(run(url, args.entries, args.queries))


if __name__ == "__main__":
    main()
