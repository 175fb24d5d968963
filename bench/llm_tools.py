"""Extra delay to the first visible token when the model searches the knowledge base through
one tool call, vs today's retrieval (entries put in the prompt, no tool).

Runs the real ChatService end to end (checks, reservation, retrieval, streaming relay,
compliance, settlement) against the fake OpenAI server, which streams every chunk at a fixed
rate (tool-call argument pieces too), and a real database with the starter knowledge entries.
The sink stands in for Discord and records when the first piece of the answer is shown.

    python bench/llm_tools.py                 # SQLite in a temp dir, 50 tokens/s, 7 runs each
    python bench/llm_tools.py --tps 100 --runs 11
    python bench/llm_tools.py --database-url postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.api import GuildConfig
from bot.audit import AuditWriter
from bot.database import apply_migrations, close_database, init_database
from bot.loader import discover
from growmies_testkit.databases import is_postgres_url, throwaway_database_sync
from growmies_testkit.fake_openai import DEFAULT_MODEL, FakeOpenAI
from plugins.llm.budget import guild_settings
from plugins.llm.client import ChatClient, estimate_prompt_tokens
from plugins.llm.env import LlmSettings
from plugins.llm.kb_tool import TOOL_NAME
from plugins.llm.models import LLMGuildConfig
from plugins.llm.relay import PLACEHOLDER
from plugins.llm.seed_data import seed_starter_entries
from plugins.llm.service import ChatRequest, ChatService

GUILD = 1
QUESTION = "How much cannabis can I possess in New Jersey?"
ANSWER = ("Adults 21 and over may possess up to 6 ounces of cannabis [KB 1]; buy it only from "
          "licensed dispensaries.")


class TimedSink:
    """Stands in for Discord (no latency): when the first piece of the answer was shown."""

    def __init__(self) -> None:
        self.first_visible: float | None = None

    async def send(self, content: str) -> int:
        self._seen(content)
        return 0

    async def edit(self, handle: Any, content: str) -> None:
        self._seen(content)

    async def delete(self, handle: Any) -> None:
        return None

    def _seen(self, content: str) -> None:
        if self.first_visible is None and content != PLACEHOLDER:
            self.first_visible = time.monotonic()


class NoXp:
    async def award(self, *args: Any) -> int:
        return 0


@dataclass
class Services:
    audit: AuditWriter = field(default_factory=AuditWriter)
    xp: NoXp = field(default_factory=NoXp)
    age_gate: Any = None


def prompt_tokens(bodies: list[dict[str, Any]]) -> int:
    """Prompt tokens the requests of one answer cost: the messages (the plugin's estimate)
    plus the tool definitions, which a real API bills as prompt too."""
    return sum(estimate_prompt_tokens(b["messages"])
               + (len(json.dumps(b["tools"])) // 4 if b.get("tools") else 0) for b in bodies)


async def one(service: ChatService, srv: FakeOpenAI, user: int, *, tool: bool,
              tps: float) -> tuple[float, float, int, int]:
    """(seconds to the first visible token, seconds of the tool round, chunks the tool call
    streamed, prompt tokens) for one question."""
    if tool:
        srv.tool_call(TOOL_NAME, {"query": "possession limits", "category": "legal"},
                      tokens_per_second=tps)
    srv.reply(ANSWER, tokens_per_second=tps)
    since = len(srv.chat_records)
    sink = TimedSink()
    started = time.monotonic()
    turn = await service.prepare(ChatRequest(GUILD, user, QUESTION, "legal"))
    result = await service.respond(turn, sink)
    assert result.outcome == "answered", result
    assert sink.first_visible is not None
    records = srv.chat_records[since:]
    assert len(records) == (2 if tool else 1)
    tool_round = (records[1].time - records[0].time) if tool else 0.0
    return (sink.first_visible - started, tool_round,
            len(records[0].chunk_times) if tool else 0, prompt_tokens([r.json for r in records]))


async def run(url: str, tps: float, runs: int) -> None:
    models = discover(["llm"]).model_modules()
    await apply_migrations(url, models)
    await init_database(url, models)
    guild_settings.bind(GuildConfig(LLMGuildConfig, plugin="llm"))
    await seed_starter_entries()
    await LLMGuildConfig.update_or_create(
        defaults={"user_daily_tokens": 10**7, "guild_monthly_tokens": 10**9,
                  "requests_per_minute": 60}, guild_id=GUILD)
    try:
        async with FakeOpenAI() as srv:
            figures: dict[bool, list[tuple[float, float, int, int]]] = {False: [], True: []}
            for tool in (False, True):
                settings = LlmSettings(_env_file=None, base_url=srv.base_url,  # type: ignore[call-arg]
                                       api_key=srv.api_key, model=DEFAULT_MODEL,
                                       timeout=10.0, tools=tool)
                client = ChatClient.from_settings(settings)
                assert client is not None
                service = ChatService(settings=settings, services=Services(),  # type: ignore[arg-type]
                                      client=client)
                try:
                    await one(service, srv, 999, tool=tool, tps=1000.0)  # warm-up
                    for i in range(runs):
                        figures[tool].append(await one(service, srv, 100 + i, tool=tool,
                                                       tps=tps))
                finally:
                    await client.close()
    finally:
        await close_database()
    plain = statistics.median(f[0] for f in figures[False])
    tooled = statistics.median(f[0] for f in figures[True])
    rounds = statistics.median(f[1] for f in figures[True])
    chunks = figures[True][0][2]
    tokens = {tool: statistics.median(f[3] for f in figures[tool]) for tool in figures}
    print(f"rate {tps:g} chunks/s ({1000 / tps:.0f} ms each), {runs} runs each, medians")
    print(f"first visible token, no tool (entries in prompt): {plain * 1000:8.1f} ms")
    print(f"first visible token, one tool call:               {tooled * 1000:8.1f} ms")
    print(f"extra delay with the tool call:                   {(tooled - plain) * 1000:8.1f} ms")
    print(f"  of which the tool round (first request -> follow-up with the result): "
          f"{rounds * 1000:.1f} ms; the call streamed {chunks} chunks "
          f"(>= {chunks * 1000 / tps:.0f} ms at this rate)")
    print(f"prompt tokens per answer, no tool / one tool call: {tokens[False]:.0f} / "
          f"{tokens[True]:.0f} (x{tokens[True] / tokens[False]:.2f}; tool definitions "
          "included)")


def main() -> int:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--tps", type=float, default=50.0, help="chunks per second")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with throwaway_database_sync(args.database_url, prefix="growmies_bench") as url:
        print(f"database: {'PostgreSQL' if is_postgres_url(url) else 'SQLite'}")
        asyncio.run(run(url, args.tps, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
