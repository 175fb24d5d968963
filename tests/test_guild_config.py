"""The per-guild config store: one read for a burst, a write seen at once, a change hook for a
notifier, and a database outage that surfaces instead of hiding behind defaults."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from tortoise import Tortoise
from tortoise.exceptions import OperationalError

from bot.guild_config import ConfigChange, GuildConfig, GuildConfigStore
from plugins.compliance.models import GuildSettings

GUILD = 4242


@contextmanager
def database_queries() -> Iterator[list[str]]:
    """Every query the default connection runs while inside the block."""
    conn = Tortoise.get_connection("default")
    original, queries = conn.execute_query, []

    async def counting(query, values=None):
        queries.append(query)
        return await original(query, values)

    conn.execute_query = counting  # type: ignore[method-assign]
    try:
        yield queries
    finally:
        conn.execute_query = original  # type: ignore[method-assign]


@contextmanager
def database_down() -> Iterator[None]:
    conn = Tortoise.get_connection("default")
    original = conn.execute_query

    async def failing(query, values=None):
        raise OperationalError("connection refused")

    conn.execute_query = failing  # type: ignore[method-assign]
    try:
        yield
    finally:
        conn.execute_query = original  # type: ignore[method-assign]


def compliance_settings(store: GuildConfigStore | None = None) -> GuildConfig[GuildSettings]:
    return (store or GuildConfigStore()).for_plugin("compliance").table(GuildSettings)


async def test_a_burst_of_reads_on_a_cold_guild_queries_the_database_once(db) -> None:
    await GuildSettings.create(guild_id=GUILD, minimum_age=25)
    settings = compliance_settings()
    with database_queries() as queries:
        rows = await asyncio.gather(*(settings.get(GUILD) for _ in range(50)))
        again = await settings.get(GUILD)
    assert len(queries) == 1
    assert {row.minimum_age for row in [*rows, again]} == {25}


async def test_a_guild_without_a_row_reads_the_defaults_and_stores_nothing(db) -> None:
    store = GuildConfigStore()
    settings = store.for_plugin("compliance").table(
        GuildSettings, defaults={"excluded_channel_ids": [1]})
    row = await settings.get(GUILD)
    assert (row.minimum_age, row.excluded_channel_ids) == (21, [1])
    assert await GuildSettings.filter(guild_id=GUILD).count() == 0
    other = await settings.get(GUILD + 1)
    assert other.excluded_channel_ids is not row.excluded_channel_ids


async def test_an_admins_change_is_seen_at_once_by_the_next_read(db) -> None:
    settings = compliance_settings()
    assert (await settings.get(GUILD)).verification_mode == "self_attest"
    returned = await settings.update(GUILD, verification_mode="staff_review",
                                     review_channel_id=55)
    assert returned.verification_mode == "staff_review"
    assert (await settings.get(GUILD)).review_channel_id == 55
    stored = await GuildSettings.get(guild_id=GUILD)
    assert (stored.verification_mode, stored.review_channel_id) == ("staff_review", 55)
    # A second change keeps the first one's fields.
    await settings.update(GUILD, minimum_age=25)
    current = await settings.get(GUILD)
    assert (current.verification_mode, current.minimum_age) == ("staff_review", 25)


async def test_a_read_in_flight_during_a_write_does_not_bring_the_old_value_back(db) -> None:
    settings = compliance_settings()
    reading, release = asyncio.Event(), asyncio.Event()
    original = GuildSettings.get_or_none

    async def slow_read(**where):
        row = await original(**where)
        reading.set()
        await release.wait()
        return row

    GuildSettings.get_or_none = slow_read  # type: ignore[method-assign,assignment]
    try:
        early = asyncio.create_task(settings.get(GUILD))
        await reading.wait()
        GuildSettings.get_or_none = original  # type: ignore[method-assign]
        await settings.update(GUILD, minimum_age=30)
        release.set()
        assert (await early).minimum_age == 21, "the early reader saw the row before the write"
    finally:
        GuildSettings.get_or_none = original  # type: ignore[method-assign]
    assert (await settings.get(GUILD)).minimum_age == 30


async def test_the_change_hook_hears_local_writes_and_remote_invalidations(db) -> None:
    store = GuildConfigStore()
    settings = compliance_settings(store)
    heard: list[ConfigChange] = []
    store.on_change(heard.append)
    await settings.update(GUILD, minimum_age=25)
    assert heard == [ConfigChange("compliance", "compliance_settings", "guild_id", GUILD,
                                  local=True)]
    # What a notifier does when another process wrote: drop the copy, re-read on next use.
    await GuildSettings.filter(guild_id=GUILD).update(minimum_age=40)
    assert (await settings.get(GUILD)).minimum_age == 25, "cached until told"
    store.invalidate(GUILD)
    assert heard[-1].local is False and heard[-1].key == GUILD
    assert (await settings.get(GUILD)).minimum_age == 40


async def test_a_broken_hook_does_not_undo_the_write(db) -> None:
    store = GuildConfigStore()
    settings = compliance_settings(store)

    def broken(change: ConfigChange) -> None:
        raise RuntimeError("notifier down")

    store.on_change(broken)
    assert (await settings.update(GUILD, minimum_age=25)).minimum_age == 25


async def test_a_database_outage_surfaces_and_is_not_cached(db) -> None:
    settings = compliance_settings()
    with database_down():
        results = await asyncio.gather(*(settings.get(GUILD) for _ in range(5)),
                                       return_exceptions=True)
    assert all(isinstance(r, OperationalError) for r in results), \
        "no caller gets defaults in place of the database's answer"
    assert not settings.cached(GUILD)
    await GuildSettings.create(guild_id=GUILD, minimum_age=25)
    assert (await settings.get(GUILD)).minimum_age == 25


async def test_one_caller_giving_up_does_not_fail_the_others(db) -> None:
    settings = compliance_settings()
    await GuildSettings.create(guild_id=GUILD, minimum_age=25)
    reading, release = asyncio.Event(), asyncio.Event()
    original = GuildSettings.get_or_none

    async def slow_read(**where):
        reading.set()
        await release.wait()
        return await original(**where)

    GuildSettings.get_or_none = slow_read  # type: ignore[method-assign,assignment]
    try:
        first = asyncio.create_task(settings.get(GUILD))
        await reading.wait()
        second = asyncio.create_task(settings.get(GUILD))
        first.cancel()  # e.g. the interaction that asked timed out
        release.set()
        assert (await second).minimum_age == 25
    finally:
        GuildSettings.get_or_none = original  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await first
    assert settings.cached(GUILD)


async def test_invalidating_one_plugin_leaves_the_others_cached(db) -> None:
    from bot.models import GuildPluginState
    from bot.toggles import GuildToggles

    store = GuildConfigStore()
    settings = compliance_settings(store)
    toggles = GuildToggles(lambda: {"music": True}, audit=None, store=store)  # type: ignore[arg-type]
    await settings.get(GUILD)
    assert await toggles.is_enabled(GUILD, "music")
    await GuildPluginState.create(guild_id=GUILD, plugin="music", enabled=False)
    store.invalidate(GUILD, plugin="compliance")
    assert settings.cached(GUILD) is False
    assert await toggles.is_enabled(GUILD, "music"), "the core's toggles stayed cached"
    store.invalidate(GUILD)
    assert not await toggles.is_enabled(GUILD, "music")
