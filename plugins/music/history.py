"""Each server's last 100 played tracks, for /history and /previous.

A row is written when a track starts (from the queue or /play), not for a replay after a
restart or a node failover (the same play continuing). A track that starts again right after
itself (loop track) refreshes its row instead of filling the history with one song.

/previous walks back: the history row of what plays now is remembered per server (the
"cursor"), and /previous plays the row before it. A track started by /previous gets a row of
its own (it was played again) but the cursor moves to the row it replayed, so pressing
/previous again goes one further back instead of bouncing between two tracks.
"""

from __future__ import annotations

from typing import cast

from tortoise import timezone

from plugins.music.models import MusicHistoryEntry
from plugins.music.tracks import MAX_TITLE, TrackInfo

# Rows kept per server.
HISTORY_SIZE = 100


def entry_track(entry: MusicHistoryEntry) -> TrackInfo:
    return TrackInfo(
        encoded=entry.encoded, title=entry.title, author=entry.author, uri=entry.uri,
        length_ms=entry.length_ms, source=entry.source, is_stream=entry.is_stream,
        requester_id=entry.requester_id, cannabis=entry.cannabis, explicit=entry.explicit,
    )


class PlayHistory:
    def __init__(self) -> None:
        # The history row of the track playing now, per server (lost on restart: /previous
        # then starts from the newest row that is not the current track).
        self._cursor: dict[int, int] = {}
        # A row /previous is about to play again: where the cursor goes once it starts.
        self._replaying: dict[int, tuple[str, int]] = {}

    async def record(self, guild_id: int, track: TrackInfo) -> None:
        """A track started: one read and one write, plus a prune of rows past the 100th."""
        newest = await MusicHistoryEntry.filter(guild_id=guild_id).order_by("-id").first()
        replay = self._replaying.pop(guild_id, None)
        if newest is not None and newest.encoded == track.encoded:
            await MusicHistoryEntry.filter(id=newest.id).update(played_at=timezone.now())
            row_id = newest.id
        else:
            row = await MusicHistoryEntry.create(
                guild_id=guild_id, requester_id=track.requester_id, encoded=track.encoded,
                title=track.title[:MAX_TITLE], author=track.author[:200],
                uri=(track.uri or "")[:500] or None, length_ms=track.length_ms,
                source=track.source[:32], is_stream=track.is_stream, cannabis=track.cannabis,
                explicit=track.explicit,
            )
            row_id = row.id
            await self._prune(guild_id)
        if replay is not None and replay[0] == track.encoded:
            row_id = replay[1]
        self._cursor[guild_id] = row_id

    async def _prune(self, guild_id: int) -> None:
        beyond = cast("list[int]", await (
            MusicHistoryEntry.filter(guild_id=guild_id).order_by("-id").offset(HISTORY_SIZE)
            .limit(1).values_list("id", flat=True)
        ))
        if beyond:
            await MusicHistoryEntry.filter(guild_id=guild_id, id__lte=beyond[0]).delete()

    async def previous(self, guild_id: int, current: TrackInfo | None
                       ) -> MusicHistoryEntry | None:
        """What /previous plays: with nothing playing, the last track played; otherwise the
        one played before the current track."""
        rows = MusicHistoryEntry.filter(guild_id=guild_id).order_by("-id")
        if current is None:
            return await rows.first()
        cursor = self._cursor.get(guild_id)
        if cursor is not None:
            return await rows.filter(id__lt=cursor).first()
        return await rows.exclude(encoded=current.encoded).first()

    def replaying(self, guild_id: int, entry: MusicHistoryEntry) -> None:
        """`entry` is about to start again through /previous (see the module's docstring)."""
        self._replaying[guild_id] = (entry.encoded, entry.id)

    async def get(self, guild_id: int, entry_id: int) -> MusicHistoryEntry | None:
        return await MusicHistoryEntry.get_or_none(guild_id=guild_id, id=entry_id)

    async def page(self, guild_id: int, offset: int, limit: int) -> list[MusicHistoryEntry]:
        return await (MusicHistoryEntry.filter(guild_id=guild_id).order_by("-id")
                      .offset(offset).limit(limit))

    async def count(self, guild_id: int) -> int:
        return await MusicHistoryEntry.filter(guild_id=guild_id).count()
