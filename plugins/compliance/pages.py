"""Page sources for the core paginator (leaderboard, audit log) and the audit CSV export.

Each page is one LIMIT/OFFSET query on an index, so a 100,000-member guild never loads whole.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import nextcord

from bot.audit import TEXT_FLAG, shown_text, texts_for
from bot.components.registry import Page
from bot.models import AuditLog
from plugins.compliance.levels import progress_for
from plugins.compliance.models import MemberRecord

LEADERBOARD_PAGE_SIZE = 10
AUDIT_PAGE_SIZE = 10
# Discord's attachment limit is 10 MB for bots; stay well under it.
MAX_EXPORT_BYTES = 8 * 1024 * 1024
# Embed descriptions may hold 4,096 characters; one audit line is capped to fit ten.
AUDIT_LINE_CHARS = 380
COUNT_TTL_SECONDS = 15.0


def _pages(rows: int, size: int) -> int:
    return max(1, -(-rows // size))


class LeaderboardPages:
    """Members of one guild by XP, highest first; ties broken by user id."""

    def __init__(self, *, count_ttl: float = COUNT_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._count_ttl = count_ttl
        self._clock = clock
        self._counts: dict[int, tuple[int, float]] = {}

    def _query(self, params: dict[str, Any]) -> Any:
        return MemberRecord.filter(guild_id=int(params["guild_id"]), xp__gt=0)

    async def page_count(self, params: dict[str, Any]) -> int:
        # Every click asks for the page count; a few seconds' staleness is harmless and
        # saves counting 100,000 index entries per click.
        guild_id = int(params["guild_id"])
        now = self._clock()
        cached = self._counts.get(guild_id)
        if cached is None or cached[1] <= now:
            cached = (await self._query(params).count(), now + self._count_ttl)
            self._counts[guild_id] = cached
        return _pages(cached[0], LEADERBOARD_PAGE_SIZE)

    def page_query(self, params: dict[str, Any], page: int) -> Any:
        # ORDER BY xp DESC, user_id DESC walks the (guild_id, xp, user_id) index backwards;
        # selecting only indexed columns lets PostgreSQL answer from the index alone.
        return (
            self._query(params).order_by("-xp", "-user_id")
            .offset(page * LEADERBOARD_PAGE_SIZE).limit(LEADERBOARD_PAGE_SIZE)
            .values_list("user_id", "xp")
        )

    async def rows(self, params: dict[str, Any], page: int) -> list[tuple[int, int]]:
        return await self.page_query(params, page)

    async def render(self, params: dict[str, Any], page: int) -> Page:
        rows = await self.rows(params, page)
        lines = []
        for rank, (user_id, xp) in enumerate(rows, start=page * LEADERBOARD_PAGE_SIZE + 1):
            level = progress_for(int(xp)).level
            lines.append(f"**#{rank}** <@{user_id}> — level {level} · {int(xp):,} XP")
        embed = nextcord.Embed(title="Leaderboard",
                               description="\n".join(lines) or "Nobody has earned XP yet.")
        return Page(embed=embed)


def _audit_query(params: dict[str, Any]) -> Any:
    query = AuditLog.filter(guild_id=int(params["guild_id"]))
    member = params.get("member")
    if member:
        from tortoise.expressions import Q

        query = query.filter(Q(actor_id=int(member)) | Q(target=str(member)))
    action = params.get("action")
    if action:
        query = query.filter(action__startswith=str(action))
    return query


def _cell(value: object) -> str:
    """A CSV cell that spreadsheets will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _facts(row: AuditLog) -> dict[str, Any]:
    return {k: v for k, v in (row.details or {}).items() if k != TEXT_FLAG}


def _audit_line(row: AuditLog, texts: dict[int, str]) -> str:
    when = int(row.created_at.timestamp())
    actor = f"<@{row.actor_id}>" if row.actor_id else "system"
    facts = _facts(row)
    details = json.dumps(facts, separators=(",", ":"), default=str) if facts else ""
    line = f"`#{row.id}` <t:{when}:f> **{row.action}** by {actor}"
    if row.target:
        line += f" → `{row.target}`"
    if details:
        line += f" `{details[:150]}`"
    text = shown_text(row, texts)
    if text is not None:
        # Member-written text: shown as a quote, never as markup.
        line += " — " + nextcord.utils.escape_markdown(text[:120]).replace("\n", " ")
    return line[:AUDIT_LINE_CHARS]


class AuditPages:
    async def page_count(self, params: dict[str, Any]) -> int:
        return _pages(await _audit_query(params).count(), AUDIT_PAGE_SIZE)

    async def render(self, params: dict[str, Any], page: int) -> Page:
        rows = await (_audit_query(params).order_by("-id")
                      .offset(page * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE))
        texts = await texts_for(r.id for r in rows if (r.details or {}).get(TEXT_FLAG))
        text = "\n".join(_audit_line(r, texts) for r in rows) or "No audit entries match."
        return Page(embed=nextcord.Embed(title="Audit log", description=text[:4096]))


async def audit_csv(guild_id: int, *, batch: int = 2000) -> tuple[bytes, int, bool]:
    """The guild's audit log as CSV, oldest first: (bytes, rows, truncated)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "created_at", "action", "actor_id", "target", "details", "text"])
    last_id, rows, truncated = 0, 0, False
    while True:
        chunk = await (AuditLog.filter(guild_id=guild_id, id__gt=last_id)
                       .order_by("id").limit(batch))
        if not chunk:
            break
        texts = await texts_for(r.id for r in chunk if (r.details or {}).get(TEXT_FLAG))
        for row in chunk:
            writer.writerow([row.id, row.created_at.isoformat(), _cell(row.action),
                             row.actor_id or "", _cell(row.target),
                             _cell(json.dumps(_facts(row), default=str)),
                             _cell(shown_text(row, texts) or "")])
            last_id = row.id
            rows += 1
        if out.tell() > MAX_EXPORT_BYTES:
            truncated = True
            break
    return out.getvalue().encode(), rows, truncated
