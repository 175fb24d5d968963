"""Driving one guild's player from the queue: advancing on TrackEnd, failed and stuck tracks,
saved positions, restore after a restart and moving players off a dead node.

Everything here reacts to wavelink events or is called by `MusicService`; Discord only appears
behind the small `VoiceConnector` and `Notifier` protocols, which tests replace.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import structlog
import wavelink

from bot.api import LavalinkUnavailable, UserError, is_database_unreachable, new_ref
from plugins.music.advance_retry import AdvanceRetry
from plugins.music.lavalink import NOT_CONFIGURED, LavalinkConnection, to_playable
from plugins.music.models import MusicSession
from plugins.music.node_errors import describe, is_node_failure, status_of
from plugins.music.queue import QueueRepository
from plugins.music.recovery import SessionRecovery
from plugins.music.tracks import TrackInfo

if TYPE_CHECKING:
    from collections.abc import Awaitable

log = structlog.get_logger("plugins.music.playback")

# Three failures in a row mean the node or the source is broken: stop instead of looping.
MAX_FAILURES_IN_ROW = 3
# Loop-queue re-appends may go past the guild's limit by one: the track was already queued.
LOOP_SLACK = 1
# What members read when Lavalink could not load or play a track; its own words stay in the log.
LOAD_FAILED = "That track could not be loaded."


class Unreachable(LavalinkUnavailable):
    """No Lavalink node answers: the core tells the member the music server is unreachable
    and that nothing was changed."""


class NotConfigured(UserError):
    def __init__(self) -> None:
        super().__init__(NOT_CONFIGURED)


def no_node(lavalink: LavalinkConnection) -> UserError:
    """Why there is no node to use: none configured, or none reachable."""
    return Unreachable() if lavalink.configured else NotConfigured()


class VoiceConnector(Protocol):
    def has_guild(self, guild_id: int) -> bool: ...

    async def join(self, guild_id: int, channel_id: int, node: wavelink.Node) -> wavelink.Player:
        ...

    def listeners(self, guild_id: int, channel_id: int) -> set[int]: ...


class Notifier(Protocol):
    async def say(self, channel_id: int | None, text: str) -> None: ...


class Playback:
    def __init__(
        self,
        lavalink: LavalinkConnection,
        queue: QueueRepository,
        voice: VoiceConnector,
        notifier: Notifier,
        *,
        queue_limit: Callable[[int], Awaitable[int]],
        on_listened: Callable[[int, set[int], int], Awaitable[None]] | None = None,
        related: Callable[[int, TrackInfo], Awaitable[TrackInfo | None]] | None = None,
        idle_minutes: Callable[[int], Awaitable[int | None]] | None = None,
        on_started: Callable[[int, TrackInfo], Awaitable[None]] | None = None,
    ) -> None:
        self.lavalink = lavalink
        self.queue = queue
        self.voice = voice
        self.notifier = notifier
        self.queue_limit = queue_limit
        self.on_listened = on_listened
        # Auto-queue: a related track when the queue runs out (None: stop there).
        self.related = related
        # Minutes to stay when idle; None means 24/7 (never leave on our own).
        self.idle_minutes = idle_minutes
        # Told of every track that starts from the queue or /play (the history); not of
        # replays after a restart or failover, which continue the same play.
        self.on_started = on_started
        self.minute = 60.0  # seconds per idle minute; tests shorten it
        # Told after a session ends by any path (/stop, the Stop button, idle leaving, a lost
        # voice connection): a typed session cut short ends with it (meditation: no XP).
        self.on_ended: Callable[[int], Awaitable[object]] | None = None
        self._idle: dict[int, asyncio.Task[None]] = {}
        self.recovery = SessionRecovery(self)
        # The next track after one that finished during a database outage (advance_retry.py).
        self.advancing = AdvanceRetry(self)
        self.players: dict[int, wavelink.Player] = {}
        self.current: dict[int, TrackInfo | None] = {}
        # Mirrors of the session row, so the /play hot path needs no read before the PATCH.
        self.channels: dict[int, int] = {}
        self.volumes: dict[int, int] = {}
        self._failures: defaultdict[int, int] = defaultdict(int)
        self._last_error: dict[int, str] = {}
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        # The last position written to the database, per guild, and when (monotonic).
        self.saved_position: dict[int, int] = {}
        self._saved_at: dict[int, float] = {}
        self.closing = False
        # Notified when a track starts or a player moves node: tests and benchmarks wait on it.
        self.changed = asyncio.Condition()
        self.failovers: list[tuple[int, str]] = []
        # Puts a session's stored effect on a new or moving player (effects.py sets it).
        self.prepare_player: Callable[[int, wavelink.Player, Any, Any], Awaitable[None]] | None = (
            None)

    # -- players ----------------------------------------------------------------------------

    async def ensure_player(
        self, guild_id: int, channel_id: int, text_channel_id: int | None, *, volume: int
    ) -> wavelink.Player:
        player = self.players.get(guild_id)
        if player is not None and player.connected:
            return player
        node = self.lavalink.best_node()
        if node is None:
            raise no_node(self.lavalink)
        try:
            player = await self.voice.join(guild_id, channel_id, node)
        except (wavelink.ChannelTimeoutException, TimeoutError):
            raise UserError("I couldn't join your voice channel in time; try again.") from None
        self.players[guild_id] = player
        session, created = await MusicSession.get_or_create(
            guild_id=guild_id,
            defaults={"voice_channel_id": channel_id, "text_channel_id": text_channel_id,
                      "node_id": self.lavalink.name_of(node), "volume": volume},
        )
        if not created:
            await MusicSession.filter(guild_id=guild_id).update(
                voice_channel_id=channel_id, text_channel_id=text_channel_id or
                session.text_channel_id, node_id=self.lavalink.name_of(node), active=True,
            )
        self.channels[guild_id] = channel_id
        self.volumes[guild_id] = session.volume
        if not created:
            await self.prepare(guild_id, player, node, session.effects)
        return player

    async def prepare(self, guild_id: int, player: wavelink.Player, node: Any,
                      effects: Any) -> None:
        """Give a new or moving player the effect stored with its session, if any."""
        if self.prepare_player is None or not effects:
            return
        try:
            await self.prepare_player(guild_id, player, node, effects)
        except Exception as exc:  # music without its effect beats no music
            log.warning("music.effects_restore_failed", guild=guild_id, error=repr(exc))

    async def session(self, guild_id: int) -> MusicSession | None:
        return await MusicSession.get_or_none(guild_id=guild_id, active=True)

    # -- advancing --------------------------------------------------------------------------

    async def advance(self, guild_id: int, *, finished: bool = False) -> TrackInfo | None:
        """Play the next track (after the current one `finished`, or on demand); returns it."""
        async with self._locks[guild_id]:
            session = await self.session(guild_id)
            player = self.players.get(guild_id)
            if session is None or player is None or self.closing:
                return None
            current = TrackInfo.from_json(session.current) if session.current else None
            replay: TrackInfo | None = None
            if finished and current is not None:
                if session.loop_mode == "track":
                    replay = current
                elif session.loop_mode == "queue":
                    limit = await self.queue_limit(guild_id) + LOOP_SLACK
                    await self.queue.add(guild_id, [current], limit=limit)
            while True:
                nxt = replay or await self.queue.pop_next(guild_id)
                replay = None
                if nxt is None and finished and current is not None and self.related:
                    nxt = await self.related(guild_id, current)
                    finished = False  # one related track per run-out, not a loop
                if nxt is None:
                    self.current[guild_id] = None
                    await MusicSession.filter(guild_id=guild_id).update(
                        current=None, position_ms=0)
                    self._start_idle(guild_id, session.text_channel_id)
                    return None
                try:
                    await player.play(to_playable(nxt), volume=session.volume, paused=False)
                except Exception as exc:
                    # A refusal, or an answer wavelink couldn't parse (servers that bend v4).
                    if not is_node_failure(exc):
                        raise
                    ref = new_ref()
                    status = status_of(exc)
                    log.warning("music.play_refused", ref=ref, guild=guild_id, status=status,
                                error=describe(exc, self.lavalink.scrub))
                    why = (f"the music server answered {status}" if status
                           else "the music server's answer was unreadable")
                    if await self._failed(guild_id, session, nxt, f"{why}, ref {ref}"):
                        return None
                    continue
                self.current[guild_id] = nxt
                self.reset_position(guild_id, 0)
                self._stop_idle(guild_id)
                await MusicSession.filter(guild_id=guild_id).update(
                    current=nxt.to_json(), position_ms=0, paused=False)
                await self._started(guild_id, nxt)
                return nxt

    async def play_now(self, guild_id: int, track: TrackInfo) -> bool:
        """Start `track` on an idle player without going through the queue (the /play fast
        path: the PATCH is the first thing sent). False when busy or refused by the node."""
        async with self._locks[guild_id]:
            player = self.players.get(guild_id)
            if player is None or self.current.get(guild_id) is not None or self.closing:
                return False
            try:
                await player.play(to_playable(track), volume=self.volumes.get(guild_id),
                                  paused=False)
            except Exception as exc:  # the queue path retries it and reports the failure
                if not is_node_failure(exc):
                    raise
                return False
            self.current[guild_id] = track
            self.reset_position(guild_id, 0)
            self._stop_idle(guild_id)
            await MusicSession.filter(guild_id=guild_id).update(
                current=track.to_json(), position_ms=0, paused=False)
            await self._started(guild_id, track)
            return True

    async def _started(self, guild_id: int, track: TrackInfo) -> None:
        if self.on_started is None:
            return
        try:
            await self.on_started(guild_id, track)
        except Exception as exc:  # the music plays on; a missing history row is not worth more
            log.error("music.on_started_failed", guild=guild_id, error=repr(exc))

    # -- idle -------------------------------------------------------------------------------

    def _start_idle(self, guild_id: int, text_channel_id: int | None) -> None:
        self._stop_idle(guild_id)
        if self.idle_minutes is not None and not self.closing:
            self._idle[guild_id] = asyncio.create_task(
                self._leave_when_idle(guild_id, text_channel_id), name=f"music-idle-{guild_id}")

    def _stop_idle(self, guild_id: int) -> None:
        task = self._idle.pop(guild_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _leave_when_idle(self, guild_id: int, text_channel_id: int | None) -> None:
        assert self.idle_minutes is not None
        try:
            minutes = await self.idle_minutes(guild_id)
            if minutes is None:
                return  # 24/7 mode: stay in the channel
            await asyncio.sleep(minutes * self.minute)
            if self.current.get(guild_id) is not None or guild_id not in self.players:
                return
            self._idle.pop(guild_id, None)
            await self.end_session(guild_id)
            await self.notifier.say(
                text_channel_id, f"Left the voice channel after {minutes} minute(s) with "
                "nothing to play. Use /play to bring me back.")
        finally:
            task = asyncio.current_task()  # always this idle task; None only outside a task
            if task is not None and not task.cancelling():
                await self.notify()

    async def skip(self, guild_id: int) -> TrackInfo | None:
        """Play the next track now, or stop when the queue is empty."""
        nxt = await self.advance(guild_id)
        player = self.players.get(guild_id)
        if nxt is None and player is not None:
            # Lavalink answers with TrackEnd "stopped", which advancing ignores.
            with contextlib.suppress(wavelink.LavalinkException):
                await player.skip(force=True)
        return nxt

    async def _failed(self, guild_id: int, session: MusicSession, track: TrackInfo,
                      why: str) -> bool:
        """Tell the channel; after three in a row stop playback. True when stopped."""
        self._failures[guild_id] += 1
        count = self._failures[guild_id]
        await MusicSession.filter(guild_id=guild_id).update(failures_in_row=count)
        if count >= MAX_FAILURES_IN_ROW:
            self._failures[guild_id] = 0
            self.current[guild_id] = None
            await MusicSession.filter(guild_id=guild_id).update(current=None, position_ms=0)
            player = self.players.get(guild_id)
            if player is not None:
                with contextlib.suppress(Exception):
                    await player.skip(force=True)
            await self.notifier.say(
                session.text_channel_id,
                f"Couldn't play **{track.title_for(False)}** ({why}). Stopped: {count} tracks "
                "in a row failed, so the music server or the source is having trouble. The rest of "
                "the queue is kept; use /play or /skip to try again.",
            )
            return True
        await self.notifier.say(
            session.text_channel_id,
            f"Couldn't play **{track.title_for(False)}** ({why}); skipping it."
        )
        return False

    # -- wavelink events --------------------------------------------------------------------

    async def dispatch(self, event: str, payload: Any) -> None:
        """Route a wavelink event (`wavelink_track_end` ...) to its handler; never raises."""
        name = "on_" + event.removeprefix("wavelink_")
        handler = getattr(self, name, None) or getattr(self.recovery, name, None)
        if handler is None or self.closing:
            return
        try:
            await handler(payload)
        except Exception as exc:
            if is_database_unreachable(exc):  # an outage, not a bug: no traceback per update
                log.warning("music.event_database_unreachable", lavalink_event=event)
                return
            log.error("music.event_failed", lavalink_event=event, error=repr(exc), exc_info=True)

    def _guild_of(self, payload: Any) -> int | None:
        player = getattr(payload, "player", None)
        # payload.player is None for players wavelink no longer knows (e.g. after switch_node).
        if player is None or player.guild is None:
            return None
        guild_id = player.guild.id
        return guild_id if self.players.get(guild_id) is player else None

    def _is_current(self, guild_id: int, track: Any) -> bool:
        current = self.current.get(guild_id)
        return current is not None and getattr(track, "encoded", None) == current.encoded

    async def on_track_start(self, payload: Any) -> None:
        guild_id = self._guild_of(payload)
        if guild_id is None:
            return
        await self.notify()

    def reset_position(self, guild_id: int, position: int) -> None:
        self.saved_position[guild_id] = position
        self._saved_at[guild_id] = time.monotonic()

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, pred: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `pred()` holds; checked whenever a node, track or player changes."""
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(pred)

    async def on_track_exception(self, payload: Any) -> None:
        guild_id = self._guild_of(payload)
        if guild_id is not None and self._is_current(guild_id, payload.track):
            # Lavalink's message and cause can name internal hosts: log them under a ref and
            # post only the plain sentence with the ref.
            ref = new_ref()
            exception = payload.exception or {}
            log.warning("music.track_exception", ref=ref, guild=guild_id,
                        message=str(exception.get("message") or "")[:500],
                        severity=str(exception.get("severity") or ""),
                        cause=str(exception.get("cause") or "")[:500])
            self._last_error[guild_id] = f"it could not be loaded, ref {ref}"

    async def on_track_end(self, payload: Any) -> None:
        guild_id = self._guild_of(payload)
        if guild_id is None or not self._is_current(guild_id, payload.track):
            return  # replaced, stopped by us, or an event about an older track
        if payload.reason == "finished":
            self._failures[guild_id] = 0
            await self.advancing.after_finish(guild_id)
        elif payload.reason == "loadFailed":
            await self.skip_failed(guild_id, self._last_error.pop(guild_id, "it failed to load"))

    async def on_track_stuck(self, payload: Any) -> None:
        guild_id = self._guild_of(payload)
        if guild_id is None or not self._is_current(guild_id, payload.track):
            return
        seconds = round(int(payload.threshold or 0) / 1000)
        await self.skip_failed(guild_id, f"it got stuck for {seconds} s")

    async def skip_failed(self, guild_id: int, why: str) -> None:
        session = await self.session(guild_id)
        track = self.current.get(guild_id)
        if session is None or track is None:
            return
        self.current[guild_id] = None
        if not await self._failed(guild_id, session, track, why):
            await self.advance(guild_id)

    async def on_player_update(self, payload: Any) -> None:
        guild_id = self._guild_of(payload)
        if guild_id is None or self.current.get(guild_id) is None:
            return
        position = int(payload.position)
        previous = self.saved_position.get(guild_id)
        await self.note_position(guild_id, position)
        player = self.players.get(guild_id)
        if player is None:
            return  # the session ended while the position was being saved
        if self.on_listened and previous is not None and position > previous and not player.paused:
            session = await self.session(guild_id)
            if session is not None:
                listeners = self.voice.listeners(guild_id, session.voice_channel_id)
                await self.on_listened(guild_id, listeners, position - previous)

    async def note_position(self, guild_id: int, position: int) -> None:
        """Save where the current track is (player updates, seeks)."""
        await MusicSession.filter(guild_id=guild_id, active=True).update(position_ms=position)
        self.saved_position[guild_id] = position
        self._saved_at[guild_id] = time.monotonic()
        await self.notify()

    def estimated_position(self, guild_id: int, *, paused: bool) -> int:
        """The last saved position plus the time played since (the node may be gone)."""
        saved = self.saved_position.get(guild_id, 0)
        if paused or guild_id not in self._saved_at:
            return saved
        return saved + int((time.monotonic() - self._saved_at[guild_id]) * 1000)

    # -- leaving ----------------------------------------------------------------------------

    async def end_session(self, guild_id: int) -> None:
        """Stop, leave voice and forget the session (the queue goes with it)."""
        self._stop_idle(guild_id)
        async with self._locks[guild_id]:
            self.current.pop(guild_id, None)
            self.channels.pop(guild_id, None)
            self.volumes.pop(guild_id, None)
            player = self.players.pop(guild_id, None)
            await MusicSession.filter(guild_id=guild_id).delete()
            await self.queue.clear(guild_id)
            if player is not None:
                with contextlib.suppress(Exception):
                    await player.disconnect()
        if self.on_ended is not None:
            try:
                await self.on_ended(guild_id)
            except Exception as exc:  # the music has ended either way
                log.error("music.session_end_hook_failed", guild=guild_id, error=repr(exc))

    async def voice_lost(self, player: Any) -> None:
        """Discord took the bot out of its voice channel: the session ends as /stop ends it
        (a meditation with it, not completed), with a note in its text channel. A player we
        forgot ourselves (leaving, stopping, moving node) is not this guild's any more."""
        guild_id = player.guild.id
        if self.closing or self.players.get(guild_id) is not player:
            return
        session = await self.session(guild_id)
        await self.end_session(guild_id)
        log.info("music.voice_lost", guild=guild_id)
        await self.notifier.say(
            session.text_channel_id if session is not None else None,
            "I was disconnected from the voice channel, so the music stopped and the queue "
            "was cleared. Use /play to start again.")

    async def close(self) -> None:
        """On shutdown: keep sessions active in the database so the next start restores them."""
        self.closing = True
        self.recovery.close()
        self.advancing.close()
        for guild_id in list(self._idle):
            self._stop_idle(guild_id)
        self.players.clear()
