"""Interfaces the core publishes to plugins, so plugins never import each other.

Each interface has a default that is safe when no plugin implements it: the age gate denies,
XP awards do nothing, knowledge search finds nothing, paid usage is not metered (refused when
the metering plugin fails). A provider only counts in a guild where the plugin that provided it
is turned on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import nextcord
import structlog

from bot.audit import AuditWriter
from bot.components.registry import BlockRegistry
from bot.errors import DatabaseUnavailable, is_database_unreachable
from bot.paid_usage import PaidUsage
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

    # Optional: `async def adults_only_channel(self, channel) -> bool` — whether an admin marked
    # this channel 21+ and its permissions still keep unverified members out.


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

# Decisions for surfaces that fire on every keystroke or message (autocomplete, listeners) are
# audited once per member, feature and outcome in this window instead of once per event.
QUIET_AUDIT_WINDOW = 300.0
THREAD_REMOVED_NOTE = "A member who is not verified 21+ was removed from this thread."


@dataclass
class _Provided[T]:
    plugin: str
    impl: T


class AgeGate:
    """"May this member see 21+ content?" Fails closed and audits every decision."""

    def __init__(
        self, toggles: GuildToggles, audit: AuditWriter,
        bot_user_id: Callable[[], int | None] = lambda: None,
    ) -> None:
        self._toggles = toggles
        self._audit = audit
        self._bot_user_id = bot_user_id
        self._provider: _Provided[AgeGateProvider] | None = None
        # custom_id of a button that starts verification, shown with every denial.
        self.prompt_custom_id: str | None = None
        self._quiet: dict[tuple[int | None, int, str, bool], float] = {}
        # Private threads a plugin opened for all-ages use (e.g. general chat opened to all).
        self._open_threads: set[int] = set()

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

    async def check(
        self, guild_id: int | None, user_id: int, feature: str, *, quiet: bool = False
    ) -> GateDecision:
        """Decide for a 21+ feature and write the decision to the audit log. `quiet`: for
        per-keystroke and per-message surfaces, audit the same outcome once per window."""
        decision = await self.decide(guild_id, user_id)
        if quiet:
            key = (guild_id, user_id, feature, decision.allowed)
            now = time.monotonic()
            last = self._quiet.get(key)
            if last is not None and now - last < QUIET_AUDIT_WINDOW:
                return decision
            if len(self._quiet) > 100_000:
                self._quiet = {k: t for k, t in self._quiet.items()
                               if now - t < QUIET_AUDIT_WINDOW}
            self._quiet[key] = now
        await self._audit.record(
            "age_gate.allowed" if decision.allowed else "age_gate.denied",
            guild_id=guild_id,
            actor_id=user_id,
            target=feature,
            details={"feature": feature, "reason": decision.reason},
        )
        return decision


    def register_open_thread(self, thread_id: int) -> None:
        """A private thread the bot opened for all-ages use: not a place for 21+ content, and
        unverified members may stay in it."""
        self._open_threads.add(thread_id)

    async def is_adults_only_place(self, channel: object) -> bool:
        """Whether only verified 21+ members can read `channel`: a private thread the bot
        opened (it removes unverified members who get added), or a channel an admin marked
        21+ whose permissions the verifying plugin checked. Fails closed."""
        if channel is None:
            return False
        if isinstance(channel, nextcord.Thread):
            if self.polices(channel):
                return True
            if channel.id in self._open_threads:
                return False
        provider = self._provider
        judge = getattr(provider.impl, "adults_only_channel", None) if provider else None
        guild = getattr(channel, "guild", None)
        if provider is None or judge is None or guild is None:
            return False
        try:
            if not await self._toggles.is_enabled(guild.id, provider.plugin):
                return False
            return bool(await judge(channel))
        except Exception as exc:
            log.error("age_gate.place_error", error=type(exc).__name__, guild_id=guild.id)
            return False

    def polices(self, thread: nextcord.Thread) -> bool:
        """Whether unverified members added to `thread` must be removed."""
        bot_id = self._bot_user_id()
        return (thread.type is nextcord.ChannelType.private_thread and bot_id is not None
                and thread.owner_id == bot_id and thread.id not in self._open_threads)


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
    components: ComponentStore

    async def export(self, user_id: int) -> dict[str, Any]:
        from bot.audit import export_member_texts

        data: dict[str, Any] = {}
        outage = False
        try:
            data["core"] = {"audit_texts_you_wrote": await export_member_texts(user_id)}
        except Exception as exc:
            outage = outage or is_database_unreachable(exc)
            log.error("privacy.export_failed", plugin="core", error=type(exc).__name__)
            data["core"] = {"error": "export failed; ask an admin"}
        for name, plugin in self.registry.plugins.items():
            try:
                data[name] = await plugin.export_user_data(user_id)
            except Exception as exc:
                outage = outage or is_database_unreachable(exc)
                log.error("privacy.export_failed", plugin=name, error=type(exc).__name__)
                data[name] = {"error": "export failed; ask an admin"}
        if outage:
            # An export with holes from a database outage is no answer to "what do you hold
            # about me": the member is told to try again instead.
            raise DatabaseUnavailable()
        return data

    async def delete(self, user_id: int, *, guild_id: int | None = None) -> dict[str, int]:
        from bot.audit import delete_member_texts

        removed: dict[str, int] = {}
        # Controls only this member could use hold what they typed or picked; audit entries
        # keep what happened, but text the member wrote goes (the entry reads "[redacted]").
        removed["core"] = (await self.components.delete_owned(user_id)
                           + await delete_member_texts(user_id))
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
    paid_usage: PaidUsage
    privacy: Privacy
    components: ComponentStore
    blocks: BlockRegistry
    extras: dict[str, Any] = field(default_factory=dict)
