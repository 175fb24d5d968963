"""Cost and abuse control: a per-member request rate, per-member daily and per-guild monthly
token budgets from the usage the API reports (estimated when it reports none)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from tortoise.expressions import F
from tortoise.functions import Sum

from bot.errors import UserError
from plugins.llm.models import LLMGuildConfig, LLMUsage

WINDOW_SECONDS = 60.0
# A few XP for using the assistant, for the first answers of a day only.
XP_PER_ANSWER = 2
XP_ANSWERS_PER_DAY = 5


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


async def guild_config(guild_id: int | None) -> LLMGuildConfig:
    """The guild's settings row, or an unsaved one holding the defaults."""
    if guild_id is None:
        return LLMGuildConfig(guild_id=0)
    config = await LLMGuildConfig.get_or_none(guild_id=guild_id)
    return config or LLMGuildConfig(guild_id=guild_id)


class UsageLedger:
    async def record(self, guild_id: int | None, user_id: int, prompt_tokens: int,
                     completion_tokens: int, *, estimated: bool) -> int:
        """Add one request's tokens to today's row; returns the member's requests today."""
        day = today()
        row, _ = await LLMUsage.get_or_create(guild_id=guild_id, user_id=user_id, day=day)
        values: dict[str, object] = {
            "requests": F("requests") + 1,
            "prompt_tokens": F("prompt_tokens") + prompt_tokens,
            "completion_tokens": F("completion_tokens") + completion_tokens,
        }
        if estimated:
            values["estimated"] = True
        await LLMUsage.filter(id=row.id).update(**values)
        return row.requests + 1

    async def _sum(self, **filters: object) -> int:
        rows = await LLMUsage.filter(**filters).annotate(
            p=Sum("prompt_tokens"), c=Sum("completion_tokens")).values("p", "c")
        if not rows:
            return 0
        return int(rows[0]["p"] or 0) + int(rows[0]["c"] or 0)

    async def summary(self, guild_id: int | None, user_id: int, *,
                      include_guild: bool) -> UsageSummary:
        config = await guild_config(guild_id)
        day = today()
        month_start = day.replace(day=1)
        row = await LLMUsage.get_or_none(guild_id=guild_id, user_id=user_id, day=day)
        user_today = (row.prompt_tokens + row.completion_tokens) if row else 0
        user_month = await self._sum(guild_id=guild_id, user_id=user_id, day__gte=month_start)
        guild_month = (await self._sum(guild_id=guild_id, day__gte=month_start)
                       if include_guild else None)
        return UsageSummary(user_today, user_month, row.requests if row else 0, guild_month,
                            config.user_daily_tokens, config.guild_monthly_tokens)

    async def check(self, guild_id: int | None, user_id: int, config: LLMGuildConfig) -> None:
        """Refuse a request when the member's day or the guild's month is used up."""
        row = await LLMUsage.get_or_none(guild_id=guild_id, user_id=user_id, day=today())
        used = (row.prompt_tokens + row.completion_tokens) if row else 0
        if used >= config.user_daily_tokens:
            raise UserError(
                f"You've used your daily AI budget ({config.user_daily_tokens:,} tokens). "
                "It resets at midnight UTC; see /chat usage.")
        month_start = today().replace(day=1)
        if await self._sum(guild_id=guild_id, day__gte=month_start) >= (
                config.guild_monthly_tokens):
            raise UserError(
                "This server has used its monthly AI budget; it resets on the 1st. "
                "An admin can raise it with /llm config.")
