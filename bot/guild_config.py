"""Per-guild configuration: one caching and invalidation policy for every plugin.

A plugin keeps its settings in its own table, one row per guild (or per member), and reads them
through `ctx.guild_config.table(Model)`. Every such table follows the same rules:

- **Single flight.** However many events ask for a guild's settings at once (a chat burst, a
  raid of joins), one database read fills the cache; the others wait for it.
- **Invalidate on write.** `update()` writes the row and drops the cached copy, so the next read
  in this process returns what was written. A read that was already in flight when the write
  landed does not put its older value back.
- **Fail loudly.** A failed read raises; nothing is cached and no defaults stand in for a
  database outage. Callers gating 21+ content turn the error into "closed".
- **A change hook.** `on_change(callback)` hears every change: `local=True` for writes made in
  this process, `local=False` for `invalidate()` calls. A cross-process notifier (e.g. PostgreSQL
  LISTEN/NOTIFY) forwards the local ones to other processes, which call `invalidate(guild_id)`;
  it must not forward the remote ones back, or two processes would echo each other forever.

A guild lives on one shard and so in one process, which is why this cache is correct without a
notifier today; per-member tables (keyed by user id) are shared by every shard, so there a stale
value can last until the member's next change in that process, as before this store existed.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

__all__ = [
    "ChangeHook",
    "ConfigChange",
    "GuildCache",
    "GuildConfig",
    "GuildConfigStore",
    "PluginGuildConfig",
]

log = structlog.get_logger("bot.guild_config")

@dataclass(frozen=True)
class ConfigChange:
    """One change of cached configuration.

    `key` is the guild id (or user id for a per-member table, see `key_field`); None means every
    key. `local` is True for a write made in this process, False for an `invalidate()` call
    (another process wrote, or an operator asked for a re-read)."""

    plugin: str
    table: str
    key_field: str
    key: int | None
    local: bool


# Hooks run synchronously inside the write or invalidation; one that needs I/O (a notifier)
# schedules it with asyncio.create_task rather than blocking every writer.
ChangeHook = Callable[[ConfigChange], None]


class GuildCache[T]:
    """Cached values of one kind of configuration, one per key, loaded by `load(key)`.

    `GuildConfig` is the usual one (a table row); use this directly for configuration that is
    computed from several rows (the core's plugin toggles: every row of a guild)."""

    def __init__(self, load: Callable[[int], Awaitable[T]], *, plugin: str, table: str,
                 key_field: str = "guild_id", store: GuildConfigStore | None = None) -> None:
        self._load = load
        self.plugin = plugin
        self.table = table
        self.key_field = key_field
        self._store = store
        self._values: dict[int, T] = {}
        self._loading: dict[int, asyncio.Task[T]] = {}
        # Bumped by every invalidation: a load that started before one must not cache its
        # (possibly older) result afterwards.
        self._generation = 0
        self._hooks: list[ChangeHook] = []

    async def get(self, key: int) -> T:
        """The cached value, or one database read shared by every concurrent caller.

        Raises what the read raised; the next call tries again."""
        if key in self._values:
            return self._values[key]
        task = self._loading.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fill(key))
            # Every caller awaits the task through shield(), so one caller's cancellation (a
            # member who left, a timed-out interaction) never fails the others' read. If all
            # of them are gone, the failure is still marked retrieved.
            task.add_done_callback(_retrieve)
            self._loading[key] = task
        return await asyncio.shield(task)

    async def _fill(self, key: int) -> T:
        generation = self._generation
        try:
            value = await self._load(key)
        finally:
            if self._loading.get(key) is asyncio.current_task():
                del self._loading[key]
        if generation == self._generation:
            self._values[key] = value
        return value

    def cached(self, key: int) -> bool:
        return key in self._values

    def changed(self, key: int) -> None:
        """Call after writing `key`'s configuration in this process: drops the cached copy and
        tells the change hooks (local=True)."""
        self._drop(key)
        self._notify(key, local=True)

    def invalidate(self, key: int | None = None) -> None:
        """Forget `key`'s cached value (every key when None); the next read goes to the
        database. For a cross-process notifier and operators; hooks hear it with local=False."""
        self._drop(key)
        self._notify(key, local=False)

    def on_change(self, callback: ChangeHook) -> None:
        self._hooks.append(callback)

    def _drop(self, key: int | None) -> None:
        self._generation += 1
        if key is None:
            self._values.clear()
            self._loading.clear()
        else:
            self._values.pop(key, None)
            # Readers arriving from now on start a fresh load instead of joining one that may
            # have read the row before the write.
            self._loading.pop(key, None)

    def _notify(self, key: int | None, *, local: bool) -> None:
        change = ConfigChange(self.plugin, self.table, self.key_field, key, local)
        hooks = [*self._hooks, *(self._store.hooks_for(self.plugin) if self._store else ())]
        for hook in hooks:
            try:
                hook(change)
            except Exception:
                # The write itself succeeded; a broken listener must not turn it into an error
                # for the admin who made it. Logged so the broken notifier is seen.
                log.exception("guild_config.hook_failed", plugin=self.plugin, table=self.table)


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


class GuildConfig[M: Model](GuildCache[M]):
    """A plugin's settings table, one row per key (guild id by default), cached.

    `get()` returns the stored row, or an unsaved row holding the defaults when none is stored.
    The row is shared with every other reader: read it, never modify it; change it with
    `update()`."""

    def __init__(self, model: type[M], *, plugin: str = "", key_field: str = "guild_id",
                 defaults: Mapping[str, Any] | None = None,
                 store: GuildConfigStore | None = None) -> None:
        self.model = model
        # Copied per unsaved row, so a default list is never shared between guilds.
        self.defaults = dict(defaults or {})
        super().__init__(self._read, plugin=plugin or model._meta.app or "",
                         table=model._meta.db_table, key_field=key_field, store=store)

    def _blank(self, key: int) -> M:
        return self.model(**{self.key_field: key}, **copy.deepcopy(self.defaults))

    async def _read(self, key: int) -> M:
        where: dict[str, Any] = {self.key_field: key}
        row = await self.model.get_or_none(**where)
        return self._blank(key) if row is None else row

    async def update(self, key: int, **changes: Any) -> M:
        """Write `changes` to `key`'s row (created with the defaults when missing) and return
        the row as now stored. Fields not named keep their value, so two admins changing
        different settings at once both keep their change."""
        if changes:
            where: dict[str, Any] = {self.key_field: key}
            # A queryset update skips auto_now fields (Model.save sets them): set them here so
            # "updated_at" still says when an admin last changed something.
            fields = self.model._meta.fields_map
            stamps = {name: timezone.now() for name, field in fields.items()
                      if getattr(field, "auto_now", False)}
            changes = {**stamps, **changes}
            updated = await self.model.filter(**where).update(**changes)
            if not updated:
                try:
                    await self.model.create(**where, **{**copy.deepcopy(self.defaults),
                                                        **changes})
                except IntegrityError:
                    # Another process created the row between our update and our insert.
                    await self.model.filter(**where).update(**changes)
            self.changed(key)
        return await self.get(key)


class PluginGuildConfig:
    """`ctx.guild_config`: the guild configuration store as one plugin sees it."""

    def __init__(self, store: GuildConfigStore, plugin: str) -> None:
        self._store = store
        self.plugin = plugin

    def table[M: Model](self, model: type[M], *, key_field: str = "guild_id",
              defaults: Mapping[str, Any] | None = None) -> GuildConfig[M]:
        """This plugin's cached view of `model`, a table with one row per `key_field`.

        `defaults` fill the unsaved row returned for a key with no row (beyond the model's own
        field defaults). Call it in `setup`; each call starts an empty cache."""
        config = GuildConfig(model, plugin=self.plugin, key_field=key_field, defaults=defaults,
                             store=self._store)
        self._store.register(config)
        return config

    def cache[T](self, name: str, load: Callable[[int], Awaitable[T]]) -> GuildCache[T]:
        """Configuration computed per guild by `load(guild_id)`, under the same policy."""
        cache = GuildCache(load, plugin=self.plugin, table=name, store=self._store)
        self._store.register(cache)
        return cache

    def on_change(self, callback: ChangeHook) -> None:
        """Hear every change of this plugin's configuration."""
        self._store.on_change(callback, plugin=self.plugin)

    def invalidate(self, guild_id: int | None = None) -> None:
        self._store.invalidate(guild_id, plugin=self.plugin)


class GuildConfigStore:
    """Every plugin's cached guild configuration, owned by the bot: the one place a
    cross-process notifier subscribes to (`on_change`) and invalidates (`invalidate`)."""

    def __init__(self) -> None:
        self._caches: dict[tuple[str, str], GuildCache[Any]] = {}
        self._hooks: list[tuple[str | None, ChangeHook]] = []

    def for_plugin(self, plugin: str) -> PluginGuildConfig:
        return PluginGuildConfig(self, plugin)

    def register(self, cache: GuildCache[Any]) -> None:
        # A plugin set up again (a restart in one process) replaces its old cache.
        self._caches[(cache.plugin, cache.table)] = cache

    def caches(self) -> list[GuildCache[Any]]:
        return list(self._caches.values())

    def on_change(self, callback: ChangeHook, *, plugin: str | None = None) -> None:
        """Hear every change of every plugin's configuration (or of one plugin's)."""
        self._hooks.append((plugin, callback))

    def hooks_for(self, plugin: str) -> list[ChangeHook]:
        return [hook for owner, hook in self._hooks if owner is None or owner == plugin]

    def invalidate(self, guild_id: int | None = None, *, plugin: str | None = None) -> None:
        """Forget what is cached for `guild_id` (every guild when None) in every guild-keyed
        table, or in one plugin's. Per-member tables are invalidated by key through
        `cache.invalidate(user_id)`, which is what a `ConfigChange` names."""
        for cache in self.caches():
            if cache.key_field == "guild_id" and plugin in (None, cache.plugin):
                cache.invalidate(guild_id)
