"""Interfaces the core publishes to plugins, so plugins never import each other.

Each interface has a default that is safe when no plugin implements it: the age gate denies,
XP awards do nothing, knowledge search finds nothing. A provider only counts in a guild where
the plugin that provided it is turned on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from bot.audit import AuditWriter
from bot.components.registry import BlockRegistry
from bot.toggles import GuildToggles

if TYPE_CHECKING:
    from bot.components.store import ComponentStore
    from bot.loader import PluginRegistry

log = structlog.get_logger("bot.services")


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    reason: str
    message: str = ""


class AgeGateProvider(Protocol):
    async def decide(self, guild_id: int, user_id: int) -> GateDecision:
        """Whether this member is verified 21+ in this guild."""
        ...


class XpProvider(Protocol):
    async def award(self, guild_id: int, user_id: int, amount: int, reason: str) -> int:
        """Award XP; returns what was actually granted after caps."""
        ...


@dataclass(frozen=True)
class KnowledgeHit:
    id: int
    title: str
    content: str
    category: str
    source_url: str | None = None
    score: float = 0.0


class KnowledgeProvider(Protocol):
    async def search(self, guild_id: int | None, query: str, limit: int) -> list[KnowledgeHit]:
        ...


NOT_VERIFIED = "This is 21+ content. Verify your age with /verify to use it."


@dataclass
class _Provided[T]:
    plugin: str
    impl: T


class AgeGate:
    """"May this member see 21+ content?" Fails closed and audits every decision."""

    def __init__(self, toggles: GuildToggles, audit: AuditWriter) -> None:
        self._toggles = toggles
        self._audit = audit
        self._provider: _Provided[AgeGateProvider] | None = None
        # custom_id of a button that starts verification, shown with every denial.
        self.prompt_custom_id: str | None = None

    def provide(
        self, plugin: str, impl: AgeGateProvider, *, prompt_custom_id: str | None = None
    ) -> None:
        self._provider = _Provided(plugin, impl)
        self.prompt_custom_id = prompt_custom_id

    def withdraw(self, plugin: str) -> None:
        if self._provider and self._provider.plugin == plugin:
            self._provider = None
            self.prompt_custom_id = None

    @property
    def provider_plugin(self) -> str | None:
        return self._provider.plugin if self._provider else None

    async def decide(self, guild_id: int | None, user_id: int) -> GateDecision:
        """The decision alone, without auditing (for UI that only shows status)."""
        if guild_id is None:
            return GateDecision(False, "dm", "21+ features only work inside the server.")
        provider = self._provider
        if provider is None:
            return GateDecision(False, "no_verifier", "Age verification is not available.")
        try:
            if not await self._toggles.is_enabled(guild_id, provider.plugin):
                return GateDecision(
                    False, "verification_off",
                    "21+ features are unavailable: age verification is turned off here.",
                )
            return await provider.impl.decide(guild_id, user_id)
        except Exception as exc:
            log.error("age_gate.error", error=type(exc).__name__, guild_id=guild_id)
            return GateDecision(
                False, "error", "Age verification is unavailable right now; try again later."
            )

    async def check(self, guild_id: int | None, user_id: int, feature: str) -> GateDecision:
        """Decide for a 21+ feature and write the decision to the audit log."""
        decision = await self.decide(guild_id, user_id)
        await self._audit.record(
            "age_gate.allowed" if decision.allowed else "age_gate.denied",
            guild_id=guild_id,
            actor_id=user_id,
            target=feature,
            details={"feature": feature, "reason": decision.reason},
        )
        return decision


class XpAwards:
    """Award XP for activity in a plugin; a no-op when no engagement plugin is on."""

    def __init__(self, toggles: GuildToggles) -> None:
        self._toggles = toggles
        self._provider: _Provided[XpProvider] | None = None

    def provide(self, plugin: str, impl: XpProvider) -> None:
        self._provider = _Provided(plugin, impl)

    def withdraw(self, plugin: str) -> None:
        if self._provider and self._provider.plugin == plugin:
            self._provider = None

    async def award(self, guild_id: int | None, user_id: int, amount: int, reason: str) -> int:
        provider = self._provider
        if provider is None or guild_id is None or amount <= 0:
            return 0
        try:
            if not await self._toggles.is_enabled(guild_id, provider.plugin):
                return 0
            return await provider.impl.award(guild_id, user_id, amount, reason)
        except Exception as exc:
            log.warning("xp.award_failed", error=type(exc).__name__, reason=reason)
            return 0


class KnowledgeSearch:
    """Search the community knowledge base; empty when no knowledge plugin is on."""

    def __init__(self, toggles: GuildToggles) -> None:
        self._toggles = toggles
        self._provider: _Provided[KnowledgeProvider] | None = None

    def provide(self, plugin: str, impl: KnowledgeProvider) -> None:
        self._provider = _Provided(plugin, impl)

    def withdraw(self, plugin: str) -> None:
        if self._provider and self._provider.plugin == plugin:
            self._provider = None

    async def search(self, guild_id: int | None, query: str, limit: int = 5) -> list[KnowledgeHit]:
        provider = self._provider
        if provider is None:
            return []
        try:
            if guild_id is not None and not await self._toggles.is_enabled(
                guild_id, provider.plugin
            ):
                return []
            return await provider.impl.search(guild_id, query, limit)
        except Exception as exc:
            log.warning("knowledge.search_failed", error=type(exc).__name__)
            return []


@dataclass
class Privacy:
    """Export or delete everything every loaded plugin holds about a member."""

    registry: PluginRegistry
    audit: AuditWriter

    async def export(self, user_id: int) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, plugin in self.registry.plugins.items():
            try:
                data[name] = await plugin.export_user_data(user_id)
            except Exception as exc:
                log.error("privacy.export_failed", plugin=name, error=type(exc).__name__)
                data[name] = {"error": "export failed; ask an admin"}
        return data

    async def delete(self, user_id: int, *, guild_id: int | None = None) -> dict[str, int]:
        removed: dict[str, int] = {}
        for name, plugin in self.registry.plugins.items():
            try:
                removed[name] = await plugin.delete_user_data(user_id)
            except Exception as exc:
                log.error("privacy.delete_failed", plugin=name, error=type(exc).__name__)
                removed[name] = -1
        # Record that deletion happened, and how much, never what was deleted.
        await self.audit.record(
            "privacy.deleted", guild_id=guild_id, actor_id=user_id, target=str(user_id),
            details={"records_removed": removed},
        )
        return removed


@dataclass
class CoreServices:
    audit: AuditWriter
    toggles: GuildToggles
    age_gate: AgeGate
    xp: XpAwards
    knowledge: KnowledgeSearch
    privacy: Privacy
    components: ComponentStore
    blocks: BlockRegistry
    extras: dict[str, Any] = field(default_factory=dict)
