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

from bot.api import AuditEntry, CoreServices, Page
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


def _cell(value: object) -> str:
    """A CSV cell that spreadsheets will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _audit_line(entry: AuditEntry) -> str:
    when = int(entry.created_at.timestamp())
    actor = f"<@{entry.actor_id}>" if entry.actor_id else "system"
    details = (json.dumps(entry.facts, separators=(",", ":"), default=str)
               if entry.facts else "")
    line = f"`#{entry.id}` <t:{when}:f> **{entry.action}** by {actor}"
    if entry.target:
        line += f" → `{entry.target}`"
    if details:
        line += f" `{details[:150]}`"
    if entry.text is not None:
        # Member-written text: shown as a quote, never as markup.
        line += " — " + nextcord.utils.escape_markdown(entry.text[:120]).replace("\n", " ")
    return line[:AUDIT_LINE_CHARS]


def _filters(params: dict[str, Any]) -> dict[str, Any]:
    member = params.get("member")
    return {"member": int(member) if member else None,
            "action": str(params.get("action") or "") or None}


class AuditPages:
    """The guild's audit log, newest first, read through the core's audit service (which
    shows member-written text as "[redacted]" once its author deleted it)."""

    def __init__(self, services: CoreServices) -> None:
        self.audit = services.audit

    async def page_count(self, params: dict[str, Any]) -> int:
        count = await self.audit.count(int(params["guild_id"]), **_filters(params))
        return _pages(count, AUDIT_PAGE_SIZE)

    async def render(self, params: dict[str, Any], page: int) -> Page:
        entries = await self.audit.newest(int(params["guild_id"]), offset=page * AUDIT_PAGE_SIZE,
                                          limit=AUDIT_PAGE_SIZE, **_filters(params))
        text = "\n".join(_audit_line(e) for e in entries) or "No audit entries match."
        return Page(embed=nextcord.Embed(title="Audit log", description=text[:4096]))


async def audit_csv(services: CoreServices, guild_id: int, *,
                    batch: int = 2000) -> tuple[bytes, int, bool]:
    """The guild's audit log as CSV, oldest first: (bytes, rows, truncated)."""
    audit = services.audit
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "created_at", "action", "actor_id", "target", "details", "text"])
    last_id, rows, truncated = 0, 0, False
    while True:
        chunk = await audit.after(guild_id, last_id, batch)
        if not chunk:
            break
        for entry in chunk:
            writer.writerow([entry.id, entry.created_at.isoformat(), _cell(entry.action),
                             entry.actor_id or "", _cell(entry.target),
                             _cell(json.dumps(entry.facts, default=str)),
                             _cell(entry.text or "")])
            last_id = entry.id
            rows += 1
        if out.tell() > MAX_EXPORT_BYTES:
            truncated = True
            break
    return out.getvalue().encode(), rows, truncated
