"""Context building on conversations of 10 and of 10,000 stored messages.

Prints rows read and time per turn for each; the target is the same rows for both, because
building a turn's context reads only the newest HISTORY_ROWS messages through an index.

    python bench/llm_context.py                       # SQLite in a temp dir
    python bench/llm_context.py --database-url postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.database import apply_migrations, close_database, init_database
from bot.loader import discover
from growmies_testkit.databases import is_postgres_url, throwaway_database_sync
from plugins.llm.context import HISTORY_ROWS, build_context
from plugins.llm.models import LLMConversation, LLMMessage


async def make_conversation(size: int) -> int:
    conversation = await LLMConversation.create(user_id=1, channel_id=size, guild_id=1)
    batch = [
        LLMMessage(conversation_id=conversation.id, role="user" if i % 2 == 0 else "assistant",
                   content=f"message {i} " + "lorem ipsum dolor sit amet " * 8, tokens=50)
        for i in range(size)
    ]
    for start in range(0, size, 1000):
        await LLMMessage.bulk_create(batch[start:start + 1000])
    return conversation.id


async def measure(conversation_id: int, turns: int) -> tuple[int, float]:
    times, rows = [], 0
    for _ in range(turns):
        started = time.perf_counter()
        built = await build_context(system="You are a helpful assistant.", knowledge="",
                                    user_text="and then?", conversation_id=conversation_id)
        times.append(time.perf_counter() - started)
        rows = built.rows_read
    return rows, statistics.median(times) * 1000


async def run(url: str, turns: int, big: int) -> None:
    models = discover(["llm"]).model_modules()
    await apply_migrations(url, models)
    await init_database(url, models)
    try:
        small_id = await make_conversation(10)
        big_id = await make_conversation(big)
        await measure(big_id, 3)  # warm caches and the connection
        for label, cid, size in (("small", small_id, 10), ("large", big_id, big)):
            rows, ms = await measure(cid, turns)
            print(f"{label:5s} conversation: {size:6,d} messages -> rows read {rows:3d} "
                  f"(bound {HISTORY_ROWS}, one query), {ms:6.2f} ms per turn "
                  f"(median of {turns})")
    finally:
        await close_database()


def main() -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    with throwaway_database_sync(args.database_url, prefix="growmies_bench") as url:
        print(f"database: {'PostgreSQL' if is_postgres_url(url) else 'SQLite'}")
        asyncio.run(run(url, args.turns, args.messages))


if __name__ == "__main__":
    main()
