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
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from datetime import timedelta

    import nextcord
    from nextcord.ext import commands
    from pydantic_settings import BaseSettings

    from bot.client import GrowmiesBot
    from bot.components.context import ComponentContext
    from bot.components.select import Option
    from bot.components.store import ComponentStore
    from bot.guild_config import PluginGuildConfig
    from bot.models import ComponentState
    from bot.services import CoreServices
    from bot.settings import Settings

__all__ = [
    "ADULTS_ONLY",
    "HOOKS",
    "MIXED",
    "ComponentHandler",
    "Plugin",
    "PluginContext",
    "adults_only",
    "age_restricted",
    "all_ages",
    "open_to_all_when",
    "public_response",
    "requires_permissions",
    "stateless",
    "uses_state",
]

ComponentHandler = Callable[["ComponentContext"], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])
GuildPredicate = Callable[[int | None], Awaitable[bool]]

# Content ratings. In an ADULTS_ONLY plugin every surface (command, subcommand, autocomplete,
# component, modal, listener) is behind the 21+ gate unless declared @all_ages; in a MIXED plugin
# the surfaces that carry 21+ content declare it with @adults_only. The default is ADULTS_ONLY:
# a plugin that says nothing fails closed.
ADULTS_ONLY = "adults_only"
MIXED = "mixed"
RATINGS = (ADULTS_ONLY, MIXED)

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


class PluginComponents:
    """The component store bound to one plugin: its rows and custom_ids carry its name."""

    def __init__(self, plugin: str, store: ComponentStore) -> None:
        self.plugin = plugin
        self._store = store

    async def create(
        self, kind: str, data: dict[str, Any] | None = None, *, owner: int | None = None,
        guild_id: int | None = None, ttl: timedelta | None = None,
        age_feature: str | None = None,
    ) -> ComponentState:
        """A state row for a control; `owner=None` lets anyone use it. Handlers receive it when
        their action is `kind` or they declare it with @uses_state."""
        extra: dict[str, Any] = {} if ttl is None else {"ttl": ttl}
        return await self._store.create(self.plugin, kind, data, owner_id=owner,
                                        guild_id=guild_id, age_feature=age_feature, **extra)

    def custom_id(self, action: str, state: ComponentState | str | None = None,
                  arg: str | None = None) -> str:
        """`<plugin>:<action>[:<state id>[:<arg>]]` for a button, select or modal."""
        from bot.components.ids import build

        state_id = state if isinstance(state, str) or state is None else state.id
        return build(self.plugin, action, state_id, arg)

    async def delete(self, state_id: str) -> None:
        await self._store.delete(state_id)

    async def find(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """(state id, data) of this plugin's live rows of one kind (e.g. to delete the controls
        that name a member on privacy deletion)."""
        return await self._store.find(self.plugin, kind)


class PluginContext:
    """What the core hands a plugin: everything it may use of the core, bound to the plugin,
    so a plugin never passes its own name or the bot object around."""

    def __init__(self, name: str, bot: GrowmiesBot, settings: Settings, services: CoreServices,
                 log: Any, plugin_settings: BaseSettings | None = None) -> None:
        self.name = name
        self.bot = bot
        # The plugin's own settings (an instance of its `settings_model`, read from the
        # environment and .env at start-up), or None for a plugin that declares none.
        self.settings = plugin_settings
        # The core's settings (database, Discord, logging, audit retention), read-only.
        self.core_settings = settings
        self.services = services
        self.log = log  # structlog BoundLogger with plugin=<name>
        self.components = PluginComponents(name, services.components)
        # This plugin's per-guild settings tables, under the core's one cache policy.
        self.guild_config: PluginGuildConfig = bot.guild_config.for_plugin(name)

    def verify_prompt(self) -> nextcord.ui.View | None:
        """The "Verify my age" button the core shows with every 21+ denial."""
        return self.bot.verify_prompt_view()

    async def send_adult(self, interaction: nextcord.Interaction, content: str | None = None,
                         **kwargs: Any) -> bool:
        """Answer with 21+ content: public only where verified members alone can read it."""
        from bot.respond import send_adult

        return await send_adult(interaction, self.services, content, **kwargs)

    async def paginate(self, interaction: nextcord.Interaction, source: str,
                       params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Answer with page 1 of a page source registered with services.blocks.page_source."""
        from bot.components.paginator import send_paginator

        await send_paginator(self.bot, interaction, plugin=self.name, source=source,
                             params=params, **kwargs)

    async def confirm(self, interaction: nextcord.Interaction, prompt: str, callback: str,
                      payload: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Ask the invoker to confirm; the registered `callback` runs once with `payload`."""
        from bot.components.confirm import ask_confirmation

        await ask_confirmation(self.bot, interaction, plugin=self.name, prompt=prompt,
                               callback=callback, payload=payload, **kwargs)

    async def start_form(self, interaction: nextcord.Interaction, form: str,
                         payload: dict[str, Any] | None = None, **kwargs: Any) -> str:
        """Open step 1 of a multi-step form registered with services.blocks.form."""
        from bot.components.forms import start_form

        return await start_form(self.bot, interaction, plugin=self.name, form=form,
                                payload=payload, **kwargs)

    async def select(self, interaction: nextcord.Interaction, options: list[Option],
                     callback: str, **kwargs: Any) -> None:
        """A select menu over up to 500 options, paged and searchable."""
        from bot.components.select import send_large_select

        await send_large_select(self.bot, interaction, plugin=self.name, options=options,
                                callback=callback, **kwargs)


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
    # Dotted path of the package holding the plugin's aerich migrations, in `<package>/<name>/`
    # (aerich's layout). None means `<package of the models module>.migrations`, e.g.
    # "plugins.llm.models" -> "plugins.llm.migrations". It ships inside the plugin's
    # distribution; a plugin with models and no migrations there is refused at migrate.
    migrations: ClassVar[str | None] = None
    # ADULTS_ONLY or MIXED (see above); the core gates surfaces from it.
    rating: ClassVar[str] = ADULTS_ONLY
    # The plugin's settings: a `bot.api.PluginSettings` subclass with env prefix `<NAME>_`
    # (each field read as `<NAME>_<FIELD>`), built at start-up and handed over as
    # `ctx.settings`; None: the plugin has no settings (ctx.settings is None).
    settings_model: ClassVar[type[BaseSettings] | None] = None

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


def adults_only(feature: str) -> Callable[[F], F]:
    """Mark a surface of a MIXED plugin as 21+ content (a slash-command callback, a component
    or modal handler, or a cog listener); the core asks the age gate and audits the decision."""

    def mark(func: F) -> F:
        func.__growmies_age_feature__ = feature  # type: ignore[attr-defined]  # a marker on a function object
        return func

    return mark


# The name the first contract used; kept so plugins written against it still load.
age_restricted = adults_only


def all_ages[C: Callable[..., Any]](func: C) -> C:
    """Declare a surface of an ADULTS_ONLY plugin open to every member (it shows nothing 21+)."""
    func.__growmies_all_ages__ = True  # type: ignore[attr-defined]  # a marker on a function object
    return func


def open_to_all_when(predicate: GuildPredicate) -> Callable[[F], F]:
    """A 21+ surface the core opens to everyone in guilds where `await predicate(guild_id)` is
    True (an admin's choice); the plugin must then judge the content itself. An exception in
    the predicate keeps the surface gated."""

    def mark(func: F) -> F:
        func.__growmies_open_when__ = predicate  # type: ignore[attr-defined]  # a marker on a function object
        return func

    return mark


def stateless[C: Callable[..., Any]](func: C) -> C:
    """A component handler that takes no state row: its custom_id carries no state id. Every
    other handler requires one, so a forged custom_id without it is an expired control."""
    func.__growmies_stateless__ = True  # type: ignore[attr-defined]  # a marker on a function object
    return func


def uses_state(*kinds: str) -> Callable[[F], F]:
    """The kinds of state row a component handler accepts (default: the action's own name), so
    a row created for one control can't drive another action of the same plugin."""

    def mark(func: F) -> F:
        func.__growmies_state_kinds__ = frozenset(kinds)  # type: ignore[attr-defined]  # a marker on a function object
        return func

    return mark


def requires_permissions(**perms: bool) -> Callable[[F], F]:
    """Require guild permissions (nextcord names, e.g. manage_guild=True), checked by the core."""

    def mark(func: F) -> F:
        func.__growmies_permissions__ = {k for k, v in perms.items() if v}  # type: ignore[attr-defined]  # a marker on a function object
        return func

    return mark


def public_response[C: Callable[..., Any]](func: C) -> C:
    """Mark a slash-command callback whose answer everyone should see: if the core has to
    defer it before Discord's 3 s deadline, it defers publicly instead of ephemerally."""
    func.__growmies_public__ = True  # type: ignore[attr-defined]  # a marker on a function object
    return func


def command_is_public(callback: Callable[..., Any] | None) -> bool:
    return bool(getattr(callback, "__growmies_public__", False))


def command_age_feature(callback: Callable[..., Any] | None) -> str | None:
    return getattr(callback, "__growmies_age_feature__", None)


def is_all_ages(callback: Callable[..., Any] | None) -> bool:
    return bool(getattr(callback, "__growmies_all_ages__", False))


def open_predicate(callback: Callable[..., Any] | None) -> GuildPredicate | None:
    return getattr(callback, "__growmies_open_when__", None)


def is_stateless(handler: Callable[..., Any] | None) -> bool:
    return bool(getattr(handler, "__growmies_stateless__", False))


def state_kinds(handler: Callable[..., Any], action: str) -> frozenset[str]:
    return getattr(handler, "__growmies_state_kinds__", None) or frozenset({action})


def command_permissions(callback: Callable[..., Any] | None) -> set[str]:
    return set(getattr(callback, "__growmies_permissions__", set()))


def member_has(member: nextcord.Member | Any, perms: set[str]) -> bool:
    permissions = getattr(member, "guild_permissions", None)
    if permissions is None:
        return False
    if permissions.administrator:
        return True
    return all(getattr(permissions, perm, False) for perm in perms)
