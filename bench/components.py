"""Component clicks with state in the database vs state in memory, through the fake Discord.

5,000 button clicks across 500 live states at concurrency 50 (defaults). Each click of the
database-backed counter costs one state read and one compare-and-set write; the baseline keeps
its counters in a dict. Prints p99 handling time (interaction to acknowledgement) for both,
their ratio, and SQL statements per click.

    python bench/components.py
    python bench/components.py --clicks 1000 --states 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nextcord.ext import commands
from tortoise import Tortoise

from bench.support import p99
from bot.app import prepare, shutdown
from bot.components.context import ComponentContext
from bot.components.ids import build
from bot.components.ui import button, controls
from bot.contract import (
    MIXED,
    ComponentHandler,
    Plugin,
    PluginContext,
    stateless,
    uses_state,
)
from bot.loader import discover
from bot.logs import configure_logging
from bot.settings import Settings
from growmies_testkit.databases import throwaway_database
from growmies_testkit.fake_discord import FakeDiscord


class BenchPlugin(Plugin):
    name = "benchclicks"
    description = "benchmark"
    rating = MIXED

    def __init__(self) -> None:
        self.memory: dict[str, int] = {}

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        return []

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        return {"db": self.on_db, "mem": self.on_mem}

    @uses_state("counter")
    async def on_db(self, ctx: ComponentContext) -> None:
        await ctx.advance({"n": int(ctx.data["n"]) + 1})
        await ctx.edit(content=f"count {ctx.data['n']}")

    @stateless
    async def on_mem(self, ctx: ComponentContext) -> None:
        key = ctx.custom_id.arg or ""
        self.memory[key] = self.memory.get(key, 0) + 1
        await ctx.edit(content=f"count {self.memory[key]}")


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0
        self._conn: Any = None
        self._originals: dict[str, Any] = {}

    def install(self) -> None:
        self._conn = Tortoise.get_connection("default")
        for name in ("execute_query", "execute_insert", "execute_query_dict", "execute_many"):
            original = getattr(self._conn, name)
            self._originals[name] = original

            async def counting(*args: Any, _orig: Any = original, **kwargs: Any) -> Any:
                self.count += 1
                return await _orig(*args, **kwargs)

            setattr(self._conn, name, counting)

    def uninstall(self) -> None:
        for name, original in self._originals.items():
            setattr(self._conn, name, original)



def time_router(bot: Any, into: list[float]) -> None:
    """Record the bot-side handling time of each interaction: router entry to handler done."""
    original = bot.router.handle

    async def timed(interaction: Any) -> None:
        started = time.perf_counter()
        try:
            await original(interaction)
        finally:
            into.append(time.perf_counter() - started)

    bot.router.handle = timed


async def clicks(fake: FakeDiscord, members: list[Any], messages: list[dict[str, Any]],
                 total: int, concurrency: int) -> tuple[list[float], int]:
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures = 0

    async def one(i: int) -> None:
        nonlocal failures
        message = messages[i % len(messages)]
        cid = message["components"][0]["components"][0]["custom_id"]
        async with sem:
            ix = await fake.click(members[i % len(members)], message, cid)
            resp = await ix.response(timeout=10)
            if resp["type"] != 7:
                failures += 1
            else:
                latencies.append(ix.ack_latency)

    await asyncio.gather(*(one(i) for i in range(total)))
    return latencies, failures


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=5000)
    parser.add_argument("--states", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    configure_logging("WARNING", "json", [])
    # A database of its own: SQLite in a temporary folder, or a new PostgreSQL database next to
    # the one named (dropped afterwards), never the named database itself.
    async with throwaway_database(args.database_url or "", prefix="growmies_bench") as url:
        fake = FakeDiscord()
        await fake.start()
        guild = fake.create_guild("Bench")
        members = [guild.add_member(f"m{i}") for i in range(max(1, args.clicks // 4))]
        plugin = BenchPlugin()
        registry = discover()
        registry.plugins[plugin.name] = plugin
        settings = Settings(_env_file=None, discord_token=fake.token,  # type: ignore[call-arg]
                            discord_api_base=fake.api_base, database_url=url,
                            log_format="json", log_level="WARNING", interaction_rate=10_000)
        bot = await prepare(settings, registry)
        task = asyncio.create_task(bot.start(fake.token))
        await bot.commands_synced.wait()
        try:
            channel = guild.text_channel.id
            db_messages, mem_messages = [], []
            for i in range(args.states):
                state = await bot.services.components.create("benchclicks", "counter", {"n": 0},
                                                             guild_id=guild.id)
                view = controls(button("+1", build("benchclicks", "db", state.id)))
                msg = await bot.get_channel(channel).send("count 0", view=view)  # type: ignore[union-attr]
                db_messages.append(fake.get_message(msg.id))
                view = controls(button("+1", build("benchclicks", "mem", None, f"k{i}")))
                msg = await bot.get_channel(channel).send("count 0", view=view)  # type: ignore[union-attr]
                mem_messages.append(fake.get_message(msg.id))

            handling: list[float] = []
            time_router(bot, handling)
            mem_ack, mem_fail = await clicks(fake, members, mem_messages, args.clicks,
                                             args.concurrency)
            mem_lat, handling[:] = list(handling), []
            counter = QueryCounter()
            reads_before = bot.services.components.reads
            counter.install()
            db_ack, db_fail = await clicks(fake, members, db_messages, args.clicks,
                                           args.concurrency)
            counter.uninstall()
            reads = bot.services.components.reads - reads_before
            db_lat = list(handling)
        finally:
            await shutdown(bot)
            task.cancel()
            await fake.close()
    print(f"{args.clicks} clicks across {args.states} states, concurrency {args.concurrency}")
    for label, lat, ack, fail in (("in-memory", mem_lat, mem_ack, mem_fail),
                                  ("database", db_lat, db_ack, db_fail)):
        print(f"{label:10s} handling median {statistics.median(lat) * 1000:7.2f} ms  "
              f"p99 {p99(lat) * 1000:7.2f} ms | acknowledgement seen by Discord p99 "
              f"{p99(ack) * 1000:7.2f} ms  failed {fail}")
    print(f"SQL statements per click (database): {counter.count / args.clicks:.2f}; state reads "
          f"per click {reads / args.clicks:.2f} (target on a live control: 0 reads, 1 write)")
    print(f"p99 handling ratio database/in-memory: {p99(db_lat) / p99(mem_lat):.2f} "
          "(target <= 1.5)")
    print(f"p99 acknowledgement ratio: {p99(db_ack) / p99(mem_ack):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
