"""50 concurrent assistant requests against a 1,000-token budget.

Runs the real ChatService (reservation before the call, settlement after) against the fake
OpenAI server and a real database, twice: 50 requests by one member against their daily
budget, and 50 requests by 50 members against the server's monthly budget. Prints the tokens
served (prompt + reply, as the API reported them; must be <= the budget) and how many
requests were refused.

    python bench/llm_budget.py                          # SQLite in a temp dir
    python bench/llm_budget.py --database-url postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.audit import AuditWriter
from bot.database import apply_migrations, close_database, init_database
from bot.errors import UserError
from bot.loader import discover
from growmies_testkit.databases import is_postgres_url, throwaway_database_sync
from growmies_testkit.fake_openai import DEFAULT_MODEL, FakeOpenAI
from plugins.llm.client import ChatClient
from plugins.llm.env import LlmSettings
from plugins.llm.models import LLMGuildConfig, LLMGuildUsage, LLMUsage
from plugins.llm.service import ChatRequest, ChatService

GUILD = 1
BUDGET = 1_000
REQUESTS = 50
REPLY = " ".join(f"word{i}" for i in range(200))  # longer than the reply cap: it is cut


class NullSink:
    async def send(self, content: str) -> int:
        return 0

    async def edit(self, handle: Any, content: str) -> None:
        return None

    async def delete(self, handle: Any) -> None:
        return None


class NoXp:
    async def award(self, *args: Any) -> int:
        return 0


@dataclass
class Services:
    audit: AuditWriter = field(default_factory=AuditWriter)
    xp: NoXp = field(default_factory=NoXp)
    age_gate: Any = None


async def scenario(service: ChatService, scope: str) -> tuple[int, int, int]:
    async def one(i: int) -> bool:
        user = 100 if scope == "member" else 100 + i
        try:
            turn = await service.prepare(ChatRequest(GUILD, user, f"question {i}"))
        except UserError:
            return False
        await service.respond(turn, NullSink())
        return True

    results = await asyncio.gather(*(one(i) for i in range(REQUESTS)))
    rows = await LLMUsage.filter(guild_id=GUILD).values_list(
        "prompt_tokens", "completion_tokens", "reserved_tokens")
    served = sum(p + c for p, c, _ in rows)
    held = sum(r for _, _, r in rows) + sum(
        await LLMGuildUsage.filter(guild_id=GUILD).values_list("reserved_tokens", flat=True))
    return served, results.count(False), held


async def run(url: str, max_tokens: int) -> bool:
    models = discover(["llm"]).model_modules()
    await apply_migrations(url, models)
    await init_database(url, models)
    ok = True
    try:
        async with FakeOpenAI() as srv:
            srv.default_reply = lambda body: REPLY
            settings = LlmSettings(_env_file=None, base_url=srv.base_url,  # type: ignore[call-arg]
                                   api_key=srv.api_key, model=DEFAULT_MODEL,
                                   max_tokens=max_tokens, timeout=10.0)
            client = ChatClient.from_settings(settings)
            try:
                for scope in ("member", "server"):
                    await LLMUsage.all().delete()
                    await LLMGuildUsage.all().delete()
                    await LLMGuildConfig.update_or_create(
                        defaults={"user_daily_tokens": BUDGET if scope == "member" else 10**6,
                                  "guild_monthly_tokens": BUDGET if scope == "server" else 10**8,
                                  "requests_per_minute": 60},
                        guild_id=GUILD)
                    service = ChatService(settings=settings, services=Services(),  # type: ignore[arg-type]
                                          client=client)
                    served, refused, held = await scenario(service, scope)
                    verdict = "ok" if served <= BUDGET and held == 0 else "OVERSHOOT"
                    ok &= verdict == "ok"
                    print(f"{scope:6s} budget {BUDGET:,} tokens, {REQUESTS} concurrent requests "
                          f"(reply cap {max_tokens}): tokens served {served:,}, answered "
                          f"{REQUESTS - refused}, refused {refused}, still reserved {held} "
                          f"-> {verdict}")
            finally:
                if client is not None:
                    await client.close()
    finally:
        await close_database()
    return ok


def main() -> int:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--max-tokens", type=int, default=100,
                        help="reply cap (OPENAI_MAX_TOKENS) for the run")
    args = parser.parse_args()
    with throwaway_database_sync(args.database_url, prefix="growmies_bench") as url:
        print(f"database: {'PostgreSQL' if is_postgres_url(url) else 'SQLite'}")
        ok = asyncio.run(run(url, args.max_tokens))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
