"""The next track after a database outage.

A track that finishes while the database is unreachable can't be followed by the next one:
the queue and the session live in the database. Left at that, the music would stop for good
(nothing advances a finished player again), so the advance is tried again every few seconds
until the database answers, unless the session moved on meanwhile (stopped, skipped, ended).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from bot.api import is_database_unreachable, when_database_answers

if TYPE_CHECKING:
    from plugins.music.playback import Playback
    from plugins.music.tracks import TrackInfo

log = structlog.get_logger("plugins.music.advance_retry")


class AdvanceRetry:
    # Seconds between attempts while the database is unreachable; tests shorten it.
    retry_seconds = 5.0

    def __init__(self, playback: Playback) -> None:
        self.playback = playback
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def after_finish(self, guild_id: int) -> None:
        """Play what comes after the track that just finished, now or once the database is
        back."""
        try:
            await self.playback.advance(guild_id, finished=True)
        except Exception as exc:
            if not is_database_unreachable(exc):
                raise
            log.warning("music.advance_deferred", guild=guild_id)
            finished = self.playback.current.get(guild_id)
            if guild_id not in self._tasks and finished is not None:
                self._tasks[guild_id] = asyncio.create_task(
                    self._retry(guild_id, finished), name=f"music-advance-{guild_id}")

    async def _retry(self, guild_id: int, finished: TrackInfo) -> None:
        playback = self.playback

        def moved_on() -> bool:  # stopped, skipped or replaced meanwhile: nothing to resume
            return (playback.closing or guild_id not in playback.players
                    or playback.current.get(guild_id) is not finished)

        try:
            await asyncio.sleep(self.retry_seconds)
            if await when_database_answers(
                    lambda: playback.advance(guild_id, finished=True), every=self.retry_seconds,
                    what="music.advance", stop=moved_on):
                log.info("music.advance_resumed", guild=guild_id)
        except Exception as exc:
            log.error("music.advance_retry_failed", guild=guild_id, error=repr(exc))
        finally:
            self._tasks.pop(guild_id, None)

    def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()


__all__ = ["AdvanceRetry"]
