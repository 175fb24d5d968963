"""The persistent per-guild queue.

Order lives in gapped integer positions (steps of 65,536): adding appends after the largest,
removing deletes one row, moving gives one row the midpoint between its new neighbours. Only
when two neighbours leave no gap (after ~16 moves into the same spot) is the guild's queue
renumbered. Each operation therefore issues a small, constant number of statements whatever the
queue's length; shuffle and renumbering are the only ones that touch every row, by nature.

Mutations of one guild's queue run under a per-guild lock, so two members queueing at the same
moment are both kept, in the order their requests reached the lock.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from tortoise.functions import Count, Max, Min, Sum

from plugins.music.models import MusicQueueEntry
from plugins.music.tracks import MAX_TITLE, TrackInfo

STEP = 65_536
# Rows per UPDATE when shuffling or renumbering: one statement per batch.
BATCH = 1_000


@dataclass(frozen=True)
class AddResult:
    added: int
    dropped: int  # tracks that did not fit under the queue limit
    first_index: int  # 0-based index in the queue of the first added track


def entry_to_track(entry: MusicQueueEntry) -> TrackInfo:
    return TrackInfo(
        encoded=entry.encoded, title=entry.title, author=entry.author, uri=entry.uri,
        length_ms=entry.length_ms, source=entry.source, requester_id=entry.requester_id,
        cannabis=entry.cannabis, explicit=entry.explicit,
    )


class QueueRepository:
    def __init__(self) -> None:
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Queue lengths as of our own last change: a guild lives in one process (sharding),
        # so this saves a COUNT on the /play hot path. Unknown until first counted.
        self._sizes: dict[int, int] = {}

    def lock(self, guild_id: int) -> asyncio.Lock:
        return self._locks[guild_id]

    async def count(self, guild_id: int) -> int:
        size = await MusicQueueEntry.filter(guild_id=guild_id).count()
        self._sizes[guild_id] = size
        return size

    async def has_adult_content(self, guild_id: int) -> bool:
        return await MusicQueueEntry.filter(guild_id=guild_id, cannabis=True).exists()

    async def is_empty(self, guild_id: int) -> bool:
        known = self._sizes.get(guild_id)
        return (known if known is not None else await self.count(guild_id)) == 0

    def forget_sizes(self) -> None:
        """After rows changed behind the repository's back (privacy deletion)."""
        self._sizes.clear()

    def _adjust(self, guild_id: int, delta: int) -> None:
        if guild_id in self._sizes:
            self._sizes[guild_id] = max(0, self._sizes[guild_id] + delta)

    async def add(
        self, guild_id: int, tracks: Sequence[TrackInfo], *, limit: int
    ) -> AddResult:
        """Append as many of `tracks` as fit under `limit`: one read and one insert."""
        async with self.lock(guild_id):
            rows = await (
                MusicQueueEntry.filter(guild_id=guild_id)
                .annotate(n=Count("id"), top=Max("position"))
                .values("n", "top")
            )
            size = int(rows[0]["n"] or 0) if rows else 0
            top = rows[0]["top"] if rows and rows[0]["top"] is not None else 0
            room = max(0, limit - size)
            accepted = list(tracks)[:room]
            if accepted:
                await MusicQueueEntry.bulk_create([
                    MusicQueueEntry(
                        guild_id=guild_id, position=int(top) + STEP * (i + 1),
                        encoded=t.encoded, title=t.title[:MAX_TITLE], author=t.author[:200],
                        uri=(t.uri or "")[:500] or None, length_ms=t.length_ms,
                        source=t.source[:32], requester_id=t.requester_id, cannabis=t.cannabis,
                        explicit=t.explicit,
                    )
                    for i, t in enumerate(accepted)
                ])
            self._sizes[guild_id] = size + len(accepted)
            return AddResult(len(accepted), len(tracks) - len(accepted), size)

    async def page(self, guild_id: int, offset: int, limit: int) -> list[MusicQueueEntry]:
        return await (
            MusicQueueEntry.filter(guild_id=guild_id).order_by("position", "id")
            .offset(offset).limit(limit)
        )

    async def _at(self, guild_id: int, index: int) -> MusicQueueEntry | None:
        if index < 0:
            return None
        rows = await self.page(guild_id, index, 1)
        return rows[0] if rows else None

    async def pop_next(self, guild_id: int) -> TrackInfo | None:
        """Take the first entry off the queue: one read, one delete."""
        async with self.lock(guild_id):
            entry = await self._at(guild_id, 0)
            if entry is None:
                self._sizes[guild_id] = 0
                return None
            await MusicQueueEntry.filter(id=entry.id).delete()
            self._adjust(guild_id, -1)
            return entry_to_track(entry)

    async def push_front(self, guild_id: int, track: TrackInfo) -> None:
        """Put a track back at the head (a restored or retried track)."""
        async with self.lock(guild_id):
            first = await self._at(guild_id, 0)
            position = (first.position if first else 0) - STEP
            await MusicQueueEntry.create(
                guild_id=guild_id, position=position, encoded=track.encoded,
                title=track.title[:MAX_TITLE], author=track.author[:200], uri=track.uri,
                length_ms=track.length_ms, source=track.source[:32],
                requester_id=track.requester_id, cannabis=track.cannabis,
                explicit=track.explicit,
            )
            self._adjust(guild_id, 1)

    async def remove_at(self, guild_id: int, index: int) -> TrackInfo | None:
        """Remove the entry shown at `index` (0-based): one read, one delete."""
        async with self.lock(guild_id):
            entry = await self._at(guild_id, index)
            if entry is None:
                return None
            await MusicQueueEntry.filter(id=entry.id).delete()
            self._adjust(guild_id, -1)
            return entry_to_track(entry)

    async def move(self, guild_id: int, src: int, dst: int) -> TrackInfo | None:
        """Move the entry at `src` so it ends up at index `dst`: two reads and one update."""
        async with self.lock(guild_id):
            entry = await self._at(guild_id, src)
            if entry is None:
                return None
            if src == dst:
                return entry_to_track(entry)
            for _attempt in range(2):
                position = await self._slot(guild_id, entry.id, dst)
                if position is not None:
                    await MusicQueueEntry.filter(id=entry.id).update(position=position)
                    return entry_to_track(entry)
                await self._renumber(guild_id)
            raise RuntimeError("queue positions could not be renumbered")

    async def _slot(self, guild_id: int, moving_id: int, dst: int) -> int | None:
        """A free position at index `dst` of the queue without the moving entry."""
        others = MusicQueueEntry.filter(guild_id=guild_id).exclude(id=moving_id)
        start = max(dst - 1, 0)
        # flat=True gives plain values; tortoise types every values_list as tuples.
        near = cast("list[int]", await (
            others.order_by("position", "id").offset(start).limit(2).values_list("position",
                                                                                flat=True)
        ))
        if dst <= 0:
            return (int(near[0]) if near else 0) - STEP
        if not near:
            return STEP  # the queue is empty apart from the moving entry
        before = int(near[0])
        if len(near) < 2:
            return before + STEP
        after = int(near[1])
        middle = (before + after) // 2
        return middle if before < middle < after else None

    async def _renumber(self, guild_id: int) -> None:
        ids = cast("list[int]", await (
            MusicQueueEntry.filter(guild_id=guild_id).order_by("position", "id")
            .values_list("id", flat=True)
        ))
        await self._write_order(ids)

    async def _write_order(self, ids: list[int]) -> None:
        rows = [MusicQueueEntry(id=i, position=STEP * (n + 1)) for n, i in enumerate(ids)]
        for row in rows:
            row._saved_in_db = True  # bulk_update only needs the id and the new position
        if rows:
            await MusicQueueEntry.bulk_update(rows, fields=["position"], batch_size=BATCH)

    async def shuffle(self, guild_id: int, rng: random.Random | None = None) -> int:
        """New random order: one read, then one update per 1,000 entries."""
        async with self.lock(guild_id):
            ids = list(cast("list[int]", await MusicQueueEntry.filter(guild_id=guild_id)
                            .values_list("id", flat=True)))
            (rng or random.SystemRandom()).shuffle(ids)
            await self._write_order(ids)
            return len(ids)

    async def clear(self, guild_id: int) -> int:
        async with self.lock(guild_id):
            removed = await MusicQueueEntry.filter(guild_id=guild_id).delete()
            self._sizes[guild_id] = 0
            return removed

    async def total_length_ms(self, guild_id: int) -> int:
        rows = await (
            MusicQueueEntry.filter(guild_id=guild_id).annotate(total=Sum("length_ms"))
            .values("total")
        )
        return int(rows[0]["total"] or 0) if rows else 0

    # -- play next and duplicates (queue verbs) ---------------------------------------------

    async def add_front(
        self, guild_id: int, tracks: Sequence[TrackInfo], *, limit: int
    ) -> AddResult:
        """Put as many of `tracks` as fit at the head of the queue, in their order (/play
        next): one read and one insert, like `add`."""
        async with self.lock(guild_id):
            rows = await (
                MusicQueueEntry.filter(guild_id=guild_id)
                .annotate(n=Count("id"), low=Min("position"))
                .values("n", "low")
            )
            size = int(rows[0]["n"] or 0) if rows else 0
            low = int(rows[0]["low"]) if rows and rows[0]["low"] is not None else STEP
            accepted = list(tracks)[:max(0, limit - size)]
            if accepted:
                await MusicQueueEntry.bulk_create([
                    MusicQueueEntry(
                        guild_id=guild_id, position=low - STEP * (len(accepted) - i),
                        encoded=t.encoded, title=t.title[:MAX_TITLE], author=t.author[:200],
                        uri=(t.uri or "")[:500] or None, length_ms=t.length_ms,
                        source=t.source[:32], requester_id=t.requester_id, cannabis=t.cannabis,
                        explicit=t.explicit,
                    )
                    for i, t in enumerate(accepted)
                ])
            self._sizes[guild_id] = size + len(accepted)
            return AddResult(len(accepted), len(tracks) - len(accepted), 0)

    async def others_queued(self, guild_id: int, user_id: int) -> bool:
        """Whether anyone but `user_id` has a track waiting."""
        return await MusicQueueEntry.filter(guild_id=guild_id).exclude(
            requester_id=user_id).exists()

    async def dedupe(self, guild_id: int) -> int:
        """Remove every entry that repeats an earlier one (same link, or the same encoded
        track when it has no link), keeping the first: one read, then one delete per 1,000
        removed. Returns how many were removed."""
        async with self.lock(guild_id):
            rows = cast("list[tuple[int, str | None, str]]", await (
                MusicQueueEntry.filter(guild_id=guild_id).order_by("position", "id")
                .values_list("id", "uri", "encoded")
            ))
            seen: set[str] = set()
            ids: list[int] = []
            for entry_id, uri, encoded in rows:
                key = uri or encoded
                if key in seen:
                    ids.append(entry_id)
                seen.add(key)
            for start in range(0, len(ids), BATCH):
                await MusicQueueEntry.filter(id__in=ids[start:start + BATCH]).delete()
            self._adjust(guild_id, -len(ids))
            return len(ids)
