"""Cost and abuse control: a per-member request rate, and per-member daily and per-guild monthly
token budgets. A request reserves its maximum (prompt estimate + reply cap) in the database
before the model is called and settles the usage the API reports (estimated when it reports
none) afterwards, so concurrent requests cannot overshoot a budget."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import structlog
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from bot.api import GuildConfig, UserError, is_database_unreachable
from plugins.llm.deferred import DeferredWrites
from plugins.llm.models import (
    LLMGuildConfig,
    LLMGuildUsage,
    LLMMemberModelUsage,
    LLMModelDay,
    LLMUsage,
)

if TYPE_CHECKING:
    from plugins.llm.model_catalog import ModelChoice

WINDOW_SECONDS = 60.0
# A few XP for using the assistant, for the first answers of a day only.
XP_PER_ANSWER = 2
XP_ANSWERS_PER_DAY = 5

log = structlog.get_logger("plugins.llm.budget")


def today() -> date:
    return datetime.now(UTC).date()


class RequestRateLimiter:
    """At most `limit` requests per member per minute (in memory: one process per shard owns
    its guilds, so no coordination is needed)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[tuple[int | None, int], deque[float]] = {}

    def hit(self, guild_id: int | None, user_id: int, limit: int) -> float:
        """Record a request; returns 0 when allowed, else seconds until one is."""
        now = self.clock()
        hits = self._hits.setdefault((guild_id, user_id), deque())
        while hits and now - hits[0] >= WINDOW_SECONDS:
            hits.popleft()
        if len(hits) >= limit:
            return WINDOW_SECONDS - (now - hits[0])
        hits.append(now)
        return 0.0


@dataclass(frozen=True)
class UsageSummary:
    user_today: int
    user_month: int
    user_requests_today: int
    guild_month: int | None
    user_daily_limit: int
    guild_monthly_limit: int


class LLMGuildSettings:
    """The assistant's per-guild settings (llm_guild_config), read through the core's guild
    config store: cached, one read per guild for a burst, an admin's change seen at once.

    One module-level instance (`guild_settings`), because the core asks `general_chat_open`
    (an `@open_to_all_when` predicate, fixed when the cog class is defined) outside any plugin
    object; the plugin's setup binds it to this bot's store."""

    def __init__(self) -> None:
        self._table: GuildConfig[LLMGuildConfig] | None = None

    def bind(self, table: GuildConfig[LLMGuildConfig]) -> None:
        self._table = table

    @property
    def table(self) -> GuildConfig[LLMGuildConfig]:
        if self._table is None:
            raise RuntimeError("the llm plugin's guild settings are read before its setup")
        return self._table

    async def get(self, guild_id: int | None) -> LLMGuildConfig:
        """The guild's settings row, or an unsaved one holding the defaults (also in DMs).
        A failed read raises: budgets are never enforced from made-up defaults."""
        if guild_id is None:
            return LLMGuildConfig(guild_id=0)
        return await self.table.get(guild_id)

    async def update(self, guild_id: int, **changes: object) -> LLMGuildConfig:
        return await self.table.update(guild_id, **changes)

    async def general_chat_open(self, guild_id: int | None) -> bool:
        """The predicate the core asks before opening /chat and thread replies to everyone
        (on every message an unverified member posts, hence the cache). Fails closed: when the
        setting cannot be read, general chat is shut."""
        if guild_id is None:
            return False
        try:
            return bool((await self.get(guild_id)).general_chat_open)
        except Exception as exc:
            log.warning("llm.general_chat_unreadable", guild_id=guild_id,
                        error=type(exc).__name__)
            return False


guild_settings = LLMGuildSettings()
guild_config = guild_settings.get
general_chat_open = guild_settings.general_chat_open


# What `settle` returns when the member's count of requests today can't be read (the
# database dropped): above every daily threshold, so nothing is granted on a guess.
REQUESTS_UNKNOWN = 1 << 62


class BudgetExceeded(UserError):
    """A reservation did not fit; `scope` says whose budget ("member" or "server")."""

    def __init__(self, message: str, *, scope: str) -> None:
        super().__init__(message)
        self.scope = scope


@dataclass
class Reservation:
    """Tokens held for one request on the member's day row and the guild's month row."""

    guild_id: int
    user_id: int
    day: date
    month: date
    tokens: int
    settled: bool = False
    # The model the turn runs on, and whether its daily budget (llm_model_day) holds tokens.
    model: str | None = None
    model_budgeted: bool = False
    # False for the server's own paid work (automatic transcription): the server's month only.
    member_budgeted: bool = True


def _placeholders(dialect: str) -> Callable[[int], str]:
    return (lambda i: f"${i}") if dialect == "postgres" else (lambda i: "?")


def _reserve_sql(dialect: str) -> tuple[str, str]:
    """Conditional UPDATEs: each adds the reservation only if it still fits under the limit.

    The check and the write are one statement, so two concurrent requests cannot both see
    room that only one of them fits in: PostgreSQL re-evaluates the WHERE clause on the locked
    row after a concurrent update commits, and SQLite runs writers one at a time."""
    p = _placeholders(dialect)
    member = (
        f'UPDATE "llm_usage" SET "reserved_tokens" = "reserved_tokens" + {p(1)} '
        f'WHERE "guild_id" = {p(2)} AND "user_id" = {p(3)} AND "day" = {p(4)} AND '
        f'"prompt_tokens" + "completion_tokens" + "reserved_tokens" + {p(5)} <= {p(6)}'
    )
    guild = (
        f'UPDATE "llm_guild_usage" SET "reserved_tokens" = "reserved_tokens" + {p(1)} '
        f'WHERE "guild_id" = {p(2)} AND "month" = {p(3)} AND '
        f'"used_tokens" + "reserved_tokens" + {p(4)} <= {p(5)}'
    )
    return member, guild


def _model_sql(dialect: str) -> tuple[str, str]:
    """The per-model daily budget: the same conditional UPDATE, on llm_model_day."""
    p = _placeholders(dialect)
    ensure = (
        f'INSERT INTO "llm_model_day" ("guild_id", "model", "day", "used_tokens", '
        f'"reserved_tokens") VALUES ({p(1)}, {p(2)}, {p(3)}, 0, 0) '
        f'ON CONFLICT ("guild_id", "model", "day") DO NOTHING'
    )
    reserve = (
        f'UPDATE "llm_model_day" SET "reserved_tokens" = "reserved_tokens" + {p(1)} '
        f'WHERE "guild_id" = {p(2)} AND "model" = {p(3)} AND "day" = {p(4)} AND '
        f'"used_tokens" + "reserved_tokens" + {p(5)} <= {p(6)}'
    )
    return ensure, reserve


def _ensure_sql(dialect: str) -> tuple[str, str]:
    p = _placeholders(dialect)
    member = (
        f'INSERT INTO "llm_usage" ("guild_id", "user_id", "day", "requests", "prompt_tokens", '
        f'"completion_tokens", "reserved_tokens", "estimated") '
        f"VALUES ({p(1)}, {p(2)}, {p(3)}, 0, 0, 0, 0, {p(4)}) "
        f'ON CONFLICT ("guild_id", "user_id", "day") DO NOTHING'
    )
    guild = (
        f'INSERT INTO "llm_guild_usage" ("guild_id", "month", "used_tokens", "reserved_tokens") '
        f'VALUES ({p(1)}, {p(2)}, 0, 0) ON CONFLICT ("guild_id", "month") DO NOTHING'
    )
    return member, guild


class UsageLedger:
    """Token budgets enforced in the database: reserve before the model is called, settle
    with the real usage after (releasing what was not used), release all on failure."""

    def __init__(self, deferred: DeferredWrites | None = None) -> None:
        # Settlements the database could not take yet (deferred.py).
        self.deferred = deferred or DeferredWrites()

    async def reserve(self, guild_id: int | None, user_id: int, tokens: int,
                      config: LLMGuildConfig, model: ModelChoice | None = None, *,
                      member: bool = True) -> Reservation:
        """Hold `tokens` against the member's day (unless `member` is False), the guild's month
        and the model's day (when it has a budget), or raise BudgetExceeded holding nothing."""
        gid = guild_id or 0
        day = today()
        month = day.replace(day=1)
        reservation = Reservation(gid, user_id, day, month, 0, model=model.name if model
                                  else None, model_budgeted=bool(model and model.daily_tokens
                                                                 is not None),
                                  member_budgeted=member)
        await self._hold(reservation, tokens, config,
                         model.daily_tokens if model is not None else None)
        return reservation

    async def extend(self, reservation: Reservation, tokens: int, config: LLMGuildConfig,
                     model: ModelChoice | None = None) -> None:
        """Hold `tokens` more for a running turn (another tool round), or raise
        BudgetExceeded holding nothing more."""
        await self._hold(reservation, tokens, config,
                         model.daily_tokens if model is not None else None)

    async def _hold(self, r: Reservation, tokens: int, config: LLMGuildConfig,
                    model_limit: int | None) -> None:
        gid, user_id, day, month = r.guild_id, r.user_id, r.day, r.month
        conn = Tortoise.get_connection("default")
        dialect = conn.capabilities.dialect
        # asyncpg binds dates; SQLite stores them as ISO text (its default adapter is deprecated).
        d, m = (day, month) if dialect == "postgres" else (day.isoformat(), month.isoformat())
        ensure_member, ensure_guild = _ensure_sql(dialect)
        if r.member_budgeted:
            await conn.execute_query(ensure_member, [gid, user_id, d, False])
        await conn.execute_query(ensure_guild, [gid, m])
        ensure_model, reserve_model = _model_sql(dialect)
        if r.model_budgeted:
            await conn.execute_query(ensure_model, [gid, r.model, d])
        reserve_member, reserve_guild = _reserve_sql(dialect)
        async with in_transaction("default") as tx:
            held = 1
            if r.member_budgeted:
                held, _ = await tx.execute_query(
                    reserve_member, [tokens, gid, user_id, d, tokens, config.user_daily_tokens])
            if not held:
                raise BudgetExceeded(
                    f"You've used your daily AI budget ({config.user_daily_tokens:,} tokens), "
                    "or this request would go over it. It resets at midnight UTC; see "
                    "/llm usage.", scope="member")
            held, _ = await tx.execute_query(
                reserve_guild, [tokens, gid, m, tokens, config.guild_monthly_tokens])
            if not held:
                # Raising rolls the member's reservation back with the transaction.
                raise BudgetExceeded(
                    "This server has used its monthly AI budget; it resets on the 1st. "
                    "An admin can raise it with /llm config.", scope="server")
            if r.model_budgeted and model_limit is not None:
                held, _ = await tx.execute_query(
                    reserve_model, [tokens, gid, r.model, d, tokens, model_limit])
                if not held:
                    raise BudgetExceeded(
                        f"Today's budget for the model `{r.model}` here ({model_limit:,} "
                        "tokens) is used up; it resets at midnight UTC. Choose another with "
                        "/model.", scope="model")
        r.tokens += tokens

    async def settle(self, reservation: Reservation, prompt_tokens: int,
                     completion_tokens: int, *, estimated: bool, request: bool = True) -> int:
        """Replace the reservation by what was really used; returns the member's requests
        today. Settling twice is a no-op, so a `finally` can always release."""
        if reservation.settled:
            return 0
        reservation.settled = True
        r = reservation
        used = prompt_tokens + completion_tokens

        async def write() -> None:
            await self._settle(r, prompt_tokens, completion_tokens, estimated=estimated,
                               request=request)

        async def count_model() -> None:
            await _count_member_model(r, used, request)

        # Tokens already spent are counted even if the database drops now: once it is back.
        # Each write is one transaction (or idempotent), so a retry never counts twice.
        settled = await self.deferred.run("usage", write)
        if r.model is not None and (used or request):
            await self.deferred.run("model usage", count_model)
        if not settled:
            return REQUESTS_UNKNOWN
        try:
            row = await LLMUsage.get_or_none(guild_id=r.guild_id, user_id=r.user_id, day=r.day)
        except Exception as exc:
            if not is_database_unreachable(exc):
                raise
            return REQUESTS_UNKNOWN
        return row.requests if row else 0

    async def _settle(self, r: Reservation, prompt_tokens: int, completion_tokens: int, *,
                      estimated: bool, request: bool) -> None:
        used = prompt_tokens + completion_tokens
        async with in_transaction("default"):
            member = LLMUsage.filter(guild_id=r.guild_id, user_id=r.user_id, day=r.day)
            values: dict[str, object] = {
                "reserved_tokens": F("reserved_tokens") - r.tokens,
                "prompt_tokens": F("prompt_tokens") + prompt_tokens,
                "completion_tokens": F("completion_tokens") + completion_tokens,
            }
            if request:
                values["requests"] = F("requests") + 1
            if estimated:
                values["estimated"] = True
            if r.member_budgeted:
                await member.update(**values)
            await LLMGuildUsage.filter(guild_id=r.guild_id, month=r.month).update(
                reserved_tokens=F("reserved_tokens") - r.tokens,
                used_tokens=F("used_tokens") + used)
            if r.model_budgeted:
                await LLMModelDay.filter(guild_id=r.guild_id, model=r.model, day=r.day).update(
                    reserved_tokens=F("reserved_tokens") - r.tokens,
                    used_tokens=F("used_tokens") + used)

    async def release(self, reservation: Reservation) -> None:
        """Give the whole reservation back (the request failed before using anything)."""
        await self.settle(reservation, 0, 0, estimated=False, request=False)

    async def _sum(self, **filters: object) -> int:
        rows = await LLMUsage.filter(**filters).annotate(
            p=Sum("prompt_tokens"), c=Sum("completion_tokens")).values("p", "c")
        if not rows:
            return 0
        return int(rows[0]["p"] or 0) + int(rows[0]["c"] or 0)

    async def summary(self, guild_id: int | None, user_id: int, *,
                      include_guild: bool) -> UsageSummary:
        config = await guild_config(guild_id)
        gid = guild_id or 0
        day = today()
        month_start = day.replace(day=1)
        row = await LLMUsage.get_or_none(guild_id=gid, user_id=user_id, day=day)
        user_today = (row.prompt_tokens + row.completion_tokens) if row else 0
        user_month = await self._sum(guild_id=gid, user_id=user_id, day__gte=month_start)
        guild_month = None
        if include_guild:
            guild_row = await LLMGuildUsage.get_or_none(guild_id=gid, month=month_start)
            guild_month = guild_row.used_tokens if guild_row else 0
        return UsageSummary(user_today, user_month, row.requests if row else 0, guild_month,
                            config.user_daily_tokens, config.guild_monthly_tokens)


async def _count_member_model(r: Reservation, tokens: int, request: bool) -> None:
    """The member's tokens on this model today, for /llm usage (no budget reads it)."""
    assert r.model is not None
    key: dict[str, Any] = {"guild_id": r.guild_id, "user_id": r.user_id, "model": r.model,
                           "day": r.day}
    try:
        row, _ = await LLMMemberModelUsage.get_or_create(**key)
    except IntegrityError:  # the member's other turn created it first
        row = await LLMMemberModelUsage.get(**key)
    await LLMMemberModelUsage.filter(id=row.id).update(
        tokens=F("tokens") + tokens, requests=F("requests") + (1 if request else 0))
