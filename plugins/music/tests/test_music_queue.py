"""The persistent queue against the database alone: order, limits, constant statement counts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tortoise import Tortoise

from plugins.music.models import MusicQueueEntry
from plugins.music.queue import QueueRepository
from plugins.music.tracks import TrackInfo, format_ms, parse_time

GUILD = 4242


def track(n: int, requester: int = 1) -> TrackInfo:
    return TrackInfo(encoded=f"enc{n}", title=f"Song {n}", author="Band", length_ms=60_000,
                     requester_id=requester)


async def titles(repo: QueueRepository) -> list[str]:
    return [e.title for e in await repo.page(GUILD, 0, 10_000)]


@contextmanager
def counting_statements() -> Iterator[list[str]]:
    conn = Tortoise.get_connection("default")
    seen: list[str] = []
    originals = {}
    for name in ("execute_query", "execute_query_dict", "execute_insert", "execute_many"):
        original = getattr(conn, name)
        originals[name] = original

        def wrap(orig: Any) -> Any:
            async def counted(query: str, values: Any = None) -> Any:
                seen.append(query)
                return await orig(query, values)
            return counted

        setattr(conn, name, wrap(original))
    try:
        yield seen
    finally:
        for name, original in originals.items():
            setattr(conn, name, original)


async def test_add_respects_the_limit_and_says_how_many_were_dropped(db):
    repo = QueueRepository()
    await repo.add(GUILD, [track(i) for i in range(40)], limit=50)
    result = await repo.add(GUILD, [track(1000 + i) for i in range(5000)], limit=50)
    assert (result.added, result.dropped, result.first_index) == (10, 4990, 40)
    assert await repo.count(GUILD) == 50
    assert (await titles(repo))[40:42] == ["Song 1000", "Song 1001"]


async def test_remove_move_pop_keep_the_order(db):
    repo = QueueRepository()
    await repo.add(GUILD, [track(i) for i in range(5)], limit=50)
    removed = await repo.remove_at(GUILD, 1)
    assert removed is not None and removed.title == "Song 1"
    assert await titles(repo) == ["Song 0", "Song 2", "Song 3", "Song 4"]
    await repo.move(GUILD, 3, 0)
    assert await titles(repo) == ["Song 4", "Song 0", "Song 2", "Song 3"]
    await repo.move(GUILD, 0, 2)
    assert await titles(repo) == ["Song 0", "Song 2", "Song 4", "Song 3"]
    await repo.move(GUILD, 1, 3)
    assert await titles(repo) == ["Song 0", "Song 4", "Song 3", "Song 2"]
    assert await repo.remove_at(GUILD, 10) is None and await repo.move(GUILD, 10, 0) is None
    nxt = await repo.pop_next(GUILD)
    assert nxt is not None and nxt.title == "Song 0"
    await repo.push_front(GUILD, track(99))
    assert await titles(repo) == ["Song 99", "Song 4", "Song 3", "Song 2"]


async def test_repeated_moves_into_one_gap_renumber_and_keep_every_entry(db):
    repo = QueueRepository()
    await repo.add(GUILD, [track(i) for i in range(4)], limit=50)
    # Always move the last entry to index 1: the gap before index 1 halves each time.
    for _ in range(40):
        await repo.move(GUILD, 3, 1)
    names = await titles(repo)
    assert sorted(names) == ["Song 0", "Song 1", "Song 2", "Song 3"] and names[0] == "Song 0"
    positions = [e.position for e in await repo.page(GUILD, 0, 10)]
    assert positions == sorted(set(positions))


async def test_shuffle_and_clear(db):
    repo = QueueRepository()
    await repo.add(GUILD, [track(i) for i in range(30)], limit=50)
    await repo.add(GUILD + 1, [track(i) for i in range(3)], limit=50)
    assert await repo.shuffle(GUILD, random.Random(7)) == 30
    shuffled = await titles(repo)
    assert sorted(shuffled) == sorted(f"Song {i}" for i in range(30))
    assert shuffled != [f"Song {i}" for i in range(30)]
    assert await repo.clear(GUILD) == 30
    assert await repo.count(GUILD) == 0 and await repo.count(GUILD + 1) == 3


async def test_statements_per_operation_do_not_grow_with_the_queue(db):
    repo = QueueRepository()
    counts: dict[int, dict[str, int]] = {}
    for size in (10, 2000):
        await MusicQueueEntry.filter(guild_id=GUILD).delete()
        await repo.add(GUILD, [track(i) for i in range(size)], limit=5000)
        ops = {
            "add": lambda: repo.add(GUILD, [track(-1)], limit=5000),
            "remove": lambda: repo.remove_at(GUILD, 5),
            "move": lambda: repo.move(GUILD, 7, 3),
            "pop": lambda: repo.pop_next(GUILD),
            "clear": lambda: repo.clear(GUILD),
        }
        counts[size] = {}
        for name, op in ops.items():
            with counting_statements() as seen:
                await op()
            counts[size][name] = len(seen)
    assert counts[10] == counts[2000], counts
    assert min(counts[10].values()) >= 1
    assert max(counts[10].values()) <= 3


async def test_two_members_adding_at_once_are_both_queued_in_order(db):
    repo = QueueRepository()
    await asyncio.gather(repo.add(GUILD, [track(1, requester=1)], limit=50),
                         repo.add(GUILD, [track(2, requester=2)], limit=50))
    assert await titles(repo) == ["Song 1", "Song 2"]


def test_times_parse_and_format():
    assert parse_time("1:30") == 90_000 and parse_time("75") == 75_000
    assert parse_time("1:02:03") == 3_723_000
    assert parse_time("-5") is None and parse_time("abc") is None and parse_time("") is None
    assert format_ms(3_723_000) == "1:02:03" and format_ms(65_000) == "1:05"
