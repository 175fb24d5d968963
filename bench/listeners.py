"""Events per second through a plugin's listener: what attributing and gating costs per event.

An ADULTS_ONLY plugin registers a listener with `bot.add_listener` (the same wrapper serves cog
listeners). Events name a guild and a member, all verified by a provider that answers from
memory, so the figures are the core's own work: toggle read (cached), gate, quiet audited
check (cached after the first event per member), the plugin scope around the call. The
dispatch rows compare GrowmiesBot.dispatch (which first adopts listeners put straight into
nextcord's tables) with nextcord's own, both scheduling one task per listener.

    python bench/listeners.py                   # 20,000 events, PostgreSQL
    python bench/listeners.py --events 100000 --database-url sqlite://x.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nextcord.ext import commands

from bench.support import default_url, open_orm, throwaway_database
from bot.client import GrowmiesBot
from bot.contract import Plugin, PluginContext
from bot.listeners import attributed_to
from bot.loader import PluginRegistry
from bot.logs import configure_logging
from bot.services import GateDecision
from bot.settings import Settings

GUILD = 777
MEMBERS = 500


class Everyone:
    async def decide(self, guild_id: int, user_id: int) -> GateDecision:
        return GateDecision(True, "verified")


class Loose(Plugin):
    name = "loose"

    def __init__(self) -> None:
        self.heard = 0
        self.target = 0
        self.done = asyncio.Event()

    async def setup(self, ctx: PluginContext) -> None:
        async def heard(payload: Any) -> None:
            self.heard += 1
            if self.heard == self.target:
                self.done.set()

        ctx.bot.add_listener(heard, "on_bench")


def payloads(n: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(guild_id=GUILD, user_id=1 + i % MEMBERS) for i in range(n)]


async def per_second(n: int, run: Any) -> float:
    started = time.perf_counter()
    await run()
    return n / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=default_url())
    args = parser.parse_args()
    configure_logging("WARNING", "json", [])
    async with throwaway_database(args.database_url) as url:
        await open_orm(url)
        plugin = Loose()
        registry = PluginRegistry(plugins={"loose": plugin})
        settings = Settings(_env_file=None, discord_token="bench", database_url=url)  # type: ignore[call-arg]
        bot = GrowmiesBot(settings, registry)
        bot.services.age_gate.provide("loose", Everyone())
        with attributed_to("loose"):
            await plugin.setup(bot.plugin_context("loose"))
        entry = bot.listeners.of("loose")[0]
        events = payloads(args.events)
        # Warm up: the toggle cache and one quiet audit row per member.
        for event in events[:MEMBERS]:
            await entry.registered(event)
        await bot.services.audit.flush()

        async def raw() -> None:
            for event in events:
                await entry.func(event)

        async def gated() -> None:
            for event in events:
                await entry.registered(event)

        async def through(dispatch: Any) -> None:
            plugin.target = plugin.heard + len(events)
            plugin.done.clear()
            for event in events:
                dispatch("bench", event)
            await plugin.done.wait()

        rates: dict[str, list[float]] = {"raw": [], "gated": [], "ours": [], "theirs": []}
        for _ in range(args.rounds):  # interleaved, so warm-up and GC hit each alike
            rates["raw"].append(await per_second(args.events, raw))
            rates["gated"].append(await per_second(args.events, gated))
            rates["theirs"].append(await per_second(
                args.events,
                lambda: through(lambda *a: commands.AutoShardedBot.dispatch(bot, *a))))
            rates["ours"].append(await per_second(args.events, lambda: through(bot.dispatch)))
        started = time.perf_counter()
        for _ in range(args.events):
            bot._adopt_strays("on_bench", by_module_only=True)
        adopt_ns = (time.perf_counter() - started) / args.events * 1e9
        raw_rate, gated_rate, ours, theirs = (
            sorted(v)[len(v) // 2] for v in (rates["raw"], rates["gated"], rates["ours"],
                                              rates["theirs"]))
        from tortoise import Tortoise

        pg = Tortoise.get_connection("default").capabilities.dialect == "postgres"
        await bot.services.audit.flush()
        await Tortoise.close_connections()
    print(f"{args.events:,} events from {MEMBERS} verified members on "
          f"{'PostgreSQL' if pg else 'SQLite'}, one ADULTS_ONLY add_listener listener "
          f"(median of {args.rounds} rounds)")
    print(f"listener called directly     {raw_rate:12,.0f} events/s  (no core at all)")
    print(f"through the gated wrapper    {gated_rate:12,.0f} events/s  (toggle, gate, quiet "
          "check, plugin scope)")
    print(f"GrowmiesBot.dispatch         {ours:12,.0f} events/s  (+ stray adoption, one task "
          "per event)")
    print(f"nextcord's own dispatch      {theirs:12,.0f} events/s  (same wrapper, no adoption "
          "step)")
    print(f"our dispatch / nextcord's: {ours / theirs:.2f}; the adoption step alone: "
          f"{adopt_ns:,.0f} ns per dispatch")


if __name__ == "__main__":
    asyncio.run(main())
