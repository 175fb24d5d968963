"""The Growmies bot: a nextcord AutoShardedBot that owns the plugin registry and core services."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

import nextcord
import structlog
from nextcord.ext import commands

from bot import errors
from bot.audit import AuditRetention, AuditWriter
from bot.components.registry import BlockRegistry
from bot.components.store import ComponentStore
from bot.components.ui import button, controls
from bot.contract import ComponentHandler, PluginContext
from bot.gating import actor_of, gate_for, required_feature
from bot.guild_config import GuildConfigStore
from bot.loader import PluginRegistry
from bot.routing import CORE, InteractionRouter
from bot.services import (
    THREAD_REMOVED_NOTE,
    AgeGate,
    CoreServices,
    KnowledgeSearch,
    PaidUsage,
    Privacy,
    XpAwards,
)
from bot.settings import Settings
from bot.throttle import InteractionThrottle
from bot.toggles import GuildToggles

log = structlog.get_logger("bot.client")

# Autocomplete fires on keystrokes: a bucket of its own, large enough for fast typing (Discord
# sends at most a few requests a second per member) and small enough that a script can't turn
# it into a search engine against Lavalink or the database.
AUTOCOMPLETE_BURST = 20
AUTOCOMPLETE_PER = 4.0


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


def build_intents() -> nextcord.Intents:
    intents = nextcord.Intents.default()
    # Members: verification roles and XP; message content: LLM thread replies and XP filters.
    intents.members = True
    intents.message_content = True
    intents.voice_states = True
    return intents


class GrowmiesBot(commands.AutoShardedBot):
    def __init__(self, settings: Settings, registry: PluginRegistry, **kwargs: Any) -> None:
        options: dict[str, Any] = {
            "intents": build_intents(),
            # Nothing the bot says pings anyone unless a message opts in explicitly.
            "allowed_mentions": nextcord.AllowedMentions.none(),
            "default_guild_ids": settings.dev_guild_ids or None,
            "help_command": None,
        }
        if settings.shard_count:
            options["shard_count"] = settings.shard_count
        if settings.shard_ids:
            options["shard_ids"] = settings.shard_ids
        options.update(kwargs)
        super().__init__(**options)
        self.settings = settings
        self.plugins = registry
        self.throttle = InteractionThrottle(settings.interaction_rate, settings.interaction_per,
                                            burst=settings.interaction_burst)
        self.autocomplete_throttle = InteractionThrottle(AUTOCOMPLETE_BURST, AUTOCOMPLETE_PER)
        audit = AuditWriter()
        # Every plugin's per-guild configuration (ctx.guild_config), the toggles' too.
        self.guild_config = GuildConfigStore()
        toggles = GuildToggles(registry.defaults, audit, self.guild_config)
        components = ComponentStore()
        self.services = CoreServices(
            audit=audit,
            toggles=toggles,
            age_gate=AgeGate(toggles, audit, lambda: self.user.id if self.user else None),
            xp=XpAwards(toggles),
            knowledge=KnowledgeSearch(toggles),
            paid_usage=PaidUsage(toggles),
            privacy=Privacy(registry, audit, components),
            components=components,
            blocks=BlockRegistry(),
        )
        self.router = InteractionRouter(self)
        # Every click and modal goes through the router. nextcord would first hand them to
        # the callbacks of its own stored Views and Modals, skipping toggles, throttling and
        # the 21+ gate, so those never run: a plugin that sends a callback-style View gets
        # "This control has expired" instead.
        connection: Any = self._connection

        def interaction_create(data: Any) -> None:
            connection.dispatch("interaction", self.get_interaction(data=data))

        connection.parsers["INTERACTION_CREATE"] = interaction_create
        # The audit log's retention purge: the only deletion its database guard allows.
        self.audit_retention = AuditRetention(settings.audit_retention_days)
        self._component_handlers: dict[str, dict[str, ComponentHandler]] = {}
        self._gated_listeners: list[tuple[str, Callable[..., Awaitable[None]]]] = []
        self._closing = False
        # Set after the first command sync: tests and benchmarks wait on it instead of sleeping.
        self.commands_synced = asyncio.Event()
        # Set once `user` is known (after login, before the gateway): clients such as wavelink
        # need the bot's user id for their own handshakes.
        self.logged_in = asyncio.Event()

    # ----- plugins -------------------------------------------------------------------------
    def plugin_context(self, name: str) -> PluginContext:
        return PluginContext(
            name, self, self.settings, self.services,
            structlog.get_logger(f"plugins.{name}").bind(plugin=name),
            self.plugins.settings.get(name),
        )

    def register_component_handlers(
        self, prefix: str, handlers: dict[str, ComponentHandler]
    ) -> None:
        self._component_handlers.setdefault(prefix, {}).update(handlers)

    def component_handlers_of(self, prefix: str) -> dict[str, ComponentHandler]:
        return dict(self._component_handlers.get(prefix, {}))

    def component_handler(self, prefix: str, action: str) -> ComponentHandler | None:
        if prefix != CORE and prefix not in self.plugins.plugins:
            return None
        return self._component_handlers.get(prefix, {}).get(action)

    def add_plugin_cog(self, plugin: str, cog: commands.Cog) -> None:
        """Add a plugin's cog with its listeners wrapped in the per-guild toggle check."""
        self.add_cog(cog)
        for event, method_name in cog.__cog_listeners__:
            bound = getattr(cog, method_name)
            self.remove_listener(bound, event)
            gated = self._gate_listener(plugin, f"{cog.qualified_name}.{method_name}", bound)
            self.add_listener(cast("Callable[..., Coroutine[Any, Any, Any]]", gated), event)
            self._gated_listeners.append((event, gated))

    def _gate_listener(
        self, plugin: str, surface: str, func: Callable[..., Awaitable[None]]
    ) -> Callable[..., Awaitable[None]]:
        """Events reach a plugin's listener only in guilds where the plugin is on and, for a
        21+ listener, only when the member the event is about is verified 21+ there."""
        toggles = self.services.toggles
        age_gate = self.services.age_gate
        gate = gate_for(self.plugins.plugins.get(plugin), surface, [func])

        @functools.wraps(func)
        async def gated(*args: Any, **kwargs: Any) -> None:
            guild_id = guild_id_of(args)
            if guild_id is not None and not await toggles.is_enabled(guild_id, plugin):
                return
            feature = await required_feature(gate, guild_id)
            if feature is not None:
                actor = actor_of(args)
                if actor is None or guild_id is None:
                    return
                if self.user is not None and actor == self.user.id:
                    return
                decision = await age_gate.check(guild_id, actor, feature, quiet=True)
                if not decision.allowed:
                    return
            await func(*args, **kwargs)

        gated.__growmies_gate__ = gate  # type: ignore[attr-defined]  # a marker on a function object
        return gated

    async def on_thread_member_join(self, member: nextcord.ThreadMember) -> None:
        """Private threads the bot opened carry 21+ content: an unverified member added to one
        is removed again, with a note that names nobody."""
        thread = member.thread
        if self.user is None or member.id == self.user.id:
            return
        age_gate = self.services.age_gate
        if not age_gate.polices(thread):
            return
        decision = await age_gate.check(thread.guild.id, member.id, "core:private_thread")
        if decision.allowed:
            return
        try:
            await thread.remove_user(nextcord.Object(id=member.id))
            await thread.send(THREAD_REMOVED_NOTE)
        except nextcord.HTTPException as exc:
            log.error("thread.remove_unverified_failed", status=exc.status,
                      thread_id=thread.id)

    async def load_plugins(self) -> None:
        """Await each plugin's setup and add its cogs; a failing plugin is logged and skipped."""
        from bot.admin import AdminCog
        from bot.components.blocks import core_handlers

        self.add_cog(AdminCog(self))
        self.register_component_handlers(CORE, core_handlers())
        for name, plugin in list(self.plugins.plugins.items()):
            ctx = self.plugin_context(name)
            try:
                await plugin.setup(ctx)
                cogs = list(plugin.cogs(ctx))
                self.plugins.cogs[name] = []
                for cog in cogs:
                    self.add_plugin_cog(name, cog)
                    self.plugins.cogs[name].append(cog)
                self.register_component_handlers(name, dict(plugin.component_handlers()))
                log.info("plugin.loaded", plugin=name, version=plugin.version)
            except Exception as exc:
                log.error(
                    "plugin.setup_failed", plugin=name, error=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                )
                await self._unload(name, f"setup failed: {type(exc).__name__}: {exc}")

    async def _unload(self, name: str, reason: str) -> None:
        plugin = self.plugins.plugins.pop(name, None)
        self.plugins.failed[name] = reason
        for cog in self.plugins.cogs.pop(name, []):
            self.remove_cog(cog.qualified_name)
        self._component_handlers.pop(name, None)
        for svc in (self.services.age_gate, self.services.xp, self.services.knowledge):
            svc.withdraw(name)
        if plugin is not None:
            try:
                await plugin.teardown()
            except Exception as exc:
                log.error("plugin.teardown_failed", plugin=name, error=type(exc).__name__)

    def verify_prompt_view(self) -> nextcord.ui.View | None:
        custom_id = self.services.age_gate.prompt_custom_id
        if custom_id is None:
            return None
        return controls(button("Verify my age", custom_id, style=nextcord.ButtonStyle.primary))

    # ----- nextcord hooks ------------------------------------------------------------------
    async def on_interaction(self, interaction: nextcord.Interaction) -> None:
        await self.router.handle(interaction)

    async def on_application_command_error(
        self, interaction: nextcord.Interaction, exception: Exception
    ) -> None:
        await errors.report(interaction, exception)

    async def on_error(self, event_method: str, *args: Any, **kwargs: Any) -> None:
        log.error("event.failed", event_name=event_method, exc_info=True)

    async def login(self, token: str) -> None:
        await super().login(token)
        self.logged_in.set()

    async def on_connect(self) -> None:
        await super().on_connect()
        self.commands_synced.set()

    async def on_ready(self) -> None:
        log.info("bot.ready", guilds=len(self.guilds), shards=self.shard_count)

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        self.services.components.start()
        self.audit_retention.start()
        await super().start(token, reconnect=reconnect)

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        try:
            for name, plugin in list(self.plugins.plugins.items()):
                try:
                    await plugin.teardown()
                except Exception as exc:
                    log.error("plugin.teardown_failed", plugin=name, error=type(exc).__name__)
            await self.services.components.stop()
            await self.audit_retention.stop()
            await self.services.audit.flush()
        finally:
            await super().close()
