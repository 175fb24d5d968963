"""The Growmies bot: a nextcord AutoShardedBot that owns the plugin registry and core services."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import nextcord
import structlog
from nextcord.ext import commands

from bot import errors
from bot.audit import AuditRetention, AuditWriter
from bot.components.registry import BlockRegistry
from bot.components.store import ComponentStore
from bot.components.ui import button, controls
from bot.contract import ComponentHandler, PluginContext
from bot.gating import UNATTRIBUTED
from bot.guild_config import GuildConfigStore
from bot.listeners import Listener, ListenerRegistry, attributed_to
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
        # Every listener, whoever registered it and however: attributed and gated (bot.listeners).
        self.listeners = ListenerRegistry(registry, self.services,
                                          lambda: self.user.id if self.user else None)
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
        """Add a plugin's cog: its commands route as the plugin's, its listeners are gated."""
        with attributed_to(plugin):
            self.add_cog(cog)

    # nextcord's Client and BotBase disagree on add_cog/remove_cog; we extend BotBase's.
    def add_cog(self, cog: commands.Cog, *, override: bool = False) -> None:  # type: ignore[override]
        """Any cog, also one a plugin adds itself in `setup`, is attributed like a listener
        (bot.listeners): its commands then pass the plugin's toggle and gate in the router. A
        cog no plugin owns is refused: its commands would route as the core's, ungated."""
        owner = self.listeners.owner_of(type(cog))
        if owner == UNATTRIBUTED:
            log.error("cog.unattributed", cog=cog.qualified_name, module=type(cog).__module__)
            raise nextcord.ClientException(
                f"cog {cog.qualified_name!r} belongs to no plugin; return it from the plugin's "
                "cogs() or add it during its setup")
        with attributed_to(owner):
            super().add_cog(cog, override=override)
        if owner != CORE:
            cogs = self.plugins.cogs.setdefault(owner, [])
            if not any(c is cog for c in cogs):
                cogs.append(cog)

    def remove_cog(self, name: str) -> commands.Cog | None:  # type: ignore[override]
        cog = super().remove_cog(name)
        for cogs in self.plugins.cogs.values():
            if cog in cogs:
                cogs.remove(cog)
        return cog

    def add_listener(self, func: Listener,
                     name: str = nextcord.utils.MISSING) -> None:
        """Every listener (`add_listener`, `@bot.listen()`, `@bot.event`, cog listeners) is
        attributed to its plugin and gated like a cog listener (bot.listeners)."""
        event = func.__name__ if name is nextcord.utils.MISSING else name
        if not inspect.iscoroutinefunction(func):
            raise TypeError("Listeners must be coroutines")
        entry = self.listeners.attach(func, event)
        super().add_listener(entry.registered, event)

    def remove_listener(self, func: Listener,
                        name: str = nextcord.utils.MISSING) -> None:
        event = None if name is nextcord.utils.MISSING else name
        for entry in self.listeners.detach(func, event):
            super().remove_listener(entry.registered, entry.event)

    def event(self, coro: Any) -> Any:
        """`@bot.event` would replace the bot's own handler of that name (`on_interaction` is
        the router): here it adds a listener instead, attributed and gated like any other."""
        if not inspect.iscoroutinefunction(coro):
            raise TypeError("event registered must be a coroutine function")
        self.add_listener(coro, coro.__name__)
        return coro

    async def wait_for(self, event: str, *, check: Callable[..., bool] | None = None,
                       timeout: float | None = None) -> Any:
        """A plugin awaiting an event gets only events its listeners would get: the plugin on
        in that guild, and its gate (rating, markers on `check`) passed by the member the
        event is about. Others are skipped and the wait goes on, within the same timeout."""
        owner = self.listeners.owner_of(check)
        if owner == CORE:
            return await super().wait_for(event, check=check, timeout=timeout)
        gate = self.listeners.gate_of(owner, f"wait_for:{event}", check)
        if owner == UNATTRIBUTED:
            log.warning("wait_for.unattributed", event_name=event,
                        message="no plugin awaits this event: only verified 21+ members' count")
        return await self.listeners.wait_gated(
            self._listeners, event.lower(), check, timeout, owner, gate)

    def dispatch(self, event_name: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]  # BotBase's name
        method = "on_" + event_name
        # The common case, checked cheaply on every event: nothing unvetted to adopt.
        if method in self.__dict__ or not self.listeners.knows_all(
                self.extra_events.get(method, ())):
            self._adopt_strays(method, by_module_only=True)
        super().dispatch(event_name, *args, **kwargs)

    def _adopt_strays(self, method: str | None = None, *, by_module_only: bool = False) -> None:
        """Fail closed on listeners that skipped add_listener: a function appended to
        `extra_events` by hand, or an `on_<event>` set on the bot object, becomes a gated
        listener. Swept after each plugin's setup (attributed to it) and before each dispatch
        (attributed by module only: whoever dispatches is not who registered)."""
        methods = [method] if method else [m for m in [*self.extra_events, *self.__dict__]
                                            if m.startswith("on_")]
        for name in methods:
            if name in self.__dict__ and inspect.iscoroutinefunction(self.__dict__[name]):
                entry = self.listeners.attach(self.__dict__.pop(name), name,
                                              by_module_only=by_module_only)
                super().add_listener(entry.registered, name)
            funcs = self.extra_events.get(name, [])
            for index, func in enumerate(funcs):
                if not self.listeners.knows(func):
                    funcs[index] = self.listeners.attach(
                        func, name, by_module_only=by_module_only).registered

    # Growmies has application commands only. nextcord's commands.Bot would parse every
    # message for a prefix command (a Context built per message), and even a do-nothing
    # `on_message` here would cost a task per message: nextcord's dispatch schedules whatever
    # `getattr(bot, "on_message")` finds. Reading it raises AttributeError, so dispatch skips
    # it; plugins' own listeners still get the event. Assigning one (`@bot.event`) stores it
    # on the instance, where `_adopt_strays` turns it into a gated listener before dispatch.
    @property  # type: ignore[override]
    def on_message(self) -> Callable[..., Awaitable[None]]:
        raise AttributeError("on_message")

    @on_message.setter
    def on_message(self, handler: Callable[..., Awaitable[None]]) -> None:
        self.__dict__["on_message"] = handler

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

        with attributed_to(CORE):
            self.add_cog(AdminCog(self))
        self.register_component_handlers(CORE, core_handlers())
        for name, plugin in list(self.plugins.plugins.items()):
            ctx = self.plugin_context(name)
            # Cogs a plugin adds itself in setup land here too (add_cog).
            self.plugins.cogs[name] = []
            try:
                # Listeners and cogs registered meanwhile, or later by tasks started here,
                # are the plugin's (bot.listeners).
                with attributed_to(name):
                    await plugin.setup(ctx)
                    self._adopt_strays()
                    for cog in list(plugin.cogs(ctx)):
                        self.add_plugin_cog(name, cog)
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
        for cog in list(self.plugins.cogs.get(name, [])):
            self.remove_cog(cog.qualified_name)
        self.plugins.cogs.pop(name, None)
        for entry in self.listeners.of(name):
            self.remove_listener(entry.registered, entry.event)
        self._component_handlers.pop(name, None)
        for svc in (self.services.age_gate, self.services.xp, self.services.knowledge,
                    self.services.paid_usage):
            svc.withdraw(name)
        if plugin is not None:
            await _shutdown_step(plugin.teardown, "plugin.teardown_failed", plugin=name)

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
        # Every step runs even when one before it failed: a plugin whose teardown breaks must
        # not cost the audit entries still buffered, nor leave the gateway open.
        for name, plugin in list(self.plugins.plugins.items()):
            await _shutdown_step(plugin.teardown, "plugin.teardown_failed", plugin=name)
        for what, step in (("components", self.services.components.stop),
                           ("audit_retention", self.audit_retention.stop),
                           ("audit_flush", self.services.audit.flush),
                           ("ratelimit_task", self._stop_ratelimit_task),
                           ("gateway", super().close)):
            await _shutdown_step(step, "bot.shutdown_step_failed", step=what)

    async def _stop_ratelimit_task(self) -> None:
        # nextcord's HTTPClient.close() cancels its rate-limit task and then awaits it,
        # which raises CancelledError into *our* close when the task was still pending.
        # Cancel it here and wait for it without re-raising its cancellation.
        shed = getattr(self.http, "_ratelimit_shed_task", None)
        if shed is not None and not shed.done():
            shed.cancel()
            await asyncio.wait({shed})


async def _shutdown_step(
    run: Callable[[], Awaitable[object]], event: str, /, **where: str
) -> None:
    """Run one step of a shutdown, logging its failure instead of stopping the steps after it.

    A CancelledError that reaches us from something the step awaited (a task another part
    cancelled, a library awaiting its own cancelled helper) is such a failure too; only a
    cancellation of the shutdown itself is passed on."""
    try:
        await run()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.error(event, error="CancelledError", **where)
    except Exception as exc:
        log.error(event, error=type(exc).__name__, **where)
