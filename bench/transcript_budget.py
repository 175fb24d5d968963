"""50 members pressing Transcribe on 50 different episodes at once, against the server's AI budget.

Runs the music plugin's transcript path (daily counts, then the core's paid-usage service with
the llm plugin's budget as provider, then the paid call to the fake OpenAI server) on a real
database. Each episode is 10 minutes (10,000 tokens at the default rate); the server's monthly
budget holds 60,000 tokens. Prints the paid calls made and the tokens spent (must be <= the
budget, nothing left reserved), and the time a reservation plus its settlement add to a
transcription (median and p95 over a second, uncontended run).

    python bench/transcript_budget.py                   # SQLite in a temp dir
    python bench/transcript_budget.py --database-url postgres://postgres@127.0.0.1:5432/postgres
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.audit import AuditWriter
from bot.database import apply_migrations, close_database, init_database
from bot.errors import UserError
from bot.guild_config import GuildConfig
from bot.loader import discover
from bot.paid_usage import PaidRefusal, PaidUsage
from bot.toggles import GuildToggles
from growmies_testkit.databases import is_postgres_url, throwaway_database_sync
from growmies_testkit.fake_openai import FakeOpenAI
from plugins.llm.budget import UsageLedger, guild_settings
from plugins.llm.models import LLMGuildConfig, LLMGuildUsage, LLMUsage
from plugins.llm.paid_work import PaidWorkBudget
from plugins.music.feeds import Episode
from plugins.music.podcasts import Podcasts, Transcriber
from plugins.music.transcripts import Transcripts

GUILD = 1
BUDGET = 60_000
PRESSES = 50
MINUTES = 10
TIMED = 200


class Audio:
    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        return b"ID3 audio"


class Services:
    def __init__(self) -> None:
        self.audit = AuditWriter()


async def no_limits(guild_id: int) -> tuple[int, int]:
    return 1000, 1000


def episode(i: int) -> Episode:
    return Episode(f"Episode {i}", f"https://pods.example.com/{i}.mp3", duration_s=MINUTES * 60)


async def run(url: str) -> bool:
    models = discover(["llm", "music"]).model_modules()
    await apply_migrations(url, models)
    await init_database(url, models)
    guild_settings.bind(GuildConfig(LLMGuildConfig, plugin="llm"))
    paid = PaidUsage(GuildToggles(lambda: {"llm": True}, AuditWriter()))
    paid.provide("llm", PaidWorkBudget(UsageLedger(), Services()))  # type: ignore[arg-type]
    try:
        async with FakeOpenAI() as srv:
            srv.transcription_seconds = MINUTES * 60
            transcriber = Transcriber(srv.base_url, srv.api_key, 10.0)
            transcripts = Transcripts(Podcasts(Audio(), transcriber), no_limits,
                                      paid_usage=paid, tokens_per_minute=1000)
            try:
                await guild_settings.update(GUILD, guild_monthly_tokens=BUDGET,
                                            user_daily_tokens=10**9)

                async def press(i: int) -> bool:
                    try:
                        await transcripts.get(GUILD, 100 + i, episode(i))
                        return True
                    except UserError:
                        return False

                made = (await asyncio.gather(*(press(i) for i in range(PRESSES)))).count(True)
                row = await LLMGuildUsage.get(guild_id=GUILD)
                members = await LLMUsage.filter(guild_id=GUILD).values_list(
                    "reserved_tokens", flat=True)
                held = row.reserved_tokens + sum(members)
                calls = len([r for r in srv.requests if r.path == "/v1/audio/transcriptions"])
                ok = row.used_tokens <= BUDGET and held == 0 and calls == made
                print(f"{PRESSES} concurrent presses, {MINUTES} min episodes, server budget "
                      f"{BUDGET:,} tokens: paid calls {calls}, transcripts {made}, tokens spent "
                      f"{row.used_tokens:,}, still reserved {held} -> "
                      f"{'ok' if ok else 'OVERSHOOT'}")

                # The reservation and settlement alone, one at a time, on a roomy budget.
                await guild_settings.update(GUILD, guild_monthly_tokens=10**9)
                times = []
                for _ in range(TIMED):
                    start = time.perf_counter()
                    held_ = await paid.reserve(GUILD, 7, 10_000, "podcast transcripts")
                    if isinstance(held_, PaidRefusal):
                        raise SystemExit(f"refused: {held_.message}")
                    await paid.settle(held_, 10_000)
                    times.append((time.perf_counter() - start) * 1000)
                times.sort()
                print(f"reserve + settle, {TIMED} in a row: median "
                      f"{statistics.median(times):.2f} ms, p95 {times[int(TIMED * 0.95)]:.2f} ms")
                return ok
            finally:
                await transcriber.close()
    finally:
        await close_database()


def main() -> int:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args: Any = parser.parse_args()
    with throwaway_database_sync(args.database_url, prefix="growmies_bench") as url:
        print(f"database: {'PostgreSQL' if is_postgres_url(url) else 'SQLite'}")
        ok = asyncio.run(run(url))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
