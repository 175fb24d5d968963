"""Per-guild settings, cached in memory and invalidated on change (one process per guild)."""

from __future__ import annotations

import asyncio
from typing import Any

from plugins.compliance.models import GuildSettings


class SettingsStore:
    def __init__(self) -> None:
        self._cache: dict[int, GuildSettings] = {}
        # One read per guild even when a chat burst misses the cache all at once.
        self._loading: dict[int, asyncio.Future[GuildSettings]] = {}

    async def get(self, guild_id: int) -> GuildSettings:
        """The guild's settings; an unsaved row holding the defaults when none was stored."""
        cached = self._cache.get(guild_id)
        if cached is not None:
            return cached
        loading = self._loading.get(guild_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[GuildSettings] = asyncio.get_running_loop().create_future()
        self._loading[guild_id] = future
        try:
            row = await GuildSettings.get_or_none(guild_id=guild_id)
            if row is None:
                row = GuildSettings(guild_id=guild_id)
            # An update that landed while we were reading wins.
            row = self._cache.setdefault(guild_id, row)
            future.set_result(row)
            return row
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            del self._loading[guild_id]

    async def update(self, guild_id: int, **changes: Any) -> GuildSettings:
        row, _ = await GuildSettings.get_or_create(guild_id=guild_id)
        for key, value in changes.items():
            setattr(row, key, value)
        await row.save()
        self._cache[guild_id] = row
        return row

    def forget(self, guild_id: int | None = None) -> None:
        if guild_id is None:
            self._cache.clear()
        else:
            self._cache.pop(guild_id, None)
