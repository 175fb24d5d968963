"""Saved playlists in the database: who owns which, and their tracks in order.

Positions are gapped (steps of 2**20) and distinct: appending writes one bulk INSERT above the
largest, removing deletes one row (the gap it leaves is harmless), and moving gives one row the
midpoint between its new neighbours. Only when two neighbours leave no midpoint (after ~20
moves into the same spot) does one UPDATE shift the positions from there on up by a step.
Every edit is thus a constant number of statements that write one row, whatever the playlist's
length (bench/playlists.py counts them); "track 37" is an OFFSET on the
(playlist_id, position) index, which reads but never writes.

Every edit runs in a transaction whose first statement bumps the playlist row's `version`.
That UPDATE takes the row's lock on PostgreSQL (SQLite runs one transaction at a time), so a
second DJ's edit of the same playlist waits for the first to commit and then reads what it
wrote: two edits at once are both kept, never one overwriting the other.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import cast

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from bot.api import UserError
from plugins.music.models import MusicPlaylist, MusicPlaylistTrack
from plugins.music.tracks import MAX_TITLE, TrackInfo

SERVER = 0  # the owner_id of a server playlist
STEP = 1 << 20


class NameTaken(Exception):
    """The owner already has a playlist of that name (the unique key said so)."""


class PlaylistGone(UserError):
    def __init__(self) -> None:
        super().__init__("That playlist was just deleted.")


@dataclass(frozen=True)
class Appended:
    added: int
    dropped: int  # tracks that did not fit under the limit
    total: int  # tracks in the playlist afterwards


def row_to_track(row: MusicPlaylistTrack, requester_id: int = 0) -> TrackInfo:
    return TrackInfo(encoded=row.encoded, title=row.title, author=row.author, uri=row.uri,
                     length_ms=row.length_ms, source=row.source, is_stream=row.is_stream,
                     requester_id=requester_id, cannabis=row.cannabis,
                     explicit=row.explicit)


def _rows(playlist_id: int, start: int, tracks: Sequence[TrackInfo]) -> list[MusicPlaylistTrack]:
    return [
        MusicPlaylistTrack(
            playlist_id=playlist_id, position=start + STEP * (i + 1), encoded=t.encoded,
            title=t.title[:MAX_TITLE], author=t.author[:200], uri=(t.uri or "")[:500] or None,
            length_ms=max(0, t.length_ms), source=t.source[:32], is_stream=t.is_stream,
            cannabis=t.cannabis, explicit=t.explicit,
        )
        for i, t in enumerate(tracks)
    ]


class PlaylistStore:
    """Reads and edits; callers have checked who may do what."""

    @contextlib.asynccontextmanager
    async def _editing(self, playlist_id: int) -> AsyncIterator[int]:
        """A transaction holding the playlist's row lock; yields its track count as of now."""
        async with in_transaction():
            bumped = await MusicPlaylist.filter(id=playlist_id).update(version=F("version") + 1)
            if not bumped:
                raise PlaylistGone()
            counts = cast("list[int]", await MusicPlaylist.filter(id=playlist_id)
                          .values_list("track_count", flat=True))
            yield int(counts[0])

    # -- playlists ------------------------------------------------------------------------

    async def get(self, playlist_id: int) -> MusicPlaylist | None:
        return await MusicPlaylist.get_or_none(id=playlist_id)

    async def named(self, guild_id: int, owner_id: int, key: str) -> MusicPlaylist | None:
        return await MusicPlaylist.get_or_none(guild_id=guild_id, owner_id=owner_id,
                                               name_key=key)

    async def shared_named(self, guild_id: int, key: str, limit: int = 2
                           ) -> list[MusicPlaylist]:
        return await MusicPlaylist.filter(guild_id=guild_id, name_key=key, shared=True
                                          ).exclude(owner_id=SERVER).limit(limit)

    async def count_owned(self, guild_id: int, owner_id: int) -> int:
        return await MusicPlaylist.filter(guild_id=guild_id, owner_id=owner_id).count()

    async def visible(self, guild_id: int, user_id: int, typed: str = "",
                      limit: int = 25) -> list[MusicPlaylist]:
        """The member's own playlists, the server's, and those others share; one query."""
        query = MusicPlaylist.filter(Q(owner_id=user_id) | Q(owner_id=SERVER) | Q(shared=True),
                                     guild_id=guild_id)
        if typed:
            query = query.filter(name_key__contains=typed.casefold())
        return await query.order_by("name_key", "id").limit(limit)

    async def create(self, guild_id: int, owner_id: int, name: str, key: str,
                     tracks: Sequence[TrackInfo], *, max_tracks: int
                     ) -> tuple[MusicPlaylist, Appended]:
        accepted = list(tracks)[:max_tracks]
        try:
            async with in_transaction():
                playlist = await MusicPlaylist.create(
                    guild_id=guild_id, owner_id=owner_id, name=name, name_key=key,
                    track_count=len(accepted))
                if accepted:
                    await MusicPlaylistTrack.bulk_create(_rows(playlist.id, 0, accepted),
                                                         batch_size=1000)
        except IntegrityError:
            raise NameTaken() from None
        return playlist, Appended(len(accepted), len(tracks) - len(accepted), len(accepted))

    async def rename(self, playlist_id: int, name: str, key: str) -> None:
        try:
            async with self._editing(playlist_id):
                await MusicPlaylist.filter(id=playlist_id).update(name=name, name_key=key)
        except IntegrityError:
            raise NameTaken() from None

    async def set_shared(self, playlist_id: int, shared: bool) -> None:
        await MusicPlaylist.filter(id=playlist_id).update(shared=shared,
                                                          version=F("version") + 1)

    async def delete(self, playlist_id: int) -> None:
        async with in_transaction():
            await MusicPlaylistTrack.filter(playlist_id=playlist_id).delete()
            await MusicPlaylist.filter(id=playlist_id).delete()

    async def delete_owned_by(self, user_id: int) -> int:
        """Privacy deletion: every playlist the member owns, in any server."""
        ids = cast("list[int]", await MusicPlaylist.filter(owner_id=user_id)
                   .values_list("id", flat=True))
        if not ids:
            return 0
        async with in_transaction():
            removed = await MusicPlaylistTrack.filter(playlist_id__in=ids).delete()
            removed += await MusicPlaylist.filter(id__in=ids).delete()
        return removed

    async def export_owned_by(self, user_id: int) -> list[dict[str, object]]:
        """Privacy export: the member's playlists with their tracks (two queries)."""
        playlists = await MusicPlaylist.filter(owner_id=user_id).order_by("id").values(
            "id", "guild_id", "name", "shared")
        rows = await MusicPlaylistTrack.filter(
            playlist_id__in=[p["id"] for p in playlists]).order_by("playlist_id", "position"
                                                                   ).values("playlist_id",
                                                                            "title", "uri")
        tracks: dict[int, list[dict[str, object]]] = {p["id"]: [] for p in playlists}
        for r in rows:
            tracks[r["playlist_id"]].append({"title": r["title"], "uri": r["uri"]})
        return [{**p, "tracks": tracks[p["id"]]} for p in playlists]

    # -- tracks ---------------------------------------------------------------------------

    def _ordered(self, playlist_id: int) -> QuerySet[MusicPlaylistTrack]:
        return MusicPlaylistTrack.filter(playlist_id=playlist_id).order_by("position", "id")

    async def _at(self, playlist_id: int, index: int) -> MusicPlaylistTrack | None:
        if index < 0:
            return None
        rows = await self._ordered(playlist_id).offset(index).limit(1)
        return rows[0] if rows else None

    async def append(self, playlist_id: int, tracks: Sequence[TrackInfo], *,
                     max_tracks: int) -> Appended:
        """Add as many of `tracks` as fit at the end: bump, two reads, one bulk INSERT, one
        UPDATE of the count."""
        async with self._editing(playlist_id) as count:
            accepted = list(tracks)[:max(0, max_tracks - count)]
            if accepted:
                top = cast("list[int]", await MusicPlaylistTrack.filter(playlist_id=playlist_id)
                           .order_by("-position").limit(1).values_list("position", flat=True))
                await MusicPlaylistTrack.bulk_create(
                    _rows(playlist_id, int(top[0]) if top else 0, accepted), batch_size=1000)
                await MusicPlaylist.filter(id=playlist_id).update(
                    track_count=count + len(accepted))
            return Appended(len(accepted), len(tracks) - len(accepted), count + len(accepted))

    async def remove_at(self, playlist_id: int, index: int) -> MusicPlaylistTrack | None:
        """Remove track `index` (0-based): bump, two reads, a DELETE and the count."""
        async with self._editing(playlist_id) as count:
            row = await self._at(playlist_id, index)
            if row is None:
                return None
            await MusicPlaylistTrack.filter(id=row.id).delete()
            await MusicPlaylist.filter(id=playlist_id).update(track_count=max(0, count - 1))
            return row

    async def move(self, playlist_id: int, src: int, dst: int) -> MusicPlaylistTrack | None:
        """Move track `src` to index `dst` (0-based): bump, three reads, one UPDATE of the
        moved row (and, rarely, one UPDATE opening a gap)."""
        async with self._editing(playlist_id) as count:
            if not (0 <= src < count and 0 <= dst < count):
                return None
            row = await self._at(playlist_id, src)
            if row is None:
                return None
            if src != dst:
                position = await self._slot(playlist_id, row.id, dst)
                await MusicPlaylistTrack.filter(id=row.id).update(position=position)
            return row

    async def _slot(self, playlist_id: int, moving_id: int, dst: int) -> int:
        """A free position at index `dst` of the playlist without the moving row."""
        others = self._ordered(playlist_id).exclude(id=moving_id)
        near = cast("list[int]", await others.offset(max(dst - 1, 0)).limit(2)
                    .values_list("position", flat=True))
        if dst == 0:
            return (int(near[0]) if near else 0) - STEP
        before = int(near[0])
        if len(near) < 2:
            return before + STEP
        after = int(near[1])
        if after - before > 1:
            return (before + after) // 2
        # No room left between the two: move everything from `after` on up by a step, in one
        # UPDATE (positions are distinct, so `before` stays where it is).
        await MusicPlaylistTrack.filter(playlist_id=playlist_id, position__gte=after).exclude(
            id=moving_id).update(position=F("position") + STEP)
        return before + STEP // 2

    async def tracks(self, playlist_id: int) -> list[MusicPlaylistTrack]:
        """Every track in order: one SELECT, whatever the length."""
        return await self._ordered(playlist_id)

    async def page(self, playlist_id: int, start: int, size: int) -> list[MusicPlaylistTrack]:
        return await self._ordered(playlist_id).offset(start).limit(size)

    async def has_adult(self, playlist_id: int) -> bool:
        return await MusicPlaylistTrack.exists(playlist_id=playlist_id, cannabis=True)
