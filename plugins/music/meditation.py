"""Timed meditation sessions: play a track or playlist, fade out at the end, leave, and award XP
to the members who were there from the start and stayed to the end.

Each session is a `MeditationSession` row, so it outlives the process: after a restart the
session's music comes back through recovery (which asks `restore` first, as the handler of the
"meditation" session type) and its timer resumes for the time left, or, when its end passed
while the bot was down, it ends at once. Ending is a conditional UPDATE (`ended_at IS NULL`)
and only the caller whose UPDATE changed the row grants XP, so a session ends and pays once
even when two paths (a restored timer, a sweep, a second process) reach the end together.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from bot.api import UserError, when_database_answers
from plugins.music.models import MeditationSession, MusicSession

if TYPE_CHECKING:
    from plugins.music.service import MusicService

log = structlog.get_logger("plugins.music.meditation")

DEFAULT_QUERY = "ytsearch:guided meditation music"
MAX_MINUTES = 120
FADE_STEPS = 5
XP_PER_MINUTE = 2
MAX_XP = 60
KIND = "meditation"
HISTORY_PAGE = 10


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Meditation:
    guild_id: int
    channel_id: int
    minutes: int
    started_by: int
    participants: set[int]
    ends_at: float  # monotonic
    cannabis: bool = False
    id: int = 0
    text_channel_id: int | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    rewarded: set[int] = field(default_factory=set)
    # Set once the timer reached the end: the ending (XP, the post) is not to be cancelled.
    finishing: bool = False
    # Who was there at the end (fixed when it was reached, not when a retry after a database
    # outage gets through) and whether this process's UPDATE already ended the row.
    finishers: set[int] | None = None
    ended: bool = False
    wrapped_up: bool = False  # the post is out and the music gone: nothing left to do


class MeditationRunner:
    # Seconds in a "minute": tests shorten it instead of sleeping for real minutes.
    minute = 60.0
    # The last part of the session during which the volume fades to silence.
    fade_fraction = 0.1
    # Seconds between attempts to end a session while the database is unreachable.
    retry_seconds = 15.0

    def __init__(self, service: MusicService, xp: Any, audit: Any) -> None:
        self.service = service
        self.xp = xp
        self.audit = audit
        self.sessions: dict[int, Meditation] = {}
        self.closing = False

    async def start(self, guild_id: int, user_id: int, member_channel: int | None,
                    text_channel_id: int | None, minutes: int, query: str | None) -> str:
        if member_channel is None:
            raise UserError("Join a voice channel first, then use /meditate.")
        if not 1 <= minutes <= MAX_MINUTES:
            raise UserError(f"A session lasts 1 to {MAX_MINUTES} minutes.")
        playback = self.service.playback
        if guild_id in self.sessions or playback.current.get(guild_id) is not None:
            raise UserError("Something is already playing here; /stop it first.")
        running = await MeditationSession.filter(guild_id=guild_id, ended_at__isnull=True).first()
        if running is not None:  # from before a restart, not restored yet
            raise UserError("A meditation session is still running here; it ends "
                            f"<t:{int(running.ends_at.timestamp())}:R>.")
        prefs = await self.service.preferences(guild_id, user_id)
        if not query and prefs.meditation_mode and prefs.favourite_genres:
            # Meditation mode: sessions without a query follow the member's own genres.
            query = f"ytsearch:{prefs.favourite_genres[0]} meditation"
        result = await self.service.search(query or DEFAULT_QUERY)
        if not result.tracks:
            raise UserError("Nothing found to meditate to; try other words.")
        settings = await self.service.guild_settings(guild_id)
        cannabis = any(self.service.is_cannabis(t, settings) for t in result.tracks)
        if cannabis:
            await self.service.require_adult(guild_id, user_id, "This session")
        admitted, refusal = await self.service.admit(result.tracks, guild_id, user_id)
        if not admitted:
            raise UserError(refusal.reason)
        tracks = [t.with_requester(user_id, cannabis=cannabis)
                  for t in (admitted if result.playlist else admitted[:1])]
        volume = prefs.volume if prefs.volume is not None else self.service.defaults.default_volume
        await playback.ensure_player(guild_id, member_channel, text_channel_id, volume=volume)
        await MusicSession.filter(guild_id=guild_id).update(kind=KIND)
        limit = await self.service.queue_limit(guild_id)
        await self.service.queue.add(guild_id, tracks, limit=limit)
        await playback.advance(guild_id)
        listeners = playback.voice.listeners(guild_id, member_channel) | {user_id}
        seconds = minutes * self.minute
        started = now()
        row = await MeditationSession.create(
            guild_id=guild_id, channel_id=member_channel, text_channel_id=text_channel_id,
            started_by=user_id, minutes=minutes, participants=sorted(listeners),
            cannabis=cannabis, started_at=started, ends_at=started + timedelta(seconds=seconds))
        self._run_timer(Meditation(guild_id, member_channel, minutes, user_id, listeners,
                                   time.monotonic() + seconds, cannabis, row.id,
                                   text_channel_id))
        await self.audit.record("music.meditation_started", guild_id=guild_id,
                                actor_id=user_id, target=str(minutes),
                                details={"cannabis": cannabis})
        return (f"🧘 Meditation started: {minutes} min. The music fades out at the end; "
                "stay until then to earn XP.")

    def _run_timer(self, session: Meditation) -> None:
        session.task = asyncio.create_task(self._run(session),
                                           name=f"meditation-{session.guild_id}")
        self.sessions[session.guild_id] = session

    async def _run(self, session: Meditation) -> None:
        playback = self.service.playback
        try:
            fade = session.minutes * self.minute * self.fade_fraction
            await asyncio.sleep(max(0.0, session.ends_at - time.monotonic() - fade))
            # Restored during the fade: fade over what is left of it.
            fade = min(fade, max(0.0, session.ends_at - time.monotonic()))
            start_volume = playback.volumes.get(session.guild_id, 60)
            for step in range(1, FADE_STEPS + 1):
                # Looked up at each step: a failover or a restore replaces the player.
                player = playback.players.get(session.guild_id)
                if player is not None and player.connected:
                    with contextlib.suppress(Exception):  # the node died: the fade goes on
                        await player.set_volume(int(start_volume * (1 - step / FADE_STEPS)))
                await asyncio.sleep(fade / FADE_STEPS)
            await self._finish_when_reachable(session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("music.meditation_failed", guild=session.guild_id, error=repr(exc))
        finally:
            if self.sessions.get(session.guild_id) is session:
                self.sessions.pop(session.guild_id, None)
            session.finished.set()

    async def _finish_when_reachable(self, session: Meditation) -> None:
        """End the session, waiting out a database outage: left un-ended, its row would keep
        `/meditate start` refused until a restart, and its music would play on."""
        await when_database_answers(lambda: self.finish(session), every=self.retry_seconds,
                                    what="music.meditation_end", stop=lambda: self.closing)

    async def finish(self, session: Meditation) -> bool:
        """End the session once: returns False when another path already ended it. Safe to
        call again after a database error part-way: the row ends once, each finisher is paid
        once, and what is left (the post, leaving the channel) is done then."""
        playback = self.service.playback
        if session.wrapped_up:
            return False
        session.finishing = True
        if session.finishers is None:
            stayed = playback.voice.listeners(session.guild_id, session.channel_id)
            session.finishers = session.participants & stayed
        finishers = session.finishers
        amount = min(session.minutes * XP_PER_MINUTE, MAX_XP)
        if not session.ended:
            changed = await MeditationSession.filter(
                id=session.id, ended_at__isnull=True).update(
                ended_at=now(), completed=True, xp_granted=amount if finishers else 0,
                stayed=len(finishers), participants=[])
            if not changed:
                log.info("music.meditation_already_ended", guild=session.guild_id,
                         id=session.id)
                return False
            session.ended = True
            await self.audit.record("music.meditation_completed", guild_id=session.guild_id,
                                    actor_id=session.started_by, target=str(session.minutes),
                                    details={"stayed": len(finishers)})
        for user_id in sorted(finishers - session.rewarded):
            await self.xp.award(session.guild_id, user_id, amount, "music.meditation")
            session.rewarded.add(user_id)
        db_session = await playback.session(session.guild_id)
        text_channel = (db_session.text_channel_id if db_session is not None
                        else session.text_channel_id)
        if db_session is None or db_session.kind == KIND:
            await playback.end_session(session.guild_id)
        await playback.notifier.say(
            text_channel, f"🧘 The {session.minutes}-minute session has ended. "
            f"{len(finishers)} member(s) stayed to the end.")
        session.wrapped_up = True
        return True

    async def abandon(self, guild_id: int) -> bool:
        """The session's music ended before its time (/stop, the Stop button, idle leaving, a
        lost voice connection): it ends as not completed, without XP, once (the same
        conditional UPDATE as finishing, so a timer reaching the end meanwhile can't also pay),
        and its timer stops. Returns False when no session was running (or it had ended)."""
        session = self.sessions.get(guild_id)
        if (session is not None and session.task is not None and not session.finishing
                and session.task is not asyncio.current_task()):
            self.sessions.pop(guild_id, None)
            session.task.cancel()
        row = await MeditationSession.filter(guild_id=guild_id, ended_at__isnull=True).first()
        if row is None:
            return False
        changed = await MeditationSession.filter(id=row.id, ended_at__isnull=True).update(
            ended_at=now(), completed=False, xp_granted=0, stayed=0, participants=[])
        if not changed:
            return False
        log.info("music.meditation_stopped", guild=guild_id, id=row.id)
        await self.audit.record("music.meditation_stopped", guild_id=guild_id,
                                actor_id=row.started_by, target=str(row.minutes))
        return True

    # -- after a restart ----------------------------------------------------------------------

    def _from_row(self, row: MeditationSession) -> Meditation:
        left = (row.ends_at - now()).total_seconds()
        return Meditation(row.guild_id, row.channel_id, row.minutes, row.started_by,
                          set(row.participants or []), time.monotonic() + left, row.cannabis,
                          row.id, row.text_channel_id)

    async def restore(self, music_session: MusicSession) -> bool:
        """Recovery asks before rejoining a meditation's voice channel: resume the timer for
        the time left (True: rejoin and play), or end a session whose time ran out while the
        bot was down (False: nothing to rejoin)."""
        guild_id = music_session.guild_id
        if guild_id in self.sessions:
            return True
        row = await MeditationSession.filter(guild_id=guild_id, ended_at__isnull=True).first()
        if row is None:
            # Ended just before the restart, with its music left behind: nothing to resume.
            await self.service.playback.end_session(guild_id)
            return False
        session = self._from_row(row)
        if session.ends_at <= time.monotonic():
            await self.finish(session)
            log.info("music.meditation_finished_on_restore", guild=guild_id, id=row.id)
            return False
        self._run_timer(session)
        log.info("music.meditation_resumed", guild=guild_id, id=row.id,
                 left_s=round(session.ends_at - time.monotonic(), 1))
        return True

    async def sweep(self) -> int:
        """Sessions whose music is gone (stopped, then the bot restarted) still end once, when
        their time is up and their guild is known; returns how many ended."""
        ended = 0
        playback = self.service.playback
        for row in await MeditationSession.filter(ended_at__isnull=True, ends_at__lte=now()):
            if row.guild_id in self.sessions or not playback.voice.has_guild(row.guild_id):
                continue
            if await MusicSession.exists(guild_id=row.guild_id, active=True, kind=KIND):
                continue  # recovery restores it (and asks `restore`)
            ended += await self.finish(self._from_row(row))
        return ended

    async def history(self, user_id: int, page: int) -> tuple[int, list[MeditationSession]]:
        total = await MeditationSession.filter(started_by=user_id).count()
        rows = await MeditationSession.filter(started_by=user_id).order_by(
            "-started_at", "-id").offset(page * HISTORY_PAGE).limit(HISTORY_PAGE)
        return total, list(rows)

    async def close(self) -> None:
        """On shutdown the rows stay open: the next start resumes them."""
        self.closing = True
        for session in list(self.sessions.values()):
            if session.task is not None:
                session.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await session.task

