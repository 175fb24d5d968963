"""Per-guild plugin toggles: stored in the database, read through the guild config store.

A guild's toggles are every `GuildPluginState` row of that guild, cached as one value under the
store's policy (one read per guild however many events ask at once, invalidated on write).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tortoise.exceptions import IntegrityError

from bot.audit import AuditWriter
from bot.guild_config import GuildCache, GuildConfigStore
from bot.models import GuildPluginState

CORE = "core"


class UnknownPlugin(LookupError):
    pass


async def _stored_states(guild_id: int) -> dict[str, bool]:
    rows = await GuildPluginState.filter(guild_id=guild_id).values_list("plugin", "enabled")
    return {plugin: bool(enabled) for plugin, enabled in rows}


class GuildToggles:
    def __init__(self, defaults: Callable[[], dict[str, bool]], audit: AuditWriter,
                 store: GuildConfigStore | None = None) -> None:
        # `defaults` is read on each call so plugins loaded later are known.
        self._defaults = defaults
        self._audit = audit
        self._states: GuildCache[dict[str, bool]] = (
            store or GuildConfigStore()).for_plugin(CORE).cache("plugin_toggles", _stored_states)
        self._locks: dict[int, asyncio.Lock] = {}

    def known(self) -> dict[str, bool]:
        return self._defaults()

    async def is_enabled(self, guild_id: int | None, plugin: str) -> bool:
        """Whether `plugin` runs in this guild. DMs use the plugin's default. A failed read
        raises (the caller refuses the interaction), never falls back to the default."""
        defaults = self._defaults()
        if plugin not in defaults:
            return False
        if guild_id is None:
            return defaults[plugin]
        return (await self._states.get(guild_id)).get(plugin, defaults[plugin])

    async def states(self, guild_id: int) -> dict[str, bool]:
        stored = await self._states.get(guild_id)
        return {name: stored.get(name, default)
                for name, default in sorted(self._defaults().items())}

    async def set(self, guild_id: int, plugin: str, enabled: bool, *, actor_id: int | None) -> None:
        if plugin not in self._defaults():
            raise UnknownPlugin(plugin)
        lock = self._locks.setdefault(guild_id, asyncio.Lock())
        async with lock:
            updated = await GuildPluginState.filter(guild_id=guild_id, plugin=plugin).update(
                enabled=enabled, updated_by=actor_id
            )
            if not updated:
                try:
                    await GuildPluginState.create(
                        guild_id=guild_id, plugin=plugin, enabled=enabled, updated_by=actor_id
                    )
                except IntegrityError:
                    # Another process created the row between our update and insert.
                    await GuildPluginState.filter(guild_id=guild_id, plugin=plugin).update(
                        enabled=enabled, updated_by=actor_id
                    )
            self._states.changed(guild_id)
        await self._audit.record(
            "plugin.enabled" if enabled else "plugin.disabled",
            guild_id=guild_id,
            actor_id=actor_id,
            target=plugin,
        )

    def invalidate(self, guild_id: int | None = None) -> None:
        self._states.invalidate(guild_id)
