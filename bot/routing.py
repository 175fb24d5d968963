"""The single entry point for every interaction: toggles, permissions, the 21+ gate,
throttling, component state, error answers and per-interaction log context."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

import nextcord
import structlog
from nextcord.enums import InteractionType

from bot import errors
from bot.components import ids
from bot.components import store as component_store
from bot.components.context import ComponentContext
from bot.components.store import StaleState
from bot.contract import (
    command_is_public,
    command_permissions,
    is_stateless,
    member_has,
    state_kinds,
)
from bot.errors import ControlExpired, MissingPermissions, NotYours, PluginDisabled, Throttled
from bot.gating import Gate, GateCache, required_feature
from bot.listeners import attributed_to
from bot.respond import defer_watchdog

if TYPE_CHECKING:
    from bot.client import GrowmiesBot

log = structlog.get_logger("bot.routing")

CORE = "core"


class AgeGateDenied(errors.UserError):
    pass


def _leaf(app_cmd: Any, options: list[dict[str, Any]] | None) -> tuple[Any, str, list[Any]]:
    """The subcommand an interaction targets, its full name ("queue show") and its chain of
    commands from the leaf up to the top-level command."""
    node, names, chain = app_cmd, [app_cmd.name], [app_cmd]
    while options and options[0].get("type") in (1, 2):
        child = getattr(node, "children", {}).get(options[0]["name"])
        if child is None:
            break
        node, names, chain = child, [*names, child.name], [child, *chain]
        options = options[0].get("options") or []
    return node, " ".join(names), chain


class InteractionRouter:
    def __init__(self, bot: GrowmiesBot) -> None:
        self.bot = bot
        self.gates = GateCache()

    async def handle(self, interaction: nextcord.Interaction) -> None:
        started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            interaction_id=interaction.id,
            guild_id=interaction.guild_id,
            user_id=interaction.user.id if interaction.user else None,
        )
        outcome = "ok"
        try:
            if interaction.type is InteractionType.application_command:
                outcome = await self._command(interaction)
            elif interaction.type is InteractionType.application_command_autocomplete:
                outcome = await self._autocomplete(interaction)
            elif interaction.type in (InteractionType.component, InteractionType.modal_submit):
                outcome = await self._component(interaction)
        except Exception as exc:
            outcome = await errors.report(interaction, exc)
        finally:
            log.info(
                "interaction.handled",
                kind=interaction.type.name if interaction.type else None,
                outcome=outcome,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()

    def _throttle(self, interaction: nextcord.Interaction) -> None:
        if interaction.user is None:
            return
        wait = self.bot.throttle.hit(interaction.user.id)
        if wait > 0:
            raise Throttled(wait)

    async def _require_enabled(self, plugin: str | None, guild_id: int | None) -> None:
        if plugin is None or plugin == CORE:
            return
        if not await self.bot.services.toggles.is_enabled(guild_id, plugin):
            raise PluginDisabled(plugin)

    async def _require_age(self, interaction: nextcord.Interaction, feature: str) -> None:
        assert interaction.user is not None
        decision = await self.bot.services.age_gate.check(
            interaction.guild_id, interaction.user.id, feature
        )
        if not decision.allowed:
            raise AgeGateDenied(
                decision.message or "This is 21+ content.", view=self.bot.verify_prompt_view()
            )

    def _plugin(self, name: str | None) -> Any:
        return self.bot.plugins.plugins.get(name) if name and name != CORE else None

    def _resolve(
        self, interaction: nextcord.Interaction
    ) -> tuple[Any, Any, str, str | None, list[Any]]:
        data = cast("dict[str, Any]", interaction.data or {})
        app_cmd: Any = self.bot.get_application_command(int(data.get("id", 0)))
        if app_cmd is None and data.get("name"):
            # Registered by another process or before our sync finished: match by name.
            app_cmd = self.bot.get_application_command_from_signature(
                str(data["name"]), type=int(data.get("type", 1)), guild=interaction.guild_id
            ) or self.bot.get_application_command_from_signature(
                str(data["name"]), type=int(data.get("type", 1)), guild=None
            )
        if app_cmd is None:
            raise errors.UserError("This command is not available right now; try again in a "
                                   "minute.")
        leaf, full_name, chain = _leaf(app_cmd, data.get("options"))
        plugin = self.bot.plugins.owner_of_cog(app_cmd.parent_cog)
        return app_cmd, leaf, full_name, plugin, chain

    def _command_gate(self, plugin: str | None, full_name: str, chain: list[Any]) -> Gate:
        return self.gates.get(self._plugin(plugin), f"/{full_name}", chain, "callback")

    @staticmethod
    def _permissions(chain: list[Any]) -> set[str]:
        perms: set[str] = set()
        for cmd in chain:
            perms |= command_permissions(cmd.callback)
        return perms

    async def _command(self, interaction: nextcord.Interaction) -> str:
        app_cmd, _leaf_cmd, full_name, plugin, chain = self._resolve(interaction)
        structlog.contextvars.bind_contextvars(command=full_name, plugin=plugin or CORE)
        self._throttle(interaction)
        await self._require_enabled(plugin, interaction.guild_id)
        perms = self._permissions(chain)
        if perms and not member_has(interaction.user, perms):
            raise MissingPermissions(perms)
        gate = self._command_gate(plugin, full_name, chain)
        feature = await required_feature(gate, interaction.guild_id)
        if feature is not None:
            await self._require_age(interaction, feature)
        public = any(command_is_public(c.callback) for c in chain)
        async with defer_watchdog(interaction, ephemeral=not public):
            with attributed_to(plugin):  # what it registers is its plugin's (bot.listeners)
                await app_cmd.call_from_interaction(interaction)
        return "ok"

    async def _autocomplete(self, interaction: nextcord.Interaction) -> str:
        """Suggestions are content too: the same toggle, permissions and 21+ gate as the
        command, on a throttle of their own that fits typing (a refusal is an empty list)."""
        app_cmd, _leaf_cmd, full_name, plugin, chain = self._resolve(interaction)
        structlog.contextvars.bind_contextvars(command=full_name, plugin=plugin or CORE)
        outcome = await self._autocomplete_refusal(interaction, plugin, full_name, chain)
        if outcome is not None:
            if not interaction.response.is_done():
                await interaction.response.send_autocomplete([])
            return outcome
        with attributed_to(plugin):
            await app_cmd.call_autocomplete_from_interaction(interaction)
        return "ok"

    async def _autocomplete_refusal(
        self, interaction: nextcord.Interaction, plugin: str | None, full_name: str,
        chain: list[Any],
    ) -> str | None:
        user = interaction.user
        if user is None:
            return "no_user"
        if self.bot.autocomplete_throttle.hit(user.id) > 0:
            return "throttled"
        if plugin and not await self.bot.services.toggles.is_enabled(
            interaction.guild_id, plugin
        ):
            return "plugin_disabled"
        perms = self._permissions(chain)
        if perms and not member_has(user, perms):
            return "missing_permissions"
        gate = self._command_gate(plugin, full_name, chain)
        feature = await required_feature(gate, interaction.guild_id)
        if feature is not None:
            decision = await self.bot.services.age_gate.check(
                interaction.guild_id, user.id, feature, quiet=True
            )
            if not decision.allowed:
                return "age_gate_denied"
        return None

    async def _component(self, interaction: nextcord.Interaction) -> str:
        data = cast("dict[str, Any]", interaction.data or {})
        try:
            cid = ids.parse(data.get("custom_id"))
        except ids.MalformedCustomId:
            raise ControlExpired() from None
        structlog.contextvars.bind_contextvars(plugin=cid.plugin, action=cid.action)
        handler = self.bot.component_handler(cid.plugin, cid.action)
        if handler is None:
            raise ControlExpired()
        self._throttle(interaction)
        await self._require_enabled(cid.plugin, interaction.guild_id)
        state = await self._state_for(interaction, cid, handler)
        # The plugin whose content this is: the owner of a core block's state row.
        owner = state.plugin if cid.plugin == CORE and state is not None else cid.plugin
        surface = cid.action if owner == cid.plugin else f"{CORE}:{cid.action}"
        gate = self.gates.get(self._plugin(owner), surface, (handler,))
        feature = (state.feature or state.kind if state is not None and state.age_restricted
                   else await required_feature(gate, interaction.guild_id))
        if feature is not None:
            await self._require_age(interaction, feature)
        ctx = ComponentContext(interaction, self.bot, cid, state)
        async with defer_watchdog(interaction):
            try:
                with attributed_to(owner):
                    await handler(ctx)
            except StaleState:
                # Another process changed the row since we cached it: once more, on the row
                # as the database has it now.
                state = await self._state_for(interaction, cid, handler, fresh=True)
                ctx = ComponentContext(interaction, self.bot, cid, state)
                await handler(ctx)
        if state is not None and not ctx.advanced:
            self.bot.services.components.count_click(state.id)
        return "ok"

    async def _state_for(
        self, interaction: nextcord.Interaction, cid: ids.CustomId, handler: Any,
        *, fresh: bool = False,
    ) -> Any:
        """Whatever the custom_id says, a handler gets only the state it was declared for: a
        stateless handler none, every other one a live row of its own kind."""
        if is_stateless(handler):
            if cid.state_id is not None:
                raise ControlExpired()
            return None
        if cid.state_id is None:
            raise ControlExpired()
        state = await self.bot.services.components.load(cid.state_id, fresh=fresh)
        if state is None or state.expires_at < component_store.utcnow():
            raise ControlExpired()
        if cid.plugin != CORE and state.plugin != cid.plugin:
            raise ControlExpired()
        if state.kind not in state_kinds(handler, cid.action):
            raise ControlExpired()
        if state.guild_id is not None and state.guild_id != interaction.guild_id:
            raise ControlExpired()
        if cid.plugin == CORE:
            await self._require_enabled(state.plugin, interaction.guild_id)
        if state.owner_id is not None and interaction.user and (
            state.owner_id != interaction.user.id
        ):
            raise NotYours()
        return state
