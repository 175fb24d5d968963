"""Every event listener, however it was registered, attributed to its plugin and gated.

nextcord lets code hear events four ways: cog listeners, `bot.add_listener(func, name)`,
`@bot.listen()` (which calls `add_listener`) and `@bot.event` (which would replace the bot's
own `on_<event>` method: `on_interaction` is the router). GrowmiesBot sends all four through
`ListenerRegistry.attach`, so a plugin cannot reach members by registering a listener outside
its cogs: each listener is skipped in guilds where its plugin is off, and gated by the plugin's
rating and the function's markers (`@all_ages`, `@adults_only`, `@open_to_all_when`) exactly as
a cog listener is.

Attribution, first match wins:
1. the plugin scope: a context variable the core sets while a plugin's `setup`, `cogs`,
   listeners, commands, autocomplete and components run. asyncio copies it into every task
   started there, so a listener added later by a task the plugin started in `setup` is still
   the plugin's, whichever library function it registers (a lambda, a partial, a callback).
2. the function's module: the module defining the plugin's class, else the plugin's package
   (the longest one that matches; two plugins sharing a package attribute nothing this way).
3. nothing: the listener is "unattributed". It is registered but fails closed: every event
   goes through the 21+ gate whatever its markers, is dropped when no guild member is named,
   and `listener.unattributed` is logged at registration.
The core registers its own listeners inside `attributed_to(CORE)`; those run unwrapped.

Two more doors, closed the same way: a function put straight into nextcord's `extra_events`, or
an `on_<event>` set on the bot object, is adopted as a listener (after each plugin's setup, and
before every dispatch, by module then), and `bot.wait_for` in a plugin returns only events its
gate admits (`wait_gated`). Cogs are attributed the same way (GrowmiesBot.add_cog), so a cog a
plugin adds itself routes as that plugin's.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nextcord
import structlog
from nextcord.ext import commands

from bot.gating import UNATTRIBUTED, Gate, actor_of, gate_for, required_feature

if TYPE_CHECKING:
    from bot.contract import Plugin
    from bot.loader import PluginRegistry
    from bot.services import CoreServices

log = structlog.get_logger("bot.listeners")

CORE = "core"

Listener = Callable[..., Coroutine[Any, Any, Any]]

_scope: ContextVar[str | None] = ContextVar("growmies_plugin_scope", default=None)


class attributed_to:  # lower case: read as a function, `with attributed_to(owner):`
    """Everything registered while this runs (and in tasks started meanwhile) is `owner`'s.

    A class rather than a generator-based context manager: the gate enters it for every
    event a plugin listens to, every message included."""

    __slots__ = ("_owner", "_token")

    def __init__(self, owner: str | None) -> None:
        self._owner = owner

    def __enter__(self) -> None:
        self._token = _scope.set(self._owner)

    def __exit__(self, *exc: object) -> None:
        _scope.reset(self._token)


def current_owner() -> str | None:
    return _scope.get()


def guild_id_of(args: tuple[Any, ...]) -> int | None:
    """Best effort: the guild an event belongs to, from its arguments."""
    for arg in args:
        if isinstance(arg, nextcord.Guild):
            return arg.id
        guild = getattr(arg, "guild", None)
        if isinstance(guild, nextcord.Guild):
            return guild.id
        guild_id = getattr(arg, "guild_id", None)
        if isinstance(guild_id, int):
            return guild_id
        if isinstance(arg, dict) and str(arg.get("guild_id", "")).isdigit():
            return int(arg["guild_id"])
    return None


def _package_of(plugin: Plugin) -> str:
    module = type(plugin).__module__
    if hasattr(sys.modules.get(module), "__path__"):
        return module  # the class lives in the package's __init__
    return module.rpartition(".")[0] or module


def owner_by_module(module: str | None, plugins: Mapping[str, Plugin]) -> str | None:
    """The plugin whose code `module` is, or None when no plugin (or more than one) claims it."""
    if not module:
        return None
    exact = [name for name, p in plugins.items() if type(p).__module__ == module]
    if len(exact) == 1:
        return exact[0]
    best: list[tuple[int, str]] = []
    for name, plugin in plugins.items():
        package = _package_of(plugin)
        if module == package or module.startswith(package + "."):
            best.append((len(package), name))
    best.sort(reverse=True)
    if not best or (len(best) > 1 and best[0][0] == best[1][0]):
        return None
    return best[0][1]


def _module_of(func: Any) -> str | None:
    target = getattr(func, "__func__", func)
    module = getattr(target, "__module__", None)
    return module if isinstance(module, str) else None


def _surface(func: Any, event: str) -> str:
    """A cog listener is "<cog>.<method>" (as before this registry existed); any other one
    "<event>:<function>"."""
    cog = getattr(func, "__self__", None)
    if isinstance(cog, commands.Cog):
        for _event, method in cog.__cog_listeners__:
            if getattr(cog, method) == func:
                return f"{cog.qualified_name}.{method}"
        return f"{cog.qualified_name}.{func.__name__}"
    return f"{event}:{getattr(func, '__name__', type(func).__name__)}"


@dataclass(frozen=True)
class Registration:
    """One listener: who owns it, the event, its surface name, the function the plugin gave,
    what nextcord calls (the gated wrapper; the function itself for the core) and its gate."""

    plugin: str
    event: str
    surface: str
    func: Listener
    registered: Listener
    resolve: Callable[[], Gate]

    @property
    def gate(self) -> Gate:
        return self.resolve()


class ListenerRegistry:
    """The bot's listeners by owner: wraps plugin listeners in the toggle and the 21+ gate."""

    def __init__(self, plugins: PluginRegistry, services: CoreServices,
                 bot_user_id: Callable[[], int | None]) -> None:
        self._plugins = plugins
        self._services = services
        self._bot_user_id = bot_user_id
        self._entries: list[Registration] = []
        # ids of what nextcord calls, for `knows` on every dispatch (held alive by _entries).
        self._registered: set[int] = set()

    def owner_of(self, func: Any, *, by_module_only: bool = False) -> str:
        owner = None if by_module_only else current_owner()
        if owner is not None:
            return owner
        by_module = owner_by_module(_module_of(func), self._plugins.plugins)
        return by_module if by_module is not None else UNATTRIBUTED

    def gate_of(self, owner: str, surface: str, func: Any) -> Gate:
        plugin = self._plugins.plugins.get(owner)
        if plugin is not None:
            return gate_for(plugin, surface, [func])
        # Unattributed, or owned by a plugin no longer loaded: closed whatever it declares.
        return Gate(f"{owner}:{surface}", "unattributed")

    def knows(self, func: Any) -> bool:
        """Whether `func` is what we registered (a wrapper, or a core listener)."""
        return id(func) in self._registered

    def knows_all(self, funcs: Iterable[Any]) -> bool:
        registered = self._registered
        return all(id(func) in registered for func in funcs)

    def attach(self, func: Listener, event: str, *, by_module_only: bool = False) -> Registration:
        """Attribute `func`, wrap it unless it is the core's, and remember it."""
        owner = self.owner_of(func, by_module_only=by_module_only)
        surface = _surface(func, event)
        if owner == CORE:
            entry = Registration(CORE, event, surface, func, func, lambda: Gate(None, "core"))
        else:
            if owner == UNATTRIBUTED:
                log.warning("listener.unattributed", event_name=event, surface=surface,
                            module=_module_of(func),
                            message="no plugin owns this listener: it only hears verified "
                                    "21+ members; register it in a plugin's setup or cogs")

            # Read at the first event, not now: `@all_ages` written above `@bot.listen()`
            # marks the function after it was registered, and must count all the same.
            @functools.cache
            def resolve() -> Gate:
                return self.gate_of(owner, surface, func)

            entry = Registration(owner, event, surface, func,
                                 self._gated(owner, resolve, func), resolve)
        self._entries.append(entry)
        self._registered.add(id(entry.registered))
        return entry

    def detach(self, func: Listener, event: str | None) -> list[Registration]:
        """Forget `func` (the plugin's function or our wrapper) for `event`, or for every event
        when None (nextcord's Cog._eject passes the method's name, not the event's)."""
        gone: list[Registration] = []
        for entry in list(self._entries):
            if (entry.func == func or entry.registered is func) and (
                event is None or entry.event == event
            ):
                self._entries.remove(entry)
                if not any(e.registered is entry.registered for e in self._entries):
                    self._registered.discard(id(entry.registered))
                gone.append(entry)
                if event is not None:
                    break
        return gone

    def registrations(self) -> list[Registration]:
        return list(self._entries)

    def of(self, owner: str) -> list[Registration]:
        return [e for e in self._entries if e.plugin == owner]

    async def admits(self, owner: str, gate: Gate, args: tuple[Any, ...]) -> bool:
        """Whether an event with these arguments may reach `owner`'s code: only in guilds where
        the plugin is on and, behind a 21+ gate, only when the member the event is about is
        verified 21+ there (events naming no member in no guild are dropped)."""
        guild_id = guild_id_of(args)
        if owner != UNATTRIBUTED and guild_id is not None and not await (
            self._services.toggles.is_enabled(guild_id, owner)
        ):
            return False
        feature = await required_feature(gate, guild_id)
        if feature is None:
            return True
        actor = actor_of(args)
        if actor is None or guild_id is None or actor == self._bot_user_id():
            return False
        decision = await self._services.age_gate.check(guild_id, actor, feature, quiet=True)
        return decision.allowed

    async def wait_gated(self, table: dict[str, list[Any]], event: str,
                         check: Callable[..., bool] | None, timeout: float | None,
                         owner: str, gate: Gate) -> Any:
        """nextcord's `wait_for`, but only events `admits` lets through count. Matching events
        queue up in dispatch order while earlier ones are judged, so a verified member's
        message right after an unverified one's is not missed. `table` is nextcord's own
        `Client._listeners`: a pending future there sees every dispatch of `event`."""
        queue: asyncio.Queue[tuple[Any, ...] | BaseException] = asyncio.Queue()

        def collect(*args: Any) -> bool:
            try:
                if check is None or check(*args):
                    queue.put_nowait(args)
            except Exception as exc:  # nextcord hands a failing check's error to the waiter
                queue.put_nowait(exc)
            return False  # stay registered: we decide when the wait is over

        future = asyncio.get_running_loop().create_future()
        table.setdefault(event, []).append((future, collect))
        try:
            async with asyncio.timeout(timeout):
                while True:
                    item = await queue.get()
                    if isinstance(item, BaseException):
                        raise item
                    if await self.admits(owner, gate, item):
                        return None if not item else item[0] if len(item) == 1 else item
        finally:
            future.cancel()  # nextcord drops cancelled waiters at the next dispatch

    def _gated(self, owner: str, gate: Callable[[], Gate], func: Listener) -> Listener:
        @functools.wraps(func)
        async def gated(*args: Any, **kwargs: Any) -> None:
            if not await self.admits(owner, gate(), args):
                return
            with attributed_to(owner):
                await func(*args, **kwargs)

        return gated
