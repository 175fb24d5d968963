"""MEE6 import of 100,000 players: time and SQL statements of each step, batched.

The file is in MEE6's leaderboard shape with compact JSON (id, username, xp, level), so
100,000 players fit the 8 MB upload limit (MEE6's full records, with avatar and
detailed_xp, fit about 35,000 per file). A fifth of the players are already members here,
half of those with more XP than the file (kept). The import runs twice: the second apply
must change nothing (idempotent). Statements are counted through Tortoise (BEGIN and COMMIT
included). PostgreSQL by default ($TEST_DATABASE_URL or the local server):

    python bench/mee6_import.py
    python bench/mee6_import.py --players 20000
    python bench/mee6_import.py --database-url sqlite://x.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tortoise import Tortoise

from bench.support import StatementCounter, default_url, open_orm, throwaway_database
from bot.api import GuildConfig
from bot.logs import configure_logging
from plugins.compliance.import_rewards import ImportRewards
from plugins.compliance.mee6_import import apply, dry_run, parse
from plugins.compliance.models import GuildSettings, MemberRecord
from plugins.compliance.xp import XpEngine

GUILD = 4242
FIRST_ID = 300_000_000_000_000_000


def mee6_file(players: int, rng: random.Random) -> bytes:
    body = {"page": 0, "guild": {"id": "1", "name": "Old server"},
            "players": [{"id": str(FIRST_ID + n), "username": f"m{n}",
                         "xp": rng.randrange(0, 2_000_000), "level": 0}
                        for n in range(players)]}
    return json.dumps(body, separators=(",", ":")).encode()


async def existing_members(players: int, rng: random.Random) -> int:
    """A fifth of the file's players already here, half of them ahead of the file."""
    rows = [MemberRecord(guild_id=GUILD, user_id=FIRST_ID + n,
                         xp=3_000_000 if n % 2 else rng.randrange(0, 1000))
            for n in range(0, players, 5)]
    await MemberRecord.bulk_create(rows, batch_size=1000)
    return len(rows)


async def timed(step: object) -> tuple[float, int, object]:
    counter = StatementCounter()
    counter.install()
    began = time.perf_counter()
    try:
        result = await step  # type: ignore[misc]
    finally:
        counter.uninstall()
    return time.perf_counter() - began, counter.count, result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--database-url", default=default_url())
    args = parser.parse_args()
    configure_logging("WARNING", "json", [])
    rng = random.Random(16)
    data = mee6_file(args.players, rng)
    async with throwaway_database(args.database_url) as url:
        await open_orm(url)
        engine = XpEngine(GuildConfig(GuildSettings))
        already = await existing_members(args.players, rng)
        began = time.perf_counter()
        plan = parse(data)
        parse_time = time.perf_counter() - began
        dry_time, dry_sql, _ = await timed(dry_run(GUILD, plan))
        summary = plan.summary()
        apply_time, apply_sql, _ = await timed(apply(GUILD, plan, engine))
        rows_after = await MemberRecord.filter(guild_id=GUILD).count()
        xp_after = await MemberRecord.filter(guild_id=GUILD).order_by("user_id").values_list(
            "xp", flat=True)
        again_dry_time, _, _ = await timed(dry_run(GUILD, plan))
        again_summary = plan.summary()
        again_time, again_sql, _ = await timed(apply(GUILD, plan, engine))
        same = (await MemberRecord.filter(guild_id=GUILD).order_by("user_id").values_list(
            "xp", flat=True)) == xp_after
        # Role rewards afterwards: who reached a reward level, then the job's rows.
        await GuildSettings.create(guild_id=GUILD, role_rewards={"5": 1, "20": 2})
        no_cache = SimpleNamespace(bot=SimpleNamespace(get_guild=lambda guild_id: None))
        rewards = ImportRewards(cast(Any, no_cache), GuildConfig(GuildSettings))
        pick_time, pick_sql, picked = await timed(rewards.members_to_reward(GUILD, plan.players))
        queue_time, queue_sql, _ = await timed(rewards.queue(GUILD, 1, cast(list[int], picked)))
        pg = Tortoise.get_connection("default").capabilities.dialect == "postgres"
        await Tortoise.close_connections()
    db = "PostgreSQL" if pg else "SQLite"
    print(f"{args.players:,} players ({len(data) / 1_048_576:.1f} MB of JSON) into a guild "
          f"with {already:,} of them already on {db}")
    print(f"parse + validate     {parse_time:6.2f} s")
    print(f"dry run              {dry_time:6.2f} s  {dry_sql:6,} SQL statements  "
          f"({summary.splitlines()[1].replace('**', '')})")
    print(f"apply                {apply_time:6.2f} s  {apply_sql:6,} SQL statements  "
          f"({args.players / apply_time:,.0f} players/s; {rows_after:,} rows after)")
    print(f"apply again          {again_time:6.2f} s  {again_sql:6,} SQL statements  "
          f"(dry run {again_dry_time:.2f} s: "
          f"{again_summary.splitlines()[1].replace('**', '')}); rows unchanged: {same}")
    print(f"reward job: pick     {pick_time:6.2f} s  {pick_sql:6,} SQL statements  "
          f"({len(cast(list[int], picked)):,} members at a reward level)")
    print(f"reward job: queue    {queue_time:6.2f} s  {queue_sql:6,} SQL statements  "
          "(one multi-row insert per 1,000 members, in one transaction)")
    print(f"statements per player: {apply_sql / args.players:.4f} "
          "(one multi-row upsert per 1,000 players, plus BEGIN/COMMIT)")


if __name__ == "__main__":
    asyncio.run(main())
