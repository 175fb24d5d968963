"""Writes that must not be lost to a database outage.

A model call that already happened has cost real tokens: if the database drops between the
answer and its bookkeeping (settling the reservation, storing the reply), the member still
gets the answer, and the writes wait here, in order, retried every few seconds until the
database answers. Each write is one transaction (or one statement), so retrying it cannot
apply half of it twice. Writes still waiting at shutdown are logged (their count), not hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from bot.api import is_database_unreachable

log = structlog.get_logger("plugins.llm.deferred")

Write = Callable[[], Awaitable[object]]


class DeferredWrites:
    # Seconds between attempts while the database is unreachable; tests shorten it.
    retry_seconds = 10.0

    def __init__(self) -> None:
        self._pending: deque[tuple[str, Write]] = deque()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._pending)

    async def run(self, what: str, write: Write) -> bool:
        """Write now; when the database is unreachable, keep it for later. True if written."""
        if self._pending:  # keep the order: earlier writes first
            self._keep(what, write)
            return False
        try:
            await write()
            return True
        except Exception as exc:
            if not is_database_unreachable(exc):
                raise
            self._keep(what, write)
            return False

    def _keep(self, what: str, write: Write) -> None:
        log.warning("llm.write_deferred", what=what, pending=len(self._pending) + 1)
        self._pending.append((what, write))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="llm-deferred-writes")

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(self.retry_seconds)
            while self._pending:
                what, write = self._pending[0]
                try:
                    await write()
                except Exception as exc:
                    if is_database_unreachable(exc):
                        break  # still down: wait and try again
                    log.error("llm.deferred_write_failed", what=what, error=repr(exc))
                else:
                    log.info("llm.deferred_write_done", what=what)
                self._pending.popleft()

    async def written(self) -> None:
        """Wait until every kept write is done (tests; the database must be back)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        if self._pending:
            log.warning("llm.deferred_writes_dropped", count=len(self._pending))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
