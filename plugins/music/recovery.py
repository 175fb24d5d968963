"""Getting music back after failures: replaying on a node that restarted without its
session, moving players off a node that died (wavelink's `switch_node`), and restoring every
active session after the bot itself restarted (rejoin, replay the saved track at its position).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

import structlog
import wavelink

from plugins.music.lavalink import to_playable
from plugins.music.models import MusicSession
from plugins.music.tracks import TrackInfo, start_position

if TYPE_CHECKING:
    from plugins.music.playback import Playback

log = structlog.get_logger("plugins.music.recovery")

RESTORE_CONCURRENCY = 20
# Sessions whose guild is not cached yet are retried for up to two minutes.
RETRY_INTERVAL = 0.5
RETRY_ATTEMPTS = 240


class SessionType(Protocol):
    """What recovery asks of a session type (MusicSession.kind) other than "general"."""

    async def restore(self, session: MusicSession) -> bool:
        """Before rejoining: False when the session ended instead (nothing to rejoin)."""
        ...

    async def sweep(self) -> int:
        """After a restore pass: end this type's sessions that have no music left to restore."""
        ...


class SessionRecovery:
    def __init__(self, playback: Playback) -> None:
        self.playback = playback
        self._restoring: set[int] = set()
        self._retry: asyncio.Task[None] | None = None
        # Handlers of typed sessions by kind ("meditation"); "general" and "educational" have
        # none: their music is simply restored.
        self.session_types: dict[str, SessionType] = {}

    def _retry_later(self) -> None:
        """Some sessions' guilds are not cached yet. An auto-sharded nextcord announces guilds
        (guild_available) only once every shard has launched, 5 s apart, though each guild is
        usable as soon as its GUILD_CREATE arrives: look again shortly instead of waiting."""
        if self._retry is None or self._retry.done():
            self._retry = asyncio.create_task(self._retry_loop(), name="music-restore-retry")

    async def _retry_loop(self) -> None:
        for _attempt in range(RETRY_ATTEMPTS):
            await asyncio.sleep(RETRY_INTERVAL)
            if self.playback.closing:
                return
            sessions = await MusicSession.filter(active=True).values_list("guild_id", flat=True)
            if all(g in self.playback.players for g in sessions):
                return
            try:
                await self.restore_all()
            except Exception as exc:
                log.warning("music.restore_retry_failed", error=repr(exc))

    def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()

    async def on_node_ready(self, payload: Any) -> None:
        node = payload.node
        if not self.playback.lavalink.owns(node):
            return
        if not payload.resumed:
            # A restarted node forgot its players, but wavelink keeps the stale objects:
            # send the voice state again and replay the current track where it was.
            for guild_id, player in list(self.playback.players.items()):
                if player.node is node:
                    await self._replay_on(guild_id, player)
        await self.playback.notify()
        await self.restore_all()
        await self.playback.notify()

    async def on_node_disconnected(self, payload: Any) -> None:
        node = payload.node
        if not self.playback.lavalink.owns(node):
            return
        for guild_id, player in list(self.playback.players.items()):
            if player.node is not node:
                continue
            target = self.playback.lavalink.best_node(exclude=node)
            if target is None:
                log.warning("music.no_failover_node", guild=guild_id)
                continue
            # Its effect goes along, minus any filter the target has switched off.
            await self.playback.prepare(guild_id, player, target, {"filters": player.filters()})
            try:
                await player.switch_node(target)
            except Exception as exc:
                log.error("music.switch_failed", guild=guild_id, error=repr(exc))
                continue
            name = self.playback.lavalink.name_of(target)
            await MusicSession.filter(guild_id=guild_id).update(node_id=name)
            self.playback.failovers.append((guild_id, name))
            log.info("music.failover", guild=guild_id, node=name)
            await self.playback.notify()

    async def _replay_on(self, guild_id: int, player: wavelink.Player) -> None:
        session = await self.playback.session(guild_id)
        if session is None:
            return
        try:
            await player._dispatch_voice_update()
            current = self.playback.current.get(guild_id)
            if current is not None:
                # wavelink's own estimate resets once the node is gone; ours survives it.
                start = self.playback.estimated_position(guild_id, paused=session.paused)
                # Not min(start, length): NodeLink's unknown length (-1) made that a 400.
                await player.play(to_playable(current), start=start_position(start, current),
                                  volume=session.volume, paused=session.paused)
        except Exception as exc:
            log.error("music.replay_failed", guild=guild_id, error=repr(exc))

    # -- restore after a restart -------------------------------------------------------------

    async def restore_all(self) -> int:
        """Rejoin and resume every active session whose guild is available; returns how many."""
        if self.playback.closing or self.playback.lavalink.best_node() is None:
            return 0
        sessions = await MusicSession.filter(active=True)
        waiting = [s for s in sessions if s.guild_id not in self.playback.players
                   and s.guild_id not in self._restoring]
        todo = [s for s in waiting if self.playback.voice.has_guild(s.guild_id)]
        if len(todo) < len(waiting):
            self._retry_later()
        limit = asyncio.Semaphore(RESTORE_CONCURRENCY)

        async def one(session: MusicSession) -> bool:
            async with limit:
                return await self.restore(session)

        self._restoring.update(s.guild_id for s in todo)
        try:
            results = await asyncio.gather(*(one(s) for s in todo))
        finally:
            self._restoring.difference_update(s.guild_id for s in todo)
        for handler in self.session_types.values():
            await handler.sweep()
        return sum(results)

    async def restore(self, session: MusicSession) -> bool:
        guild_id = session.guild_id
        node = self.playback.lavalink.best_node()
        if node is None:
            return False
        handler = self.session_types.get(session.kind)
        if handler is not None and not await handler.restore(session):
            return True  # the session ended (e.g. a meditation whose time ran out meanwhile)
        try:
            player = await self.playback.voice.join(guild_id, session.voice_channel_id, node)
        except Exception as exc:
            log.warning("music.restore_join_failed", guild=guild_id, error=repr(exc))
            return False
        self.playback.players[guild_id] = player
        self.playback.channels[guild_id] = session.voice_channel_id
        self.playback.volumes[guild_id] = session.volume
        name = self.playback.lavalink.name_of(node)
        await MusicSession.filter(guild_id=guild_id).update(node_id=name)
        await self.playback.prepare(guild_id, player, node, session.effects)
        if not session.current:
            await self.playback.advance(guild_id)
            return True
        track = TrackInfo.from_json(session.current)
        try:
            await player.play(to_playable(track),
                              start=start_position(int(session.position_ms), track),
                              volume=session.volume, paused=session.paused)
        except wavelink.LavalinkException:
            self.playback.current[guild_id] = track
            await self.playback.skip_failed(guild_id, "the music server refused it after a restart")
            return True
        except Exception as exc:  # the node vanished meanwhile, or we are shutting down
            log.warning("music.restore_failed", guild=guild_id, error=repr(exc))
            self.playback.players.pop(guild_id, None)
            return False
        self.playback.current[guild_id] = track
        self.playback.reset_position(guild_id, int(session.position_ms))
        log.info("music.restored", guild=guild_id, position_ms=session.position_ms)
        await self.playback.notify()
        return True

