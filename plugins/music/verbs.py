"""Queue verbs beyond play and skip: /previous, play next, /history replay and removing
duplicates. Free of Discord types, like the rest of the service layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.api import UserError
from plugins.music.audience import Reply
from plugins.music.history import entry_track

if TYPE_CHECKING:
    from plugins.music.controls import PlayerControls
    from plugins.music.history import PlayHistory
    from plugins.music.service import MusicService
    from plugins.music.tracks import TrackInfo


class QueueVerbs:
    def __init__(self, service: MusicService, controls: PlayerControls,
                 history: PlayHistory) -> None:
        self.service = service
        self.controls = controls
        self.history = history

    async def check_play_next(self, guild_id: int, user_id: int, *, is_dj: bool) -> None:
        """Playing next pushes every queued track back by one: DJs may, and so may a member
        whose own tracks are the only ones queued (nobody else waits longer)."""
        if not is_dj and await self.service.queue.others_queued(guild_id, user_id):
            raise UserError("Only DJs can put a track at the front while other members' "
                            "tracks are queued; leave out `next` to add it at the end.")

    async def _admitted(self, track: TrackInfo, guild_id: int, user_id: int) -> TrackInfo:
        verdict = await self.service.admissible(track, guild_id, user_id)
        if not verdict.allowed:
            raise UserError(verdict.reason)
        return track

    async def previous(self, guild_id: int, user_id: int, member_channel: int | None,
                       text_channel_id: int | None, *, is_dj: bool) -> Reply:
        """Play the track before the current one again, now; the current one comes back
        after it. With nothing playing, the last track played here."""
        playback = self.service.playback
        current = playback.current.get(guild_id) if guild_id in playback.players else None
        if current is not None:
            session = await self.controls._control(guild_id, user_id, member_channel)
            others = playback.voice.listeners(guild_id, session.voice_channel_id) - {user_id}
            if not (is_dj or current.requester_id == user_id or not others):
                raise UserError("Only DJs, the member who queued this track, or someone "
                                "listening alone can go back; /history replay queues an "
                                "earlier track instead.")
        entry = await self.history.previous(guild_id, current)
        if entry is None:
            raise UserError("Nothing was played here before this track." if current
                            else "Nothing has been played here yet. Use /play to start.")
        track = await self._admitted(entry_track(entry), guild_id, user_id)
        self.history.replaying(guild_id, entry)
        if current is None:
            return await self.service.enqueue(guild_id, user_id, member_channel,
                                              text_channel_id, [track], via="previous")
        settings = await self.service.guild_settings(guild_id)
        adult = self.service.is_cannabis(track, settings)
        if adult:
            await self.service.require_adult(guild_id, user_id, "That track")
        track = track.with_requester(user_id, cannabis=adult)
        # Queue order afterwards: the previous track (playing), the current one, the rest.
        # Both go in ahead of the limit, like a restored track: nothing queued is dropped.
        await self.service.queue.push_front(guild_id, current)
        await self.service.queue.push_front(guild_id, track)
        started = await playback.skip(guild_id)
        await self.controls.record_action("previous", guild_id, user_id, track)
        if started is None:
            raise UserError("The previous track could not be started; the queue is kept.")
        return Reply.of(lambda reveal: f"Back to **{started.label_for(reveal)}**; "
                                       f"**{current.title_for(reveal)}** plays after it.")

    async def replay(self, guild_id: int, user_id: int, member_channel: int | None,
                     text_channel_id: int | None, entry_id: int) -> Reply:
        """Queue a track from the history again (at the end, like /play)."""
        entry = await self.history.get(guild_id, entry_id)
        if entry is None:
            raise UserError("That track is no longer in the history (it keeps the last 100).")
        track = await self._admitted(entry_track(entry), guild_id, user_id)
        return await self.service.enqueue(guild_id, user_id, member_channel, text_channel_id,
                                          [track], via="history")

    async def dedupe(self, guild_id: int, user_id: int, member_channel: int | None) -> str:
        """Drop repeats from the queue, keeping each track's first place. Open to every
        listener: each removed track still plays once."""
        await self.controls._control(guild_id, user_id, member_channel)
        removed = await self.service.queue.dedupe(guild_id)
        await self.controls.record_action("dedupe", guild_id, user_id, tracks=removed)
        if not removed:
            return "No duplicates in the queue."
        return f"Removed {removed} duplicate{'s' if removed != 1 else ''}."
