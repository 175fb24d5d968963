"""The whole contract between the Growmies core and its plugins.

A plugin is a `Plugin` subclass instance exposed as the `plugin` attribute of a module, declared
under the `growmies.plugins` entry-point group with the same name as `Plugin.name`. The core
discovers it, creates its tables, awaits `setup`, adds its cogs and routes its components.
Built-in plugins load through exactly this path. tests/test_contract.py checks that every hook
listed in `HOOKS` exists here and is documented in README.md, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    import nextcord
    from nextcord.ext import commands

    from bot.components.context import ComponentContext
    from bot.services import CoreServices
    from bot.settings import Settings

__all__ = [
    "HOOKS",
    "ComponentHandler",
    "Plugin",
    "PluginContext",
    "age_restricted",
    "public_response",
    "requires_permissions",
]

ComponentHandler = Callable[["ComponentContext"], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])

# Names of the hooks a plugin may implement; README.md documents each one.
HOOKS = (
    "setup",
    "teardown",
    "cogs",
    "component_handlers",
    "delete_user_data",
    "export_user_data",
    "seed",
)


@dataclass(frozen=True)
class PluginContext:
    """What the core hands a plugin in `setup`: everything it may use of the core."""

    bot: commands.Bot
    settings: Settings
    services: CoreServices
    log: Any  # structlog BoundLogger with plugin=<name>


class Plugin:
    """Base class of every plugin; override what you need.

    `name` is also the plugin's Tortoise app label, custom_id prefix, toggle key and log field:
    lowercase letters, digits and underscores, at most 32 characters.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.0.0"
    description: ClassVar[str] = ""
    # What the plugin stores about members, shown by /privacy and `growmies plugins`.
    data_statement: ClassVar[str] = "Stores nothing about members."
    default_enabled: ClassVar[bool] = True
    # Dotted path of the module holding the plugin's Tortoise models, or None.
    models: ClassVar[str | None] = None

    async def setup(self, ctx: PluginContext) -> None:
        """Prepare the plugin (connect clients, start tasks); raising skips the plugin."""

    async def teardown(self) -> None:
        """Release what `setup` acquired; awaited on shutdown and when loading fails."""

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        """Cogs holding the plugin's slash commands and listeners."""
        return ()

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        """Handlers for custom_ids `<name>:<action>:<state id>`, keyed by action."""
        return {}

    async def delete_user_data(self, user_id: int) -> int:
        """Delete everything stored about this user; return how many records were removed."""
        return 0

    async def export_user_data(self, user_id: int) -> dict[str, Any]:
        """Return everything stored about this user as JSON-serialisable data."""
        return {}

    async def seed(self) -> int:
        """Load starter data shipped with the plugin, idempotently; return records added."""
        return 0


_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def NAME_OK(name: str) -> bool:
    """Whether `name` may be a plugin name (app label, custom_id prefix, toggle key)."""
    return bool(_NAME.match(name)) and name not in {"core", "aerich", "models"}


def age_restricted(feature: str) -> Callable[[F], F]:
    """Mark a slash-command callback as 21+ content; the core asks the age gate first."""

    def mark(func: F) -> F:
        func.__growmies_age_feature__ = feature  # type: ignore[attr-defined]
        return func

    return mark


def requires_permissions(**perms: bool) -> Callable[[F], F]:
    """Require guild permissions (nextcord names, e.g. manage_guild=True), checked by the core."""

    def mark(func: F) -> F:
        func.__growmies_permissions__ = {k for k, v in perms.items() if v}  # type: ignore[attr-defined]
        return func

    return mark


def public_response[C: Callable[..., Any]](func: C) -> C:
    """Mark a slash-command callback whose answer everyone should see: if the core has to
    defer it before Discord's 3 s deadline, it defers publicly instead of ephemerally."""
    func.__growmies_public__ = True  # type: ignore[attr-defined]
    return func


def command_is_public(callback: Callable[..., Any] | None) -> bool:
    return bool(getattr(callback, "__growmies_public__", False))


def command_age_feature(callback: Callable[..., Any] | None) -> str | None:
    return getattr(callback, "__growmies_age_feature__", None)


def command_permissions(callback: Callable[..., Any] | None) -> set[str]:
    return set(getattr(callback, "__growmies_permissions__", set()))


def member_has(member: nextcord.Member | Any, perms: set[str]) -> bool:
    permissions = getattr(member, "guild_permissions", None)
    if permissions is None:
        return False
    if permissions.administrator:
        return True
    return all(getattr(permissions, perm, False) for perm in perms)
