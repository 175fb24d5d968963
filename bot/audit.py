"""Writing the append-only audit log, without ever losing an entry to a database hiccup.

The log is append-only in the database (triggers refuse UPDATE and DELETE, see
migrations/core/2_*_audit_append_only.py), so anything a member may later ask us to delete
must never go into an entry: free text a member wrote (a reason, a note) is passed as `text=`
and kept in core_audit_text, which /privacy delete empties; the entry then shows "[redacted]".
Entries themselves leave only through the retention purge (`purge_expired`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from tortoise import Tortoise
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot.background import PeriodicTask
from bot.models import AuditLog, AuditText

log = structlog.get_logger("bot.audit")

# Entries kept in memory while the database is down; past this the oldest are logged and dropped.
MAX_PENDING = 10_000
# How long entries are kept before the purge removes them; the database refuses less than 30.
DEFAULT_RETENTION_DAYS = 365
MIN_RETENTION_DAYS = 30
# Rows per purge statement: a year of a busy server's log must not be one huge transaction.
PURGE_BATCH = 5_000
# Marks an entry whose free text lives in core_audit_text (or was deleted from it).
TEXT_FLAG = "has_text"
REDACTED = "[redacted]"
MAX_TEXT_CHARS = 2_000


@dataclass(frozen=True)
class AuditEntry:
    """One entry as plugins read it: `facts` are its structured details, `text` the member's
    free text ("[redacted]" once deleted, None when it had none)."""

    id: int
    created_at: Any
    action: str
    actor_id: int | None
    target: str | None
    facts: dict[str, Any]
    text: str | None


async def _entries(rows: list[AuditLog]) -> list[AuditEntry]:
    texts = await texts_for(r.id for r in rows if (r.details or {}).get(TEXT_FLAG))
    return [AuditEntry(r.id, r.created_at, r.action, r.actor_id, r.target,
                       {k: v for k, v in (r.details or {}).items() if k != TEXT_FLAG},
                       shown_text(r, texts)) for r in rows]


def _query(guild_id: int, member: int | None, action: str | None) -> Any:
    query = AuditLog.filter(guild_id=guild_id)
    if member is not None:
        query = query.filter(Q(actor_id=member) | Q(target=str(member)))
    if action:
        query = query.filter(action__startswith=action)
    return query


class AuditReader:
    """Reading a guild's audit log (the staff tools' pages and exports)."""

    async def count(self, guild_id: int, *, member: int | None = None,
                    action: str | None = None) -> int:
        return int(await _query(guild_id, member, action).count())

    async def newest(self, guild_id: int, *, offset: int, limit: int,
                     member: int | None = None, action: str | None = None) -> list[AuditEntry]:
        """Entries newest first, for paging."""
        rows = await _query(guild_id, member, action).order_by("-id").offset(offset).limit(limit)
        return await _entries(rows)

    async def after(self, guild_id: int, after_id: int, limit: int) -> list[AuditEntry]:
        """Entries oldest first with ids above `after_id`, for exports in batches."""
        rows = await (AuditLog.filter(guild_id=guild_id, id__gt=after_id)
                      .order_by("id").limit(limit))
        return await _entries(rows)


@dataclass
class PendingEntry:
    guild_id: int | None
    actor_id: int | None
    action: str
    target: str | None
    details: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    text_author: int | None = None


class AuditWriter(AuditReader):
    """`record()` never raises: an entry that cannot be written now is retried later."""

    def __init__(self) -> None:
        self._pending: deque[PendingEntry] = deque()
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def record(
        self,
        action: str,
        *,
        guild_id: int | None = None,
        actor_id: int | None = None,
        target: str | int | None = None,
        details: dict[str, Any] | None = None,
        text: str | None = None,
        text_author: int | None = None,
    ) -> bool:
        """Append an entry; returns False when it was queued because the database failed.

        `details` must hold only facts the bot produced (ids, counts, choices). Free text a
        member typed goes in `text`: it belongs to `text_author` (default: the actor) and is
        deleted with that member's data, or the target's. Text without an author is dropped:
        nobody could ask for it to be deleted, so it is not kept."""
        author = text_author if text_author is not None else actor_id
        text = (text or "").strip()[:MAX_TEXT_CHARS] or None
        entry = PendingEntry(
            guild_id, actor_id, action[:64], None if target is None else str(target)[:200],
            dict(details or {}), text if author is not None else None, author,
        )
        if entry.text is not None:
            entry.details[TEXT_FLAG] = True
        if self._pending:
            await self.flush()
        try:
            await self._write(entry)
            return True
        except Exception as exc:
            self._queue(entry)
            log.warning("audit.deferred", action=action, error=type(exc).__name__)
            return False

    async def flush(self) -> int:
        """Write queued entries in order; stops at the first failure."""
        written = 0
        async with self._lock:
            while self._pending:
                entry = self._pending[0]
                try:
                    await self._write(entry)
                except Exception:
                    break
                self._pending.popleft()
                written += 1
        if written:
            log.info("audit.flushed", entries=written)
        return written

    def _queue(self, entry: PendingEntry) -> None:
        if len(self._pending) >= MAX_PENDING:
            dropped = self._pending.popleft()
            log.error("audit.dropped", action=dropped.action, guild_id=dropped.guild_id)
        self._pending.append(entry)

    @staticmethod
    async def _write(entry: PendingEntry) -> None:
        async with in_transaction():
            row = await AuditLog.create(
                guild_id=entry.guild_id,
                actor_id=entry.actor_id,
                action=entry.action,
                target=entry.target,
                details=entry.details,
            )
            if entry.text is not None and entry.text_author is not None:
                await AuditText.create(entry=row, author_id=entry.text_author, text=entry.text)


# ----- free text -------------------------------------------------------------------------------


async def texts_for(entry_ids: Iterable[int]) -> dict[int, str]:
    """The free text still held for these entries, by entry id."""
    ids = list(entry_ids)
    if not ids:
        return {}
    rows = await AuditText.filter(entry_id__in=ids).values_list("entry_id", "text")
    return {int(entry_id): text for entry_id, text in rows}


def shown_text(row: AuditLog, texts: dict[int, str]) -> str | None:
    """What to show for an entry's free text: the text, "[redacted]" once deleted, or None."""
    if not (row.details or {}).get(TEXT_FLAG):
        return None
    return texts.get(row.id, REDACTED)


async def delete_member_texts(user_id: int) -> int:
    """/privacy delete: the free text this member wrote, and any written about them (entries
    whose target is the member). The entries stay; they then show "[redacted]"."""
    return int(await AuditText.filter(
        Q(author_id=user_id) | Q(entry__target=str(user_id))).delete())


async def export_member_texts(user_id: int) -> list[dict[str, Any]]:
    """/privacy export: the free text this member wrote, with the entry it belongs to."""
    rows = await AuditText.filter(author_id=user_id).order_by("id").values(
        "entry_id", "text", "entry__action", "entry__created_at")
    return [{"audit_entry": r["entry_id"], "action": r["entry__action"],
             "at": r["entry__created_at"].isoformat(), "text": r["text"]} for r in rows]


# ----- retention -------------------------------------------------------------------------------


def clamp_retention(days: int | None) -> int:
    return max(MIN_RETENTION_DAYS, int(days or DEFAULT_RETENTION_DAYS))


async def purge_expired(retention_days: int = DEFAULT_RETENTION_DAYS,
                        *, batch: int = PURGE_BATCH) -> int:
    """Delete entries older than the retention period (and their text); returns rows removed.

    The database guard allows exactly this: it reads the period from core_audit_policy, which
    this sets first, and the cut-off is computed by the database's clock in both places, so a
    clock difference between bot and database cannot make the guard refuse a batch."""
    conn = Tortoise.get_connection("default")
    days = clamp_retention(retention_days)
    postgres = conn.capabilities.dialect == "postgres"
    mark = "$1" if postgres else "?"
    await conn.execute_query(
        f'UPDATE "core_audit_policy" SET "retention_days" = {mark} WHERE "id" = 1', [days])
    # Old enough by the database's clock, as the guard judges it.
    old_enough = ('"created_at" < now() - make_interval(days => $1)' if postgres
                  else "julianday(\"created_at\") < julianday('now') - ?")
    select = (f'SELECT "id" FROM "core_audit_log" WHERE {old_enough} ORDER BY "id" '
              f'LIMIT {int(batch)}')
    removed = 0
    while True:
        ids = [int(r["id"]) for r in await conn.execute_query_dict(select, [days])]
        if ids:
            # Their text rows go with them (ON DELETE CASCADE).
            await AuditLog.filter(id__in=ids).delete()
            removed += len(ids)
        if len(ids) < batch:
            break
    if removed:
        log.info("audit.purged", entries=removed, retention_days=days)
    return removed


class AuditRetention:
    """The background purge of entries past the retention period (every 6 hours and at start)."""

    INTERVAL_SECONDS = 6 * 3600.0

    def __init__(self, retention_days: int | None, *,
                 interval: float = INTERVAL_SECONDS) -> None:
        self.retention_days = clamp_retention(retention_days)
        if retention_days is not None and retention_days < MIN_RETENTION_DAYS:
            log.warning("audit.retention_raised", asked=retention_days,
                        used=self.retention_days)
        self._task = PeriodicTask("audit-retention", interval, self.run, run_first=True)

    async def run(self) -> int:
        return await purge_expired(self.retention_days)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
