"""Message XP: the buffered engine vs a naive one-UPDATE-per-message path, same run.

Messages enter where the gateway hands them to the bot (nextcord's MESSAGE_CREATE parser), so
each goes through the core's per-guild listener gate, the compliance listener and the XP
rules. Every member's messages are 61 simulated seconds apart, so every message earns XP (the
worst case for writes). The naive path is favoured: its rows already exist and it skips
level-up detection. The buffered path also runs with multipliers on (five role multipliers,
every member holding two of those roles, a channel multiplier and a running boost; see
plugins/compliance/multipliers.py): its statements and throughput should stay within 10% of
the run without them (each mode runs 3 times, alternated; best time, fewest statements,
and the spread of statements).
PostgreSQL by default ($TEST_DATABASE_URL or the local server):

    python bench/xp.py                       # quick: 10,000 messages, 1,000 members (~20 s)
    python bench/xp.py --full                # the issue's 50,000 messages, 5,000 members
    python bench/xp.py --messages 20000 --members 2000 --guilds 10
    python bench/xp.py --database-url sqlite://x.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nextcord
from tortoise import Tortoise

from bench.support import (
    StatementCounter,
    default_url,
    throwaway_database,
)
from bot.app import prepare, shutdown
from bot.loader import discover
from bot.logs import configure_logging
from bot.settings import Settings
from growmies_testkit.fake_discord import FakeDiscord
from plugins.compliance.xp import XpEngine


class NaiveXp(XpEngine):
    """The path the buffer replaces: one UPDATE per awarded message, at once."""

    async def add(self, guild_id: int, user_id: int, amount: int, *,
                  channel_id: int | None = None, message: bool = False) -> None:
        conn = Tortoise.get_connection("default")
        pg = conn.capabilities.dialect == "postgres"
        marks = ("$1", "$2", "$3", "$4") if pg else ("?", "?", "?", "?")
        await conn.execute_query(
            f'UPDATE "compliance_member" SET "xp" = "xp" + {marks[0]}, '
            f'"message_count" = "message_count" + 1, "last_xp_at" = {marks[1]} '
            f'WHERE "guild_id" = {marks[2]} AND "user_id" = {marks[3]}',
            [amount, self.clock(), guild_id, user_id],
        )


def message_payload(seq: int, guild_id: int, channel_id: int, user_id: int,
                    roles: list[int] | None = None) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": str(nextcord.utils.time_snowflake(datetime.now(UTC)) + seq),
        "channel_id": str(channel_id), "guild_id": str(guild_id),
        "author": {"id": str(user_id), "username": f"m{user_id}", "discriminator": "0",
                   "avatar": None, "global_name": None},
        "member": {"roles": [str(r) for r in roles or []], "joined_at": now, "deaf": False,
                   "mute": False, "flags": 0},
        "content": "hello growmies", "timestamp": now, "edited_timestamp": None,
        "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": False, "type": 0,
    }


async def drive(bot: Any, plugin: Any, engine: XpEngine, rounds: list[list[dict[str, Any]]],
                start: datetime) -> tuple[float, int, int]:
    """Feed every round through the message path; returns (seconds, statements, awards)."""
    plugin.xp = engine
    processed = 0
    awarded = 0
    done = asyncio.Event()
    target = 0
    judge = engine.on_message

    async def counted(*args: Any, **kwargs: Any) -> int:
        nonlocal processed, awarded
        granted = await judge(*args, **kwargs)
        processed += 1
        awarded += granted > 0
        if processed >= target:
            done.set()
        return granted

    engine.on_message = counted  # type: ignore[method-assign]
    simulated = start
    engine.clock = lambda: simulated
    counter = StatementCounter()
    counter.install()
    began = time.perf_counter()
    try:
        for batch in rounds:
            target += len(batch)
            done.clear()
            for payload in batch:
                bot._connection.parse_message_create(payload)
            await done.wait()
            # The next message of each member comes a little over the 60 s cooldown later.
            simulated += timedelta(seconds=61)
        await engine.flush()
        elapsed = time.perf_counter() - began
    finally:
        counter.uninstall()
    return elapsed, counter.count, awarded


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--guilds", type=int, default=10)
    parser.add_argument("--full", action="store_true", help="50,000 messages, 5,000 members")
    parser.add_argument("--database-url", default=default_url())
    args = parser.parse_args()
    if args.full:
        args.messages, args.members = 50_000, 5_000
    configure_logging("WARNING", "json", [])
    per_guild = max(1, args.members // args.guilds)
    async with throwaway_database(args.database_url) as url:
        fake = FakeDiscord()
        await fake.start()
        guilds = [fake.create_guild(f"Bench {g}") for g in range(args.guilds)]
        # Every member holds two of five roles; multipliers are set on them in the third run.
        roles = {guild.id: [guild.add_role(f"r{n}").id for n in range(5)] for guild in guilds}
        members = [(guild, guild.add_member(f"g{g}m{i}"))
                   for g, guild in enumerate(guilds) for i in range(per_guild)]
        held = {member.id: [roles[guild.id][i % 5], roles[guild.id][(i + 1) % 5]]
                for i, (guild, member) in enumerate(members)}
        settings = Settings(_env_file=None, discord_token=fake.token,  # type: ignore[call-arg]
                            discord_api_base=fake.api_base, database_url=url,
                            log_format="json", log_level="WARNING")
        bot = await prepare(settings, discover(["compliance"]))
        task = asyncio.create_task(bot.start(fake.token))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), 30)
            plugin = bot.plugins.plugins["compliance"]
            await plugin.xp.stop()  # the benchmark flushes explicitly
            # Steady state: the core's toggle cache is warm (its first burst of misses reads
            # the database once per message; that is the core's, not the XP path's, cost).
            for guild in guilds:
                await bot.services.toggles.is_enabled(guild.id, "compliance")
                await plugin.settings.get(guild.id)  # and so is the XP settings cache
            seq = 0
            rounds: list[list[dict[str, Any]]] = []
            while seq < args.messages:
                batch = []
                for guild, member in members:
                    if seq >= args.messages:
                        break
                    batch.append(message_payload(seq, guild.id, guild.text_channel.id,
                                                 member.id, held[member.id]))
                    seq += 1
                rounds.append(batch)
            start = datetime(2026, 1, 1, tzinfo=UTC)

            async def set_multipliers(on: bool) -> None:
                # Factors whose product is x1 (highest role x2, channel x0.25, boost x2):
                # every step of the rule runs, yet both modes write the same XP. A larger
                # product means more level-ups and so more level UPDATEs: the cost of the
                # extra XP, not of the multipliers.
                for guild in guilds:
                    await plugin.settings.update(
                        guild.id,
                        xp_role_multipliers={str(r): 2.0 if n % 2 == 0 else 1.5
                                             for n, r in enumerate(roles[guild.id])} if on
                        else {},
                        xp_channel_multipliers={str(guild.text_channel.id): 0.25} if on else {},
                        xp_boost=2.0, xp_boost_until=start + timedelta(days=30) if on else None)

            # Alternated twice, best time of each (the machine is shared and noisy).
            runs: dict[bool, list[tuple[float, int, int]]] = {False: [], True: []}
            for day, on in enumerate((False, True) * 3):
                await set_multipliers(on)
                engine = XpEngine(plugin.settings, flush_interval=3600)
                runs[on].append(await drive(bot, plugin, engine, rounds,
                                            start + timedelta(days=day)))
            await set_multipliers(False)
            b_time, b_sql, b_awards = (min(r[0] for r in runs[False]),
                                       min(r[1] for r in runs[False]), runs[False][0][2])
            m_time, m_sql, m_awards = (min(r[0] for r in runs[True]),
                                       min(r[1] for r in runs[True]), runs[True][0][2])
            spread = {on: (min(r[1] for r in rs), max(r[1] for r in rs))
                      for on, rs in runs.items()}
            naive = NaiveXp(plugin.settings)
            n_time, n_sql, n_awards = await drive(bot, plugin, naive, rounds,
                                                  start + timedelta(days=7))
        finally:
            await shutdown(bot)
            task.cancel()
            await fake.close()
    db = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"{args.messages:,} messages from {len(members):,} members in {args.guilds} guilds "
          f"on {db}; awards: buffered {b_awards:,}, multipliers {m_awards:,}, naive "
          f"{n_awards:,}")
    for label, secs, sql in (("buffered", b_time, b_sql), ("multiplied", m_time, m_sql),
                             ("naive", n_time, n_sql)):
        print(f"{label:10s} {args.messages / secs:10,.0f} messages/s  {secs:7.2f} s  "
              f"{sql:8,} SQL statements")
    print(f"multipliers on vs off: statements {m_sql / max(b_sql, 1):.2f}x, throughput "
          f"{b_time / m_time:.2f}x (target: within 10%); statements per run, off "
          f"{spread[False][0]}-{spread[False][1]}, on {spread[True][0]}-{spread[True][1]} "
          "(size-triggered flushes depend on timing)")
    print(f"statements: naive/buffered = {n_sql / max(b_sql, 1):,.1f}x fewer (target >= 10x)")
    print(f"throughput: buffered/naive = {n_time / b_time:,.1f}x (target >= 5x); "
          f"with multipliers/naive = {n_time / m_time:,.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
