"""Podcast transcripts: paid calls, so each episode is transcribed at most once (stored and
shared), and each paid call is first reserved against a per-member and a per-server daily
count, and against the server's AI budget (the LLM plugin's tokens, through the core's
`services.paid_usage`) where that plugin is on. Free of Discord types: the caller has checked
who may press the button.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot.api import PaidRefusal, PaidUsage, UserError, is_database_unreachable
from plugins.music.models import MusicTranscriptUsage, PodcastTranscript
from plugins.music.podcasts import nonempty

if TYPE_CHECKING:
    from plugins.music.podcasts import Episode, Podcasts

# Defaults when an admin set nothing: a transcription costs real money (about a cent a minute).
PER_MEMBER_DAY = 2
PER_SERVER_DAY = 10
MAX_PER_DAY = 1000
# A "pending" row older than this belongs to a request that died (a crash mid-call).
STALE_CLAIM = timedelta(minutes=20)

log = structlog.get_logger("plugins.music.transcripts")
SERVER = 0  # the user_id of a server's own counter row
# How the AI budget's usage report names this work.
PAID_WORK = "podcast transcripts"
# An episode's length before the call, when the feed gives none or less: its file read at
# 128 kbps, podcasts' most common rate. Settled with the length the endpoint billed.
ASSUMED_BYTES_PER_SECOND = 16_000

Limits = Callable[[int], Awaitable[tuple[int, int]]]


def episode_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def today() -> date:
    return datetime.now(UTC).date()


class TranscriptBudget:
    """Daily counts, reserved with conditional UPDATEs in one transaction: the row changes only
    while under the limit, and the member's increment is undone when the server is full, so
    concurrent presses can't overshoot either limit."""

    async def _ensure(self, guild_id: int, user_id: int, day: date) -> None:
        if await MusicTranscriptUsage.exists(guild_id=guild_id, user_id=user_id, day=day):
            return
        with contextlib.suppress(IntegrityError):  # created by a concurrent request
            await MusicTranscriptUsage.create(guild_id=guild_id, user_id=user_id, day=day)

    async def reserve(self, guild_id: int, user_id: int, per_member: int,
                      per_server: int) -> None:
        day = today()
        await self._ensure(guild_id, user_id, day)
        await self._ensure(guild_id, SERVER, day)
        async with in_transaction():
            # Automatic transcription (user_id SERVER) spends the server's budget alone.
            mine = user_id == SERVER or await MusicTranscriptUsage.filter(
                guild_id=guild_id, user_id=user_id, day=day, count__lt=per_member,
            ).update(count=F("count") + 1)
            if not mine:
                raise UserError(f"You've used your {per_member} transcripts for today; "
                                "try again tomorrow (UTC).")
            server = await MusicTranscriptUsage.filter(
                guild_id=guild_id, user_id=SERVER, day=day, count__lt=per_server,
            ).update(count=F("count") + 1)
            if not server:
                # Raising rolls the member's increment back with the transaction.
                raise UserError(f"This server has used its {per_server} transcripts for "
                                "today; try again tomorrow (UTC).")
        await MusicTranscriptUsage.filter(day__lt=day - timedelta(days=7)).delete()

    async def refund(self, guild_id: int, user_id: int) -> None:
        """The paid call failed: give the reservation back."""
        day = today()
        await MusicTranscriptUsage.filter(
            guild_id=guild_id, user_id__in=list({user_id, SERVER}), day=day, count__gt=0,
        ).update(count=F("count") - 1)


def audio_seconds(episode: Episode, size: int) -> int:
    """The length to reserve for: the feed's duration or the file's size at 128 kbps,
    whichever is longer (a feed may give none, or a wrong one)."""
    return max(episode.duration_s or 0, math.ceil(size / ASSUMED_BYTES_PER_SECOND))


class Transcripts:
    def __init__(self, podcasts: Podcasts, limits: Limits,
                 budget: TranscriptBudget | None = None, *,
                 paid_usage: PaidUsage | None = None, tokens_per_minute: int = 0) -> None:
        self.podcasts = podcasts
        self.limits = limits
        # The daily counts: the only limit where nobody keeps an AI budget, a cap where one does.
        self.budget = budget or TranscriptBudget()
        self.paid_usage = paid_usage
        self.tokens_per_minute = tokens_per_minute
        # Requests of this process under way, by episode: later presses share the result.
        self._running: dict[str, asyncio.Future[str]] = {}
        # Transcripts paid for while the database was down, by episode: served from here and
        # stored by a background task once it is back (a paid call is never thrown away).
        self._unsaved: dict[str, str] = {}
        self._storing: set[asyncio.Task[None]] = set()

    # Seconds between attempts to store a transcript made during a database outage.
    store_retry = 30.0

    async def get(self, guild_id: int, user_id: int, episode: Episode) -> str:
        """The episode's transcript: stored (free), shared with a request under way, or made
        now by one paid call reserved against the budgets."""
        key = episode_key(episode.url)
        if key in self._unsaved:
            return self._unsaved[key]
        stored = await PodcastTranscript.get_or_none(key=key, status="done")
        if stored is not None:
            return stored.text or ""
        running = self._running.get(key)
        if running is not None:
            try:
                return await asyncio.shield(running)
            except UserError:
                # The first press's own reason (its budget, say) isn't this member's.
                raise UserError("That transcription didn't finish; press Transcribe again "
                                "in a moment.") from None
        # No await between the look-up above and this line: one request per episode runs.
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._running[key] = future
        try:
            text = await self._make(key, guild_id, user_id, episode)
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else UserError(
                "The transcription was interrupted; try again."))
            raise
        finally:
            self._running.pop(key, None)
        future.set_result(text)
        return text

    async def _claim(self, key: str, url: str) -> str | None:
        """Make this request the one that pays; returns a stored text if one appeared."""
        now = datetime.now(UTC)
        try:
            await PodcastTranscript.create(key=key, url=url[:2000], claimed_at=now)
            return None
        except IntegrityError:
            pass
        row = await PodcastTranscript.get_or_none(key=key)
        if row is not None and row.status == "done":
            return row.text or ""
        taken = 0
        if row is not None and row.claimed_at < now - STALE_CLAIM:
            taken = await PodcastTranscript.filter(
                key=key, status="pending", claimed_at=row.claimed_at).update(claimed_at=now)
        if not taken:
            raise UserError("This episode is being transcribed right now; press again in a "
                            "few minutes.")
        return None

    async def _make(self, key: str, guild_id: int, user_id: int, episode: Episode) -> str:
        done = await self._claim(key, episode.url)
        if done is not None:
            return done
        try:
            per_member, per_server = await self.limits(guild_id)
            await self.budget.reserve(guild_id, user_id, per_member, per_server)
        except BaseException:
            await PodcastTranscript.filter(key=key, status="pending").delete()
            raise
        try:
            text = await self._paid_call(guild_id, user_id, episode)
        except BaseException:
            await self.budget.refund(guild_id, user_id)
            await PodcastTranscript.filter(key=key, status="pending").delete()
            raise
        try:
            await PodcastTranscript.filter(key=key).update(status="done", text=text)
        except Exception as exc:
            if not is_database_unreachable(exc):
                raise
            self._unsaved[key] = text
            task = asyncio.create_task(self._store_later(key, text),
                                       name="music-transcript-store")
            self._storing.add(task)
            task.add_done_callback(self._storing.discard)
        return text

    async def _store_later(self, key: str, text: str) -> None:
        while True:
            await asyncio.sleep(self.store_retry)
            try:
                await PodcastTranscript.filter(key=key).update(status="done", text=text)
            except Exception as exc:
                if is_database_unreachable(exc):
                    continue
                log.error("music.transcript_store_failed", error=repr(exc))
            self._unsaved.pop(key, None)
            return

    async def stored(self) -> None:
        """Wait until the transcripts made during an outage are stored."""
        while self._storing:
            await asyncio.gather(*self._storing, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._storing):
            task.cancel()
        await asyncio.gather(*self._storing, return_exceptions=True)

    def tokens(self, seconds: float) -> int:
        return math.ceil(seconds * self.tokens_per_minute / 60)

    async def _paid_call(self, guild_id: int, user_id: int, episode: Episode) -> str:
        """Download the audio (free), hold its tokens against the AI budget, make the paid
        call, and settle with the length it billed (or give the tokens back if it failed)."""
        if self.paid_usage is None or self.tokens_per_minute == 0:
            return await self.podcasts.transcript(episode)
        audio, filename = await self.podcasts.fetch_audio(episode)
        seconds = audio_seconds(episode, len(audio))
        held = await self.paid_usage.reserve(
            guild_id, None if user_id == SERVER else user_id, self.tokens(seconds), PAID_WORK)
        if isinstance(held, PaidRefusal):
            raise UserError(f"This episode (about {math.ceil(seconds / 60)} min of audio) "
                            f"can't be transcribed now. {held.message}")
        try:
            result = await self.podcasts.transcribe(audio, filename)
        except BaseException:
            await self.paid_usage.release(held)
            raise
        await self.paid_usage.settle(held, self.tokens(result.seconds or seconds))
        return nonempty(result)
