"""Paid work one plugin does (a podcast transcription) counted against the AI budget another
plugin keeps (llm), through the core: plugins never import each other.

The unit is the token of the server's AI budget. Work billed otherwise is converted by the
plugin that does it, at a rate it documents (music: MUSIC_TRANSCRIBE_TOKENS_PER_MINUTE).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import structlog

if TYPE_CHECKING:
    from bot.toggles import GuildToggles

log = structlog.get_logger("bot.paid_usage")


@dataclass(frozen=True)
class PaidRefusal:
    """Paid work that must not start: `reason` for logs and audits (e.g. "member_budget"),
    `message` for the member, as written."""

    reason: str
    message: str


@dataclass(eq=False)
class PaidReservation:
    """Budget held for one piece of paid work until it is settled or released.

    `units` are tokens of the server's AI budget (see `PaidUsage`). `provider` is the plugin
    that holds them (None: nobody metered this guild, settling does nothing); `handle` is that
    plugin's own record of the hold."""

    guild_id: int
    user_id: int | None
    units: int
    what: str
    provider: str | None = None
    handle: object = None
    done: bool = False

    @property
    def metered(self) -> bool:
        return self.provider is not None


class PaidUsageProvider(Protocol):
    async def reserve(self, guild_id: int, user_id: int | None, units: int,
                      what: str) -> object | PaidRefusal:
        """Hold `units` tokens against the member's (None: the server's own work) and the
        server's budgets, all or nothing; return a handle of the hold, or a refusal."""
        ...

    async def settle(self, reservation: PaidReservation, units: int) -> None:
        """Replace the hold by what the work really cost (may be more or less)."""
        ...

    async def release(self, reservation: PaidReservation) -> None:
        """Give the whole hold back: the work failed before it cost anything."""
        ...


# A label of paid work, shown in usage reports: lowercase words ("podcast transcripts").
_WHAT = re.compile(r"[a-z0-9][a-z0-9 _-]{0,49}")
BUDGET_UNAVAILABLE = "The AI budget can't be checked right now; try again later."


class PaidUsage:
    """Count paid work another plugin does (a podcast transcription) against the server's AI
    budget, which the LLM plugin keeps. Units are tokens: work billed otherwise is converted by
    the caller at a documented rate (music: MUSIC_TRANSCRIBE_TOKENS_PER_MINUTE).

    Reserve before the paid call, then settle with the real cost or release on failure.
    Without a provider, or where its plugin is off, the reservation is unmetered (the caller's
    own limits still apply); when the provider fails, the work is refused (fails closed: a
    budget that can't be read must not let spending through). Settling and releasing never
    raise: the work is done either way; a failure is logged."""

    def __init__(self, toggles: GuildToggles) -> None:
        self._toggles = toggles
        self._provider: tuple[str, PaidUsageProvider] | None = None

    def provide(self, plugin: str, impl: PaidUsageProvider) -> None:
        self._provider = (plugin, impl)

    def withdraw(self, plugin: str) -> None:
        if self._provider and self._provider[0] == plugin:
            self._provider = None

    @property
    def provider_plugin(self) -> str | None:
        return self._provider[0] if self._provider else None

    async def reserve(self, guild_id: int, user_id: int | None, units: int,
                      what: str) -> PaidReservation | PaidRefusal:
        """Hold `units` tokens for `what` (a lowercase label such as "podcast transcripts"),
        charged to the member `user_id`, or to the server alone when None."""
        if units < 0 or not _WHAT.fullmatch(what):
            raise ValueError(f"paid usage needs units >= 0 and a lowercase label, got "
                             f"{units!r}, {what!r}")
        unmetered = PaidReservation(guild_id, user_id, units, what)
        if self._provider is None:
            return unmetered
        plugin, impl = self._provider
        try:
            if not await self._toggles.is_enabled(guild_id, plugin):
                return unmetered
            held = await impl.reserve(guild_id, user_id, units, what)
        except Exception as exc:
            log.error("paid_usage.reserve_failed", error=type(exc).__name__, what=what,
                      guild_id=guild_id)
            return PaidRefusal("error", BUDGET_UNAVAILABLE)
        if isinstance(held, PaidRefusal):
            return held
        return PaidReservation(guild_id, user_id, units, what, plugin, held)

    async def settle(self, reservation: PaidReservation, units: int) -> None:
        """The work cost `units` tokens; settling (or releasing) again does nothing."""
        await self._finish(reservation, max(0, units))

    async def release(self, reservation: PaidReservation) -> None:
        await self._finish(reservation, None)

    async def _finish(self, reservation: PaidReservation, units: int | None) -> None:
        was_done, reservation.done = reservation.done, True
        if was_done or not reservation.metered:
            return
        if self._provider is None or self._provider[0] != reservation.provider:
            # The plugin holding the tokens went away (unloaded): its hold is its own to drop.
            log.warning("paid_usage.provider_gone", what=reservation.what,
                        guild_id=reservation.guild_id)
            return
        impl = self._provider[1]
        try:
            if units is None:
                await impl.release(reservation)
            else:
                await impl.settle(reservation, units)
        except Exception as exc:
            log.error("paid_usage.settle_failed", error=type(exc).__name__,
                      what=reservation.what, guild_id=reservation.guild_id)
