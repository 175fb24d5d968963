"""Writing the append-only audit log, without ever losing an entry to a database hiccup."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import structlog

from bot.models import AuditLog

log = structlog.get_logger("bot.audit")

# Entries kept in memory while the database is down; past this the oldest are logged and dropped.
MAX_PENDING = 10_000


@dataclass
class PendingEntry:
    guild_id: int | None
    actor_id: int | None
    action: str
    target: str | None
    details: dict[str, Any] = field(default_factory=dict)


class AuditWriter:
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
    ) -> bool:
        """Append an entry; returns False when it was queued because the database failed."""
        entry = PendingEntry(
            guild_id, actor_id, action[:64], None if target is None else str(target)[:200],
            dict(details or {}),
        )
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
        await AuditLog.create(
            guild_id=entry.guild_id,
            actor_id=entry.actor_id,
            action=entry.action,
            target=entry.target,
            details=entry.details,
        )
