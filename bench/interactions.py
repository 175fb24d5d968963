"""Acknowledgement latency of slash interactions: Growmies with every plugin vs a bare bot.

Sends N `/ping` interactions at concurrency C through the fake Discord (real sockets, real
nextcord) to (a) the Growmies bot with all installed plugins loaded, its router, throttle,
toggles and logging in the path, and (b) a bare nextcord bot answering the same command,
in the same process. Prints median and p99 acknowledgement latency, the ratio, failures,
and start-up time to the first command sync for both.

    python bench/interactions.py                # 2,000 interactions, concurrency 50
    python bench/interactions.py --n 300 --quick
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nextcord
from nextcord.ext import commands

from bench.support import p99
from bot.app import prepare, shutdown
from bot.logs import configure_logging
from bot.settings import Settings
from growmies_testkit.databases import throwaway_database
from growmies_testkit.fake_discord import FakeDiscord


async def drive(fake: FakeDiscord, members: list[Any], n: int, concurrency: int
                ) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        nonlocal failures
        async with sem:
            try:
                ix = await fake.slash(members[i % len(members)], "ping")
                resp = await ix.response(timeout=10)
                if resp["type"] != 4 or not str(resp["data"].get("content", "")).startswith(
                        "Pong"):
                    failures += 1
                    return
                latencies.append(ix.ack_latency)
            except Exception:
                failures += 1

    await asyncio.gather(*(one(i) for i in range(n)))
    return latencies, failures


class BarePing(commands.Cog):
    @nextcord.slash_command(name="ping", description="Check that the bot is alive")
    async def ping(self, interaction: nextcord.Interaction) -> None:
        await interaction.response.send_message("Pong! Gateway latency n/a.", ephemeral=True)


WARM_UP = 200


async def run_bare(fake: FakeDiscord, members: list[Any], n: int, c: int) -> dict[str, Any]:
    nextcord.http.Route.BASE = fake.api_base
    started = time.perf_counter()
    bot = commands.AutoShardedBot(intents=nextcord.Intents.default(),
                                  allowed_mentions=nextcord.AllowedMentions.none())
    bot.add_cog(BarePing())
    synced = asyncio.Event()

    @bot.event
    async def on_connect() -> None:
        bot.add_all_application_commands()
        await bot.sync_application_commands()
        synced.set()

    task = asyncio.create_task(bot.start(fake.token))
    await synced.wait()
    startup = time.perf_counter() - started
    # Same collector set-up as Growmies' prepare(), so the ratio measures our code path only.
    gc.collect()
    gc.freeze()
    try:
        # Warm both bots up the same way (first-use costs), with members not measured later.
        await drive(fake, members[-WARM_UP // 4:], WARM_UP, c)
        latencies, failures = await drive(fake, members[:-WARM_UP // 4], n, c)
    finally:
        await bot.close()
        task.cancel()
    return {"latencies": latencies, "failures": failures, "startup": startup}


async def run_growmies(fake: FakeDiscord, members: list[Any], n: int, c: int,
                       db_url: str, plugins: list[str] | None) -> dict[str, Any]:
    settings = Settings(_env_file=None, discord_token=fake.token,  # type: ignore[call-arg]
                        discord_api_base=fake.api_base, database_url=db_url, log_format="json",
                        log_level="WARNING", growmies_plugins=plugins)
    started = time.perf_counter()
    bot = await prepare(settings)
    prepared = time.perf_counter() - started
    task = asyncio.create_task(bot.start(fake.token))
    await bot.commands_synced.wait()
    startup = time.perf_counter() - started
    try:
        await drive(fake, members[-WARM_UP // 4:], WARM_UP, c)
        latencies, failures = await drive(fake, members[:-WARM_UP // 4], n, c)
    finally:
        await shutdown(bot)
        task.cancel()
    return {"latencies": latencies, "failures": failures, "startup": startup,
            "prepare": prepared, "plugins": sorted(bot.plugins.plugins)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="300 interactions")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--plugins", default=None,
                        help="comma-separated allowlist (default: every installed plugin)")
    args = parser.parse_args()
    n = 300 if args.quick else args.n
    configure_logging("WARNING", "json", [])
    logging.getLogger().setLevel(logging.WARNING)
    # A database of its own, never the one named (see growmies_testkit.databases).
    async with throwaway_database(args.database_url or "", prefix="growmies_bench") as db_url:
        fake = FakeDiscord()
        await fake.start()
        try:
            guild = fake.create_guild("Bench")
            # 4 interactions per member stays under the default throttle (5 per 10 s).
            members = [guild.add_member(f"m{i}") for i in range(max(1, n // 4) + WARM_UP // 4)]
            bare = await run_bare(fake, members, n, args.concurrency)
            allow = None if args.plugins is None else [
                p for p in args.plugins.split(",") if p]
            grow = await run_growmies(fake, members, n, args.concurrency, db_url, allow)
        finally:
            await fake.close()
    print(f"interactions: {n} at concurrency {args.concurrency}")
    print(f"plugins loaded: {', '.join(grow['plugins'])}")
    for label, res in (("bare nextcord", bare), ("growmies", grow)):
        lat = res["latencies"]
        med = statistics.median(lat) * 1000 if lat else float("nan")
        tail = p99(lat) * 1000 if lat else float("nan")
        print(f"{label:14s} median {med:7.2f} ms  p99 {tail:7.2f} ms  failed {res['failures']}"
              f"  start-up to first sync {res['startup']:.2f} s")
    if bare["latencies"] and grow["latencies"]:
        print(f"p99 ratio growmies/bare: {p99(grow['latencies']) / p99(bare['latencies']):.2f}"
              " (target <= 1.5)")
        print(f"start-up ratio growmies/bare: {grow['startup'] / bare['startup']:.2f} "
              f"(growmies: {grow['prepare']:.2f} s importing plugins, migrating a fresh "
              f"database and setting plugins up; {grow['startup'] - grow['prepare']:.2f} s "
              "login, gateway and command sync)")


if __name__ == "__main__":
    asyncio.run(main())
