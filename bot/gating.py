"""Which surfaces of a plugin are 21+, decided once from its rating and its declarations.

The router (commands, autocomplete, components, modals), the listener wrapper and the surface
test all ask `gate_for`, so a plugin cannot forget a path: in an ADULTS_ONLY plugin a surface
is gated unless declared @all_ages; in a MIXED plugin it is gated where declared @adults_only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nextcord
import structlog

from bot.contract import (
    MIXED,
    GuildPredicate,
    command_age_feature,
    is_all_ages,
    open_predicate,
)

if TYPE_CHECKING:
    from bot.contract import Plugin

log = structlog.get_logger("bot.gating")


@dataclass(frozen=True)
class Gate:
    """`feature` is the 21+ feature to ask the age gate for, None when open to everyone.
    `why` says where that came from: "adults_only", "all_ages", "rating", "mixed" or "core"."""

    feature: str | None
    why: str
    open_when: GuildPredicate | None = None

    @property
    def gated(self) -> bool:
        return self.feature is not None


OPEN_CORE = Gate(None, "core")
# The owner of a listener no plugin could be found for (bot.listeners); not a valid plugin
# name (bot.contract.NAME_OK), so it is never a plugin's toggle key.
UNATTRIBUTED = "<unattributed>"


async def required_feature(gate: Gate, guild_id: int | None) -> str | None:
    """The 21+ feature to ask the age gate for here, or None: not when the surface is open,
    nor where an admin opened it to everyone (an error asking that keeps it gated)."""
    if gate.feature is None or gate.open_when is None:
        return gate.feature
    try:
        opened = await gate.open_when(guild_id)
    except Exception as exc:
        log.warning("gate.open_check_failed", error=type(exc).__name__)
        return gate.feature
    return None if opened else gate.feature


def gate_for(
    plugin: Plugin | None, surface: str, callbacks: Iterable[Callable[..., Any] | None]
) -> Gate:
    """The gate of one surface. `callbacks` go from the most specific (a subcommand's callback,
    a handler) to the least (its groups); the first declaration found wins."""
    callbacks = [cb for cb in callbacks if cb is not None]
    opener = next((p for cb in callbacks if (p := open_predicate(cb)) is not None), None)
    for cb in callbacks:
        feature = command_age_feature(cb)
        if feature:
            return Gate(feature, "adults_only", opener)
        if is_all_ages(cb):
            return Gate(None, "all_ages")
    if plugin is None:
        return OPEN_CORE
    if plugin.rating == MIXED:
        return Gate(None, "mixed")
    return Gate(f"{plugin.name}:{surface}", "rating", opener)


class GateCache:
    """Gates are fixed once plugins are loaded: derive each surface's gate once per bot."""

    def __init__(self) -> None:
        self._gates: dict[str | None, dict[str, Gate]] = {}

    def get(self, plugin: Plugin | None, surface: str, holders: Iterable[Any],
            attr: str | None = None) -> Gate:
        """The gate of `surface`; its callbacks are `holders` (or their `attr`), read only
        the first time (this runs on every interaction)."""
        name = plugin.name if plugin is not None else None
        per_plugin = self._gates.get(name)
        if per_plugin is None:
            per_plugin = self._gates[name] = {}
        gate = per_plugin.get(surface)
        if gate is None:
            callbacks = [getattr(h, attr) for h in holders] if attr else list(holders)
            gate = per_plugin[surface] = gate_for(plugin, surface, callbacks)
        return gate


def actor_of(args: Iterable[Any]) -> int | None:
    """The member an event is about: a message's author, an interaction's user, a member or
    user, a raw payload's user_id. Listener gating judges the event by this member."""
    for arg in args:
        if isinstance(arg, nextcord.Message):
            return arg.author.id if arg.author is not None else None
        if isinstance(arg, nextcord.Interaction):
            return arg.user.id if arg.user is not None else None
        if isinstance(arg, (nextcord.Member, nextcord.User, nextcord.ThreadMember)):
            return arg.id
        user_id = getattr(arg, "user_id", None)
        if isinstance(user_id, int):
            return user_id
        member = getattr(arg, "member", None)
        if isinstance(member, (nextcord.Member, nextcord.User)):
            return member.id
    return None


@dataclass(frozen=True)
class Surface:
    """One way a member can reach a plugin, and the gate the core puts in front of it."""

    plugin: str
    kind: str  # "command", "autocomplete", "component", "listener"
    name: str
    gate: Gate


def _walk(cmd: Any, chain: list[Any], path: list[str]) -> Iterable[tuple[list[Any], list[str]]]:
    children = getattr(cmd, "children", None) or {}
    if not children:
        yield chain, path
        return
    for child in children.values():
        yield from _walk(child, [child, *chain], [*path, child.name])


def surfaces(bot: Any) -> list[Surface]:
    """Every registered surface of every loaded plugin, for audits and the surface test."""

    found: list[Surface] = []
    for name, plugin in bot.plugins.plugins.items():
        for cog in bot.plugins.cogs.get(name, []):
            for cmd in cog.application_commands:
                for chain, path in _walk(cmd, [cmd], [cmd.name]):
                    full = "/" + " ".join(path)
                    gate = gate_for(plugin, full, [c.callback for c in chain])
                    found.append(Surface(name, "command", full, gate))
                    for option in (getattr(chain[0], "options", None) or {}).values():
                        if getattr(option, "autocomplete", False):
                            found.append(Surface(name, "autocomplete",
                                                 f"{full} {option.name}", gate))
        for action, handler in bot.component_handlers_of(name).items():
            found.append(Surface(name, "component", action, gate_for(plugin, action, [handler])))
    # Every listener as registered (bot.listeners): cog listeners, add_listener, @bot.listen(),
    # @bot.event; one no plugin owns is listed under "<unattributed>", always gated.
    for entry in bot.listeners.registrations():
        if entry.plugin in bot.plugins.plugins or entry.plugin == UNATTRIBUTED:
            found.append(Surface(entry.plugin, "listener", entry.surface, entry.gate))
    return found
