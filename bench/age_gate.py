"""Age-gate decisions per second: cached vs uncached answers, through the core's AgeGate.

The core's AgeGate.decide (plugin toggle check, then the compliance provider) is called for
members of one guild, half of them verified. "Uncached" gives the provider a zero TTL, so
every decision reads the member's row; "cached" is the steady state after one read each.
The audited check() (one audit row per decision, what 21+ commands pay) is shown too.

    python bench/age_gate.py                  # 5,000 members, PostgreSQL
    python bench/age_gate.py --members 20000 --concurrency 100
    python bench/age_gate.py --database-url sqlite://x.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import default_url, open_orm, throwaway_database
from bot.audit import AuditWriter
from bot.contract import Plugin, age_restricted, command_age_feature
from bot.gating import GateCache
from bot.logs import configure_logging
from bot.services import AgeGate
from bot.toggles import GuildToggles
from plugins.compliance.gate import CachedAgeGate
from plugins.compliance.models import MemberRecord

GUILD = 777


class AdultsOnly(Plugin):
    name = "bench"


async def strain_info() -> None:
    """Stands in for a slash-command callback with no declaration (gated by the rating)."""


async def rate(members: int, concurrency: int,
               decide: Callable[[int], Awaitable[object]]) -> float:
    """Decisions per second for one decision per member, `concurrency` at a time."""
    queue = iter(range(1, members + 1))

    async def worker() -> None:
        for user_id in queue:
            await decide(user_id)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return members / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--cached-rounds", type=int, default=20)
    parser.add_argument("--database-url", default=default_url())
    args = parser.parse_args()
    configure_logging("WARNING", "json", [])
    async with throwaway_database(args.database_url) as url:
        await open_orm(url)
        await MemberRecord.bulk_create(
            [MemberRecord(guild_id=GUILD, user_id=n, is_21_plus=bool(n % 2),
                          status="verified" if n % 2 else "unverified")
             for n in range(1, args.members + 1)],
            batch_size=1000)
        audit = AuditWriter()
        toggles = GuildToggles(lambda: {"compliance": True}, audit)
        core = AgeGate(toggles, audit)

        uncached_provider = CachedAgeGate(ttl=0)
        core.provide("compliance", uncached_provider)
        uncached = await rate(args.members, args.concurrency,
                              lambda uid: core.decide(GUILD, uid))
        audited = await rate(args.members, args.concurrency,
                             lambda uid: core.check(GUILD, uid, "bench.feature"))

        cached_provider = CachedAgeGate()
        core.provide("compliance", cached_provider)
        await rate(args.members, args.concurrency, lambda uid: core.decide(GUILD, uid))
        reads = cached_provider.reads
        cached_rates = [await rate(args.members, args.concurrency,
                                   lambda uid: core.decide(GUILD, uid))
                        for _ in range(args.cached_rounds)]
        assert cached_provider.reads == reads, "cached rounds must not touch the database"

        # What the router does per interaction: derive the surface's gate from the plugin's
        # rating and declarations, then decide (cached).
        plugin = AdultsOnly()
        gates = GateCache()

        async def per_surface(uid: int) -> object:
            gate = gates.get(plugin, "/strain info", (strain_info,))
            assert gate.feature is not None
            return await core.decide(GUILD, uid)

        # The landed router's path, for comparison: read the 21+ marker off the callbacks.
        @age_restricted("bench.feature")
        async def marked() -> None: ...

        async def per_marker(uid: int) -> object:
            feature = command_age_feature(marked) or command_age_feature(strain_info)
            assert feature is not None
            return await core.decide(GUILD, uid)

        surface_rates, marker_rates = [], []
        for _ in range(args.cached_rounds):
            surface_rates.append(await rate(args.members, args.concurrency, per_surface))
            marker_rates.append(await rate(args.members, args.concurrency, per_marker))
        # Listeners and autocomplete: audited once per member and window, then cached.
        await rate(args.members, args.concurrency,
                   lambda uid: core.check(GUILD, uid, "bench:listener", quiet=True))
        await audit.flush()
        quiet_rates = [await rate(args.members, args.concurrency,
                                  lambda uid: core.check(GUILD, uid, "bench:listener",
                                                         quiet=True))
                       for _ in range(args.cached_rounds)]
        allowed = sum([(await core.decide(GUILD, uid)).allowed
                       for uid in range(1, args.members + 1)])
        from tortoise import Tortoise

        pg = Tortoise.get_connection("default").capabilities.dialect == "postgres"
        await Tortoise.close_connections()
    cached = sorted(cached_rates)[len(cached_rates) // 2]
    surface = sorted(surface_rates)[len(surface_rates) // 2]
    marker = sorted(marker_rates)[len(marker_rates) // 2]
    quiet = sorted(quiet_rates)[len(quiet_rates) // 2]
    print(f"{args.members:,} members ({allowed:,} verified) on "
          f"{'PostgreSQL' if pg else 'SQLite'}, concurrency {args.concurrency}")
    print(f"uncached decide()         {uncached:12,.0f} decisions/s  (one row read each)")
    print(f"uncached audited check()  {audited:12,.0f} decisions/s  (+ one audit insert each)")
    print(f"cached decide()           {cached:12,.0f} decisions/s  (median of "
          f"{args.cached_rounds} rounds, no database access)")
    print(f"cached per-surface gate   {surface:12,.0f} decisions/s  (gate lookup + decide, "
          "what the router does per interaction)")
    print(f"cached per-marker gate    {marker:12,.0f} decisions/s  (the landed router: "
          "markers read off the callback, then decide)")
    print(f"cached quiet check()      {quiet:12,.0f} decisions/s  (listeners/autocomplete, "
          "audit already written this window)")
    print(f"cached/uncached: {cached / uncached:,.0f}x; per-surface/per-marker: "
          f"{surface / marker:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
