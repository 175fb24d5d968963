"""What attachments and reply chains cost a turn.

Prints: the time to check and re-encode a phone photo (12 MP JPEG) and a large PNG into the
data: URL the model gets, and the size sent; the time to inline a 20 KB text file; and the
time to resolve a reply to the bot (message id → conversation) with 10,000 linked answers,
which every reply to any message pays once.

    python bench/llm_attachments.py                       # SQLite in a temp dir
    python bench/llm_attachments.py --database-url postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image

from bot.database import apply_migrations, close_database, init_database
from bot.loader import discover
from growmies_testkit.databases import is_postgres_url, throwaway_database_sync
from plugins.llm.attachments import AttachmentLimits, Upload, take
from plugins.llm.conversations import ConversationStore
from plugins.llm.models import LLMConversation, LLMReplyLink

LIMITS = AttachmentLimits(vision=True, image_max_bytes=20_000_000, text_max_bytes=200_000)


def photo(width: int, height: int, fmt: str) -> bytes:
    # Noise, not a flat colour: a flat image compresses to nothing and flatters the figures.
    img = Image.effect_noise((width, height), 64).convert("RGB")
    out = io.BytesIO()
    img.save(out, fmt, quality=90) if fmt == "JPEG" else img.save(out, fmt)
    return out.getvalue()


async def time_intake(name: str, data: bytes, runs: int) -> tuple[float, int]:
    async def read() -> bytes:
        return data

    times, sent = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        intake = await take([Upload(name, len(data), None, read)], LIMITS)
        times.append(time.perf_counter() - started)
        sent = len((intake.images or intake.texts)[0])
    return statistics.median(times) * 1000, sent


async def time_lookups(url: str, links: int, lookups: int) -> float:
    models = discover(["llm"]).model_modules()
    await apply_migrations(url, models)
    await init_database(url, models)
    try:
        conversations = [await LLMConversation.create(user_id=i, channel_id=i, via="ask")
                         for i in range(100)]
        rows = [LLMReplyLink(message_id=10_000_000 + i, conversation=conversations[i % 100])
                for i in range(links)]
        for start in range(0, links, 1000):
            await LLMReplyLink.bulk_create(rows[start:start + 1000])
        store = ConversationStore()
        times = []
        for i in range(lookups):
            started = time.perf_counter()
            found = await store.by_message(10_000_000 + (i * 7919) % links)
            times.append(time.perf_counter() - started)
            assert found is not None
        return statistics.median(times) * 1000
    finally:
        await close_database()


async def run(url: str, runs: int, links: int) -> None:
    cases = (("photo.jpg", photo(4000, 3000, "JPEG"), "12 MP JPEG photo"),
             ("screen.png", photo(2560, 1440, "PNG"), "2560×1440 PNG"),
             ("log.md", ("day 1: 24C, 60% RH, fed 1 ml/l\n" * 640).encode()[:20_000],
              "20 KB text file"))
    for name, data, label in cases:
        ms, sent = await time_intake(name, data, runs)
        print(f"{label:17s}: {len(data) / 1e6:5.2f} MB in -> {sent / 1e6:5.2f} MB to the model, "
              f"{ms:7.1f} ms (median of {runs})")
    ms = await time_lookups(url, links, 200)
    print(f"reply lookup     : {ms:7.3f} ms per reply with {links:,} linked answers "
          "(one primary-key query, median of 200)")


def main() -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--links", type=int, default=10_000)
    args = parser.parse_args()
    with throwaway_database_sync(args.database_url, prefix="growmies_bench") as url:
        print(f"database: {'PostgreSQL' if is_postgres_url(url) else 'SQLite'}")
        asyncio.run(run(url, args.runs, args.links))


if __name__ == "__main__":
    main()
