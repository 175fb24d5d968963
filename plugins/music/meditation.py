"""Timed meditation sessions: play a track or playlist, fade out at the end, leave, and award XP
to the members who were there from the start and stayed to the end."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from bot.api import UserError

if TYPE_CHECKING:
    from plugins.music.service import MusicService

log = structlog.get_logger("plugins.music.meditation")

DEFAULT_QUERY = "ytsearch:guided meditation music"
MAX_MINUTES = 120
FADE_STEPS = 5
XP_PER_MINUTE = 2
MAX_XP = 60


@dataclass
class Meditation:
    guild_id: int
    channel_id: int
    minutes: int
    started_by: int
    participants: set[int]
    ends_at: float
    cannabis: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    rewarded: set[int] = field(default_factory=set)


class MeditationRunner:
    # Seconds in a "minute": tests shorten it instead of sleeping for real minutes.
    minute = 60.0
    # The last part of the session during which the volume fades to silence.
    fade_fraction = 0.1

    def __init__(self, service: MusicService, xp: Any, audit: Any) -> None:
        self.service = service
        self.xp = xp
        self.audit = audit
        self.sessions: dict[int, Meditation] = {}

    async def start(self, guild_id: int, user_id: int, member_channel: int | None,
                    text_channel_id: int | None, minutes: int, query: str | None) -> str:
        if member_channel is None:
            raise UserError("Join a voice channel first, then use /meditate.")
        if not 1 <= minutes <= MAX_MINUTES:
            raise UserError(f"A session lasts 1 to {MAX_MINUTES} minutes.")
        playback = self.service.playback
        if guild_id in self.sessions or playback.current.get(guild_id) is not None:
            raise UserError("Something is already playing here; /stop it first.")
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
        limit = await self.service.queue_limit(guild_id)
        await self.service.queue.add(guild_id, tracks, limit=limit)
        await playback.advance(guild_id)
        listeners = playback.voice.listeners(guild_id, member_channel)
        session = Meditation(guild_id, member_channel, minutes, user_id, listeners | {user_id},
                             time.monotonic() + minutes * self.minute, cannabis)
        session.task = asyncio.create_task(self._run(session), name=f"meditation-{guild_id}")
        self.sessions[guild_id] = session
        await self.audit.record("music.meditation_started", guild_id=guild_id,
                                actor_id=user_id, target=str(minutes),
                                details={"cannabis": cannabis})
        return (f"🧘 Meditation started: {minutes} min. The music fades out at the end; "
                "stay until then to earn XP.")

    async def _run(self, session: Meditation) -> None:
        playback = self.service.playback
        try:
            total = session.minutes * self.minute
            fade = total * self.fade_fraction
            await asyncio.sleep(max(0.0, session.ends_at - time.monotonic() - fade))
            player = playback.players.get(session.guild_id)
            start_volume = playback.volumes.get(session.guild_id, 60)
            for step in range(1, FADE_STEPS + 1):
                if player is not None and player.connected:
                    with contextlib.suppress(Exception):
                        await player.set_volume(int(start_volume * (1 - step / FADE_STEPS)))
                await asyncio.sleep(fade / FADE_STEPS)
            stayed = playback.voice.listeners(session.guild_id, session.channel_id)
            finishers = session.participants & stayed
            amount = min(session.minutes * XP_PER_MINUTE, MAX_XP)
            for user_id in sorted(finishers):
                await self.xp.award(session.guild_id, user_id, amount, "music.meditation")
            session.rewarded = finishers
            await self.audit.record("music.meditation_completed", guild_id=session.guild_id,
                                    actor_id=session.started_by, target=str(session.minutes),
                                    details={"stayed": len(finishers)})
            db_session = await playback.session(session.guild_id)
            text_channel = db_session.text_channel_id if db_session is not None else None
            await playback.end_session(session.guild_id)
            await playback.notifier.say(
                text_channel, f"🧘 The {session.minutes}-minute session has ended. "
                f"{len(finishers)} member(s) stayed to the end.")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("music.meditation_failed", guild=session.guild_id, error=repr(exc))
        finally:
            self.sessions.pop(session.guild_id, None)
            session.finished.set()

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            if session.task is not None:
                session.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await session.task
