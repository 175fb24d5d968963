"""Background jobs that run every N seconds for as long as the bot does.

One implementation for the core and plugins: a failing run is logged and the loop goes on, and
`stop()` cancels the loop and waits for it, so shutdown never leaves a task behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("bot.background")


class PeriodicTask:
    def __init__(
        self,
        name: str,
        interval: float,
        job: Callable[[], Awaitable[object]],
        *,
        run_first: bool = False,
        retry: float | None = None,
    ) -> None:
        self.name = name
        self.interval = interval
        # After a failed run (the database was down), the next one comes after `retry`
        # seconds rather than a whole interval: a daily job must not skip a day for a blip.
        self.retry = retry
        self._job = job
        self._run_first = run_first
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        if not self._run_first:
            await asyncio.sleep(self.interval)
        while True:
            wait = self.interval
            try:
                await self._job()
            except Exception as exc:
                # One bad run (a database hiccup) must not end the job for good.
                log.warning("background.job_failed", job=self.name, error=type(exc).__name__)
                if self.retry is not None:
                    wait = min(self.interval, self.retry)
            await asyncio.sleep(wait)


async def when_database_answers(
    action: Callable[[], Awaitable[object]], *, every: float, what: str,
    stop: Callable[[], bool] = lambda: False,
) -> bool:
    """Run `action` until the database lets it through: while the database is unreachable,
    wait `every` seconds and try again; any other error is raised. `stop()` is asked before
    each attempt (the work was overtaken, or the bot is closing): then nothing more is tried.
    True when `action` ran to the end, False when stopped. For work that must not be lost to
    an outage (the next track, the end of a timed session)."""
    from bot.errors import is_database_unreachable

    while not stop():
        try:
            await action()
            return True
        except Exception as exc:
            if not is_database_unreachable(exc):
                raise
            log.warning("database.retry_pending", what=what, retry_in=every)
        await asyncio.sleep(every)
    return False
