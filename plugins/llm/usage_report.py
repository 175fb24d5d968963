"""/llm usage: a member's own tokens (today against their daily budget, this month, per model),
and for admins the server's month, paginated: page 1 per model (today against each model's
daily budget), then the members, most tokens first, with their models. Counts only."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import nextcord
from tortoise.functions import Count, Sum

from bot.api import Page
from plugins.llm.budget import UsageLedger, guild_config, today
from plugins.llm.model_catalog import ModelCatalog
from plugins.llm.models import (
    LLMAllowedModel,
    LLMGuildUsage,
    LLMMemberModelUsage,
    LLMModelDay,
    LLMUsage,
)
from plugins.llm.paid_work import paid_work_by_kind

USAGE_PAGES = "llm.usage"
MEMBERS_PER_PAGE = 10


def _month() -> date:
    return today().replace(day=1)


async def _models_of(guild_id: int, user_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    rows = await LLMMemberModelUsage.filter(
        guild_id=guild_id, user_id__in=user_ids, day__gte=_month()).annotate(
        t=Sum("tokens")).group_by("user_id", "model").values("user_id", "model", "t")
    out: dict[int, list[tuple[str, int]]] = {}
    for row in rows:
        out.setdefault(int(row["user_id"]), []).append((row["model"], int(row["t"] or 0)))
    for models in out.values():
        models.sort(key=lambda m: -m[1])
    return out


def _models_line(models: list[tuple[str, int]]) -> str:
    return ", ".join(f"`{name}` {tokens:,}" for name, tokens in models)


def _paid_work_lines(work: list[tuple[str, int, int]]) -> list[str]:
    """Other plugins' paid work counted against the budget (podcast transcripts), a line per
    kind; its tokens are in the totals above too."""
    return [f"{what.capitalize()} this month: {tokens:,} tokens for {uses:,}"
            for what, tokens, uses in work]


async def member_usage(ledger: UsageLedger, guild_id: int, user_id: int) -> str:
    usage = await ledger.summary(guild_id, user_id, include_guild=False)
    lines = [
        "**Your AI usage**",
        f"Today: {usage.user_today:,} / {usage.user_daily_limit:,} tokens "
        f"({usage.user_requests_today} requests)",
        f"This month: {usage.user_month:,} tokens",
    ]
    models = (await _models_of(guild_id, [user_id])).get(user_id)
    if models:
        lines.append(f"By model this month: {_models_line(models)}")
    lines += _paid_work_lines(await paid_work_by_kind(guild_id, _month(), user_id))
    return "\n".join(lines)


class UsagePages:
    """The server's usage for admins (a core paginator page source)."""

    def __init__(self, catalog: ModelCatalog) -> None:
        self.catalog = catalog

    async def _member_count(self, guild_id: int) -> int:
        rows = await LLMUsage.filter(guild_id=guild_id, day__gte=_month()).annotate(
            n=Count("user_id", distinct=True)).values("n")
        return int(rows[0]["n"] or 0) if rows else 0

    async def page_count(self, params: dict[str, Any]) -> int:
        members = await self._member_count(int(params["guild_id"]))
        return 1 + math.ceil(members / MEMBERS_PER_PAGE)

    async def render(self, params: dict[str, Any], page: int) -> Page:
        guild_id = int(params["guild_id"])
        if page == 0:
            return Page(embed=await self._server(guild_id))
        return Page(embed=await self._members(guild_id, page - 1))

    async def _server(self, guild_id: int) -> nextcord.Embed:
        config = await guild_config(guild_id)
        month_rows = await LLMModelDay.filter(guild_id=guild_id, day__gte=_month()).annotate(
            t=Sum("used_tokens")).group_by("model").values("model", "t")
        month = {r["model"]: int(r["t"] or 0) for r in month_rows}
        member_rows = await LLMMemberModelUsage.filter(
            guild_id=guild_id, day__gte=_month()).annotate(t=Sum("tokens")).group_by(
            "model").values("model", "t")
        for member_row in member_rows:  # models without a budget: counted per member only
            month.setdefault(member_row["model"], int(member_row["t"] or 0))
        today_rows = {r.model: r for r in await LLMModelDay.filter(guild_id=guild_id,
                                                                     day=today())}
        lines = []
        allowed = {m.name: m for m in await LLMAllowedModel.filter(guild_id=guild_id)}
        for name in await self.catalog.names(guild_id):
            row = today_rows.get(name)
            budget = allowed.get(name)
            used_today = row.used_tokens if row else 0
            day = (f"today {used_today:,} / {budget.daily_tokens:,}" if budget
                   else "no model budget")
            lines.append(f"`{name}`: {month.get(name, 0):,} tokens this month, {day}")
        for name in sorted(set(month) - set(allowed) - {self.catalog.default}):
            lines.append(f"`{name}` (no longer allowed): {month[name]:,} tokens this month")
        # The counter the monthly budget is reserved against: members' tokens and the server's
        # own paid work (automatic transcription), which no member's row holds.
        guild_row = await LLMGuildUsage.get_or_none(guild_id=guild_id, month=_month())
        total = guild_row.used_tokens if guild_row else 0
        description = (f"**Server this month:** {total:,} / {config.guild_monthly_tokens:,} "
                       f"tokens\n\n**By model**\n" + ("\n".join(lines) or "No models."))
        work = _paid_work_lines(await paid_work_by_kind(guild_id, _month()))
        if work:
            description += "\n\n**Other paid work**\n" + "\n".join(work)
        return nextcord.Embed(title="AI usage: server", description=description[:4096])

    async def _members(self, guild_id: int, index: int) -> nextcord.Embed:
        rows = await LLMUsage.filter(guild_id=guild_id, day__gte=_month()).annotate(
            p=Sum("prompt_tokens"), c=Sum("completion_tokens"), r=Sum("requests")).group_by(
            "user_id").order_by("user_id").values("user_id", "p", "c", "r")
        ranked = sorted(rows, key=lambda r: (-(int(r["p"] or 0) + int(r["c"] or 0)),
                                             r["user_id"]))
        chunk = ranked[index * MEMBERS_PER_PAGE:(index + 1) * MEMBERS_PER_PAGE]
        models = await _models_of(guild_id, [int(r["user_id"]) for r in chunk])
        lines = []
        for row in chunk:
            uid = int(row["user_id"])
            tokens = int(row["p"] or 0) + int(row["c"] or 0)
            by_model = models.get(uid)
            lines.append(f"<@{uid}>: {tokens:,} tokens, {int(row['r'] or 0)} requests"
                         + (f" — {_models_line(by_model)}" if by_model else ""))
        return nextcord.Embed(title="AI usage: members this month",
                              description=("\n".join(lines) or "No usage.")[:4096])
