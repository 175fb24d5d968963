"""Controlling what plays: skip (with votes), pause, stop, volume, loop, seek and queue edits.
Every control needs the member in the bot's voice channel, and 21+ verification while a
cannabis-flagged track plays."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.api import UserError
from plugins.music.audience import Reply
from plugins.music.models import MusicSession
from plugins.music.node_errors import node_call
from plugins.music.tracks import TrackInfo, format_ms, track_id

if TYPE_CHECKING:
    from plugins.music.service import MusicService

MAX_VOLUME = 150
LOOP_MODES = ("off", "track", "queue")


@dataclass
class SkipVotes:
    track: str = ""
    voters: set[int] = field(default_factory=set)


class PlayerControls:
    def __init__(self, service: MusicService) -> None:
        self.service = service
        self._votes: defaultdict[int, SkipVotes] = defaultdict(SkipVotes)

    def _node_call(self, action: str, guild_id: int) -> contextlib.AbstractContextManager[None]:
        """A request to the node: whatever it answers wrong becomes a clear message."""
        return node_call(action, guild=guild_id, scrub=self.service.playback.lavalink.scrub)

    async def _active(self, guild_id: int, member_channel: int | None) -> MusicSession:
        session = await self.service.playback.session(guild_id)
        if session is None or guild_id not in self.service.playback.players:
            raise UserError("Nothing is playing. Use /play to start.")
        if member_channel != session.voice_channel_id:
            raise UserError(f"Join <#{session.voice_channel_id}> to control the music.")
        return session

    async def record_action(self, action: str, guild_id: int, user_id: int,
                            track: TrackInfo | None = None, **details: object) -> None:
        """Who did what to the music: a track is named by its link (or digest) and title,
        nothing more (README: What it stores)."""
        if track is not None:
            details["track"] = track_id(track)
        await self.service.services.audit.record(
            f"music.{action}", guild_id=guild_id, actor_id=user_id,
            target=track.title[:200] if track is not None else None, details=details)

    async def _control(self, guild_id: int, user_id: int, member_channel: int | None
                       ) -> MusicSession:
        session = await self._active(guild_id, member_channel)
        current = self.service.playback.current.get(guild_id)
        if current is not None and current.cannabis:
            await self.service.require_adult(guild_id, user_id, "The current track")
        return session

    async def skip(self, guild_id: int, user_id: int, member_channel: int | None,
                   *, is_dj: bool) -> str:
        session = await self._control(guild_id, user_id, member_channel)
        current = self.service.playback.current.get(guild_id)
        if current is None:
            raise UserError("Nothing is playing right now.")
        listeners = self.service.playback.voice.listeners(guild_id, session.voice_channel_id)
        if not is_dj and current.requester_id != user_id and len(listeners) > 1:
            votes = self._votes[guild_id]
            if votes.track != current.encoded:
                votes.track, votes.voters = current.encoded, set()
            votes.voters.add(user_id)
            needed = len(listeners) // 2 + 1  # more than half of the listeners
            if len(votes.voters & listeners) < needed:
                return f"Vote to skip: {len(votes.voters & listeners)}/{needed}."
        self._votes.pop(guild_id, None)
        with self._node_call("skip", guild_id):
            nxt = await self.service.playback.skip(guild_id)
        voted = not is_dj and current.requester_id != user_id and len(listeners) > 1
        await self.record_action("skip", guild_id, user_id, current, vote=voted)

        def render(reveal: bool) -> str:
            text = f"Skipped **{current.title_for(reveal)}**."
            return text + (f" Now playing **{nxt.label_for(reveal)}**." if nxt
                           else " The queue is empty.")

        return Reply.of(render)

    async def pause(self, guild_id: int, user_id: int, member_channel: int | None,
                    paused: bool) -> str:
        await self._control(guild_id, user_id, member_channel)
        player = self.service.playback.players[guild_id]
        with self._node_call("resume" if not paused else "pause", guild_id):
            await player.pause(paused)
        await MusicSession.filter(guild_id=guild_id).update(paused=paused)
        return "Paused." if paused else "Resumed."

    async def stop(self, guild_id: int, user_id: int, member_channel: int | None,
                   *, is_dj: bool) -> str:
        session = await self._control(guild_id, user_id, member_channel)
        listeners = self.service.playback.voice.listeners(guild_id, session.voice_channel_id)
        if not is_dj and len(listeners - {user_id}) > 0:
            raise UserError("Only DJs can stop the music while others are listening; "
                            "use /skip to vote instead.")
        current = self.service.playback.current.get(guild_id)
        await self.service.playback.end_session(guild_id)
        await self.record_action("stop", guild_id, user_id, current)
        return "Stopped, cleared the queue and left the channel."

    async def volume(self, guild_id: int, user_id: int, member_channel: int | None,
                     value: int) -> str:
        if not 0 <= value <= MAX_VOLUME:
            raise UserError(f"Volume goes from 0 to {MAX_VOLUME}.")
        await self._control(guild_id, user_id, member_channel)
        with self._node_call("volume", guild_id):
            await self.service.playback.players[guild_id].set_volume(value)
        self.service.playback.volumes[guild_id] = value
        await MusicSession.filter(guild_id=guild_id).update(volume=value)
        await self.record_action("volume", guild_id, user_id, volume=value)
        return f"Volume set to {value}."

    async def loop(self, guild_id: int, user_id: int, member_channel: int | None,
                   mode: str) -> str:
        if mode not in LOOP_MODES:
            raise UserError("Loop is off, track or queue.")
        await self._control(guild_id, user_id, member_channel)
        await MusicSession.filter(guild_id=guild_id).update(loop_mode=mode)
        return {"off": "Loop is off.", "track": "Looping this track.",
                "queue": "Looping the queue."}[mode]

    async def cycle_loop(self, guild_id: int, user_id: int, member_channel: int | None) -> str:
        session = await self._control(guild_id, user_id, member_channel)
        mode = LOOP_MODES[(LOOP_MODES.index(session.loop_mode) + 1) % len(LOOP_MODES)]
        return await self.loop(guild_id, user_id, member_channel, mode)

    async def seek(self, guild_id: int, user_id: int, member_channel: int | None,
                   position_ms: int | None) -> str:
        await self._control(guild_id, user_id, member_channel)
        current = self.service.playback.current.get(guild_id)
        if current is None:
            raise UserError("Nothing is playing right now.")
        if not current.can_seek:
            raise UserError("Live streams can't be sought." if current.is_stream
                            else "The music server can't seek in this track.")
        if position_ms is None or position_ms < 0:
            raise UserError("Give a time like 1:30 or 90 (seconds from the start).")
        # An unknown length (NodeLink's -1) is no end to check against: the node decides.
        if current.length_known and position_ms >= current.length_ms:
            raise UserError(f"That's past the end; this track is {format_ms(current.length_ms)}.")
        with self._node_call("seek", guild_id):
            await self.service.playback.players[guild_id].seek(position_ms)
        await self.service.playback.note_position(guild_id, position_ms)
        return f"Jumped to {format_ms(position_ms)}."

    async def remove(self, guild_id: int, user_id: int, member_channel: int | None,
                     index: int, *, is_dj: bool) -> str:
        await self._control(guild_id, user_id, member_channel)
        entries = await self.service.queue.page(guild_id, index - 1, 1) if index >= 1 else []
        if not entries:
            raise UserError(f"There is no track {index} in the queue.")
        if not is_dj and entries[0].requester_id != user_id:
            raise UserError("Only DJs can remove tracks other members queued.")
        removed = await self.service.queue.remove_at(guild_id, index - 1)
        if removed is None:
            return "That track already left."
        await self.record_action("remove", guild_id, user_id, removed, position=index)
        return Reply.of(lambda reveal: f"Removed **{removed.title_for(reveal)}**.")

    async def move(self, guild_id: int, user_id: int, member_channel: int | None,
                   src: int, dst: int, *, is_dj: bool = False) -> str:
        await self._control(guild_id, user_id, member_channel)
        size = await self.service.queue.count(guild_id)
        if not (1 <= src <= size and 1 <= dst <= size):
            raise UserError(f"Positions go from 1 to {size}.")
        entries = await self.service.queue.page(guild_id, src - 1, 1)
        if entries and not is_dj and entries[0].requester_id != user_id:
            raise UserError("Only DJs and the member who queued a track can move it; track "
                            f"{src} was queued by someone else.")
        moved = await self.service.queue.move(guild_id, src - 1, dst - 1)
        if moved is None:
            return "Nothing moved."
        await self.record_action("move", guild_id, user_id, moved, source=src, target=dst)
        return Reply.of(lambda reveal: f"Moved **{moved.title_for(reveal)}** to position {dst}.")

    async def shuffle(self, guild_id: int, user_id: int, member_channel: int | None) -> str:
        await self._control(guild_id, user_id, member_channel)
        count = await self.service.queue.shuffle(guild_id)
        await self.record_action("shuffle", guild_id, user_id, tracks=count)
        return f"Shuffled {count} tracks." if count else "The queue is empty."

    async def clear(self, guild_id: int, user_id: int, member_channel: int | None,
                    *, is_dj: bool) -> str:
        if not is_dj:
            raise UserError("Only DJs can clear the whole queue.")
        await self._control(guild_id, user_id, member_channel)
        count = await self.service.queue.clear(guild_id)
        await self.record_action("clear", guild_id, user_id, tracks=count)
        return f"Cleared {count} tracks."
