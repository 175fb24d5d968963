"""XP from messages, voice and other plugins, buffered in memory and written in batches.

A chat burst must not become one database write per message: awards accumulate per
(guild, member) and are flushed in one transaction, every `flush_interval` seconds or as soon
as `max_pending` members have pending XP, and on shutdown. A crash (SIGKILL, power loss) loses
at most the XP earned since the last flush: `flush_interval` seconds (2 s by default) or
about `max_pending` members' worth, whichever comes first (while the database is slow, up to
`BACKPRESSURE_FACTOR × max_pending`, after which awarding waits). A failed flush keeps the
XP for the next.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from bot.api import GuildConfig, PeriodicTask
from plugins.compliance.dates import today_in_new_york
from plugins.compliance.levels import level_for, tier_for
from plugins.compliance.models import GuildSettings
from plugins.compliance.multipliers import Multipliers

log = structlog.get_logger("plugins.compliance.xp")

# Rows per INSERT statement: 5 parameters each stays far below SQLite's 32,766 and
# PostgreSQL's 32,767 bind parameters.
ROWS_PER_STATEMENT = 1000
# Past max_pending × this many members with pending XP, awarding waits for a flush.
BACKPRESSURE_FACTOR = 4


@dataclass
class PendingXp:
    xp: int = 0
    messages: int = 0
    last_xp_at: datetime | None = None
    channel_id: int | None = None


@dataclass(frozen=True)
class LevelUp:
    guild_id: int
    user_id: int
    old_level: int
    new_level: int
    tier: str
    channel_id: int | None


LevelUpHandler = Callable[[list[LevelUp]], Awaitable[None]]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _upsert_sql(rows: int, dialect: str) -> str:
    if dialect == "postgres":
        marks = ", ".join(
            f"(${i * 5 + 1}, ${i * 5 + 2}, 'unverified', FALSE, 0, ${i * 5 + 3}, 0, "
            f"${i * 5 + 4}, ${i * 5 + 5}, 'Seedling')"
            for i in range(rows)
        )
    else:
        marks = ", ".join("(?, ?, 'unverified', FALSE, 0, ?, 0, ?, ?, 'Seedling')"
                          for _ in range(rows))
    sql = (
        'INSERT INTO "compliance_member" ("guild_id", "user_id", "status", "is_21_plus", '
        '"failed_attempts", "xp", "level", "message_count", "last_xp_at", "tier") '
        f"VALUES {marks} "
        'ON CONFLICT ("guild_id", "user_id") DO UPDATE SET '
        '"xp" = "compliance_member"."xp" + EXCLUDED."xp", '
        '"message_count" = "compliance_member"."message_count" + EXCLUDED."message_count", '
        '"last_xp_at" = COALESCE(EXCLUDED."last_xp_at", "compliance_member"."last_xp_at") '
        'RETURNING "guild_id", "user_id", "xp", "level"'
    )
    if dialect == "postgres":
        # Tortoise's asyncpg client discards rows of statements starting with INSERT;
        # a data-modifying CTE returns them (SQLite has no such CTEs, nor needs one).
        return f"WITH upserted AS ({sql}) SELECT * FROM upserted"
    return sql


def _levels_sql(rows: int, dialect: str) -> str:
    """One UPDATE setting level and tier for many members (UPDATE ... FROM a VALUES list)."""
    if dialect == "postgres":
        marks = ", ".join(
            f"(${i * 4 + 1}::BIGINT, ${i * 4 + 2}::BIGINT, ${i * 4 + 3}::INT, "
            f"${i * 4 + 4}::VARCHAR)"
            for i in range(rows)
        )
        return (
            'UPDATE "compliance_member" AS m SET "level" = v.level, "tier" = v.tier '
            f"FROM (VALUES {marks}) AS v(guild_id, user_id, level, tier) "
            "WHERE m.guild_id = v.guild_id AND m.user_id = v.user_id"
        )
    marks = ", ".join("(?, ?, ?, ?)" for _ in range(rows))
    return (
        f"WITH v(guild_id, user_id, level, tier) AS (VALUES {marks}) "
        'UPDATE "compliance_member" SET "level" = v.level, "tier" = v.tier FROM v '
        'WHERE "compliance_member"."guild_id" = v.guild_id '
        'AND "compliance_member"."user_id" = v.user_id'
    )


@dataclass(frozen=True)
class MessageRules:
    """One guild's XP rules as the message path reads them, built once per settings row."""

    settings: GuildSettings
    multipliers: Multipliers
    excluded_channels: frozenset[int]
    excluded_roles: frozenset[int]

    @classmethod
    def of(cls, settings: GuildSettings) -> MessageRules:
        return cls(settings, Multipliers.of(settings),
                   frozenset(settings.excluded_channel_ids or ()),
                   frozenset(settings.excluded_role_ids or ()))


class XpEngine:
    """Implements the core's XpProvider and the message/voice XP rules."""

    def __init__(self, settings: GuildConfig[GuildSettings], *, flush_interval: float = 2.0,
                 max_pending: int = 2000, clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None,
                 on_level_up: LevelUpHandler | None = None) -> None:
        self.settings = settings
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.clock = clock
        self.rng = rng or random.Random()
        self.on_level_up = on_level_up
        self._pending: dict[tuple[int, int], PendingXp] = {}
        self._last_award: dict[tuple[int, int], datetime] = {}
        self._daily: dict[tuple[int, int, str], int] = {}
        self._daily_date: date | None = None
        self._rules: dict[int, MessageRules] = {}
        self._flush_lock = asyncio.Lock()
        self._flusher = PeriodicTask("compliance-xp-flush", flush_interval, self._tick)
        self._spawned: set[asyncio.Task[list[LevelUp]]] = set()
        self.statements = 0
        self.flushes = 0

    @property
    def pending_members(self) -> int:
        return len(self._pending)

    # ----- earning ---------------------------------------------------------------------------
    async def on_message(self, guild_id: int | None, user_id: int, channel_id: int,
                         role_ids: Iterable[int], *, is_bot: bool,
                         parent_channel_id: int | None = None) -> int:
        """XP for one message; 0 for bots, DMs, excluded channels/roles and the cooldown."""
        if guild_id is None or is_bot:
            return 0
        settings = await self.settings.get(guild_id)
        rules = self.rules(guild_id, settings)
        excluded = rules.excluded_channels
        if channel_id in excluded or parent_channel_id in excluded:
            return 0
        if rules.excluded_roles and not rules.excluded_roles.isdisjoint(role_ids):
            return 0
        now = self.clock()
        multipliers = rules.multipliers
        factor = 1.0 if multipliers.trivial else multipliers.factor(role_ids, channel_id,
                                                                    parent_channel_id, now)
        if factor == 0:
            return 0
        key = (guild_id, user_id)
        last = self._last_award.get(key)
        if last is not None and now - last < timedelta(seconds=settings.xp_cooldown_seconds):
            return 0
        self._last_award[key] = now
        low, high = sorted((max(0, settings.xp_min), max(0, settings.xp_max)))
        amount = self.rng.randint(low, high)
        if factor != 1.0:
            amount = round(amount * factor)
        await self.add(guild_id, user_id, amount, channel_id=channel_id, message=True)
        return amount

    def rules(self, guild_id: int, settings: GuildSettings) -> MessageRules:
        # Parsed once per cached settings row: the cache hands out the same object until an
        # admin changes something, so the message path re-parses nothing.
        cached = self._rules.get(guild_id)
        if cached is None or cached.settings is not settings:
            cached = MessageRules.of(settings)
            self._rules[guild_id] = cached
        return cached

    async def award(self, guild_id: int, user_id: int, amount: int, reason: str) -> int:
        """XP from another plugin, capped per member, reason and New York day."""
        settings = await self.settings.get(guild_id)
        today = today_in_new_york(self.clock())
        if today != self._daily_date:
            self._daily, self._daily_date = {}, today
        key = (guild_id, user_id, reason[:64])
        granted = max(0, min(int(amount), settings.daily_cap_per_reason - self._daily.get(key, 0)))
        if granted:
            self._daily[key] = self._daily.get(key, 0) + granted
            await self.add(guild_id, user_id, granted)
        return granted

    async def add(self, guild_id: int, user_id: int, amount: int, *,
                  channel_id: int | None = None, message: bool = False) -> None:
        entry = self._pending.setdefault((guild_id, user_id), PendingXp())
        entry.xp += amount
        if message:
            entry.messages += 1
            entry.last_xp_at = self.clock()
        if channel_id is not None:
            entry.channel_id = channel_id
        pending = len(self._pending)
        if pending >= self.max_pending:
            if pending >= BACKPRESSURE_FACTOR * self.max_pending:
                # The database is not keeping up: wait, so memory stays bounded.
                await self.flush()
            elif not self._flush_lock.locked() and not self._spawned:
                # Write in the background: the message path never waits for the database.
                task = asyncio.create_task(self.flush(), name="compliance-xp-size-flush")
                self._spawned.add(task)
                task.add_done_callback(self._spawned.discard)

    async def drain(self) -> None:
        """Wait for size-triggered background flushes to finish."""
        while self._spawned:
            await asyncio.gather(*self._spawned, return_exceptions=True)

    def pending_for(self, guild_id: int, user_id: int) -> int:
        entry = self._pending.get((guild_id, user_id))
        return entry.xp if entry else 0

    @property
    def flush_lock(self) -> asyncio.Lock:
        """Held while a batch is written; hold it to delete rows no flush may re-create."""
        return self._flush_lock

    def forget_user(self, user_id: int) -> None:
        """Drop buffered XP and cooldowns of a member whose data is being deleted."""
        for store in (self._pending, self._last_award):
            for key in [k for k in store if k[1] == user_id]:
                del store[key]

    def drop_pending(self, guild_id: int, user_id: int | None = None) -> None:
        """Forget buffered XP of one member (or the whole guild) that an admin is resetting."""
        for key in [k for k in self._pending
                    if k[0] == guild_id and user_id in (None, k[1])]:
            del self._pending[key]

    # ----- writing ---------------------------------------------------------------------------
    async def flush(self) -> list[LevelUp]:
        """Write everything pending in one transaction; returns (and announces) level-ups."""
        async with self._flush_lock:
            if not self._pending:
                return []
            batch, self._pending = self._pending, {}
            try:
                level_ups = await self._write(batch)
            except Exception as exc:
                # Keep the XP for the next flush rather than losing it to a database hiccup.
                for key, entry in batch.items():
                    merged = self._pending.setdefault(key, PendingXp())
                    merged.xp += entry.xp
                    merged.messages += entry.messages
                    merged.last_xp_at = merged.last_xp_at or entry.last_xp_at
                    merged.channel_id = merged.channel_id or entry.channel_id
                log.warning("xp.flush_failed", error=type(exc).__name__, members=len(batch))
                return []
            self.flushes += 1
        if level_ups and self.on_level_up is not None:
            try:
                await self.on_level_up(level_ups)
            except Exception as exc:
                log.warning("xp.level_up_handler_failed", error=type(exc).__name__)
        return level_ups

    async def _write(self, batch: dict[tuple[int, int], PendingXp]) -> list[LevelUp]:
        items = list(batch.items())
        dialect = Tortoise.get_connection("default").capabilities.dialect
        level_ups: list[LevelUp] = []
        async with in_transaction("default") as conn:
            for start in range(0, len(items), ROWS_PER_STATEMENT):
                chunk = items[start:start + ROWS_PER_STATEMENT]
                values: list[Any] = []
                for (guild_id, user_id), entry in chunk:
                    values += [guild_id, user_id, entry.xp, entry.messages, entry.last_xp_at]
                _, rows = await conn.execute_query(_upsert_sql(len(chunk), dialect), values)
                self.statements += 1
                changed: list[Any] = []
                for row in rows:
                    guild_id, user_id, total, stored = (int(row[0]), int(row[1]), int(row[2]),
                                                        int(row[3]))
                    new_level = level_for(total)
                    if new_level == stored:
                        continue
                    tier = tier_for(new_level)
                    changed += [guild_id, user_id, new_level, tier]
                    if new_level > stored:
                        level_ups.append(LevelUp(guild_id, user_id, stored, new_level, tier,
                                                 batch[(guild_id, user_id)].channel_id))
                if changed:
                    await conn.execute_query(_levels_sql(len(changed) // 4, dialect), changed)
                    self.statements += 1
        return level_ups

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._flusher.start()

    async def stop(self) -> None:
        """Stop the background task and flush what is left (a clean shutdown loses nothing)."""
        await self._flusher.stop()
        await self.drain()
        await self.flush()

    async def _tick(self) -> None:
        await self.flush()
        self._prune_cooldowns()

    def _prune_cooldowns(self) -> None:
        # Cooldowns longer than an hour are not supported, so older entries are dead weight.
        if len(self._last_award) < 50_000:
            return
        cutoff = self.clock() - timedelta(hours=1)
        self._last_award = {k: v for k, v in self._last_award.items() if v >= cutoff}
