"""Per-guild plugin toggles: stored in the database, cached in memory, invalidated on change.

A guild belongs to exactly one shard, and so to one process, so an in-process cache stays
consistent even when shards are split across processes sharing PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tortoise.exceptions import IntegrityError

from bot.audit import AuditWriter
from bot.models import GuildPluginState


class UnknownPlugin(LookupError):
    pass


class GuildToggles:
    def __init__(self, defaults: Callable[[], dict[str, bool]], audit: AuditWriter) -> None:
        # `defaults` is read on each miss so plugins loaded later are known.
        self._defaults = defaults
        self._audit = audit
        self._cache: dict[tuple[int, str], bool] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        # One database read per cold key, however many events ask at once (a chat burst).
        self._loading: dict[tuple[int, str], asyncio.Future[bool]] = {}
        self._generation = 0

    def known(self) -> dict[str, bool]:
        return self._defaults()

    async def is_enabled(self, guild_id: int | None, plugin: str) -> bool:
        """Whether `plugin` runs in this guild. DMs use the plugin's default."""
        defaults = self._defaults()
        if plugin not in defaults:
            return False
        if guild_id is None:
            return defaults[plugin]
        key = (guild_id, plugin)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            generation = self._generation
            row = await GuildPluginState.get_or_none(guild_id=guild_id, plugin=plugin)
            value = defaults[plugin] if row is None else row.enabled
            # A toggle that landed while we were reading wins over what we read.
            if generation == self._generation and key not in self._cache:
                self._cache[key] = value
            value = self._cache.get(key, value)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; mark it retrieved for the loop
            raise
        finally:
            self._loading.pop(key, None)

    async def states(self, guild_id: int) -> dict[str, bool]:
        return {name: await self.is_enabled(guild_id, name) for name in sorted(self._defaults())}

    async def set(self, guild_id: int, plugin: str, enabled: bool, *, actor_id: int | None) -> None:
        if plugin not in self._defaults():
            raise UnknownPlugin(plugin)
        key = (guild_id, plugin)
        lock = self._locks.setdefault(key, asyncio.Lock())
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
            self._generation += 1
            self._cache[key] = enabled
        await self._audit.record(
            "plugin.enabled" if enabled else "plugin.disabled",
            guild_id=guild_id,
            actor_id=actor_id,
            target=plugin,
        )

    def invalidate(self, guild_id: int | None = None) -> None:
        self._generation += 1
        if guild_id is None:
            self._cache.clear()
        else:
            for key in [k for k in self._cache if k[0] == guild_id]:
                del self._cache[key]
