"""Per-guild settings, cached in memory and invalidated on change (one process per guild)."""

from __future__ import annotations

from typing import Any

from plugins.compliance.models import GuildSettings


class SettingsStore:
    def __init__(self) -> None:
        self._cache: dict[int, GuildSettings] = {}

    async def get(self, guild_id: int) -> GuildSettings:
        """The guild's settings; an unsaved row holding the defaults when none was stored."""
        cached = self._cache.get(guild_id)
        if cached is not None:
            return cached
        row = await GuildSettings.get_or_none(guild_id=guild_id)
        if row is None:
            row = GuildSettings(guild_id=guild_id)
        self._cache[guild_id] = row
        return row

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
