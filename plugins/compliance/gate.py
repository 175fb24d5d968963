"""The age-gate provider: "is this member verified 21+ in this guild?", with a cache.

The core asks this for every 21+ feature, so answers are cached per (guild, member) and
dropped the moment verification changes (verify, approve, deny, reset, privacy delete).
A database error propagates: the core turns it into a denial (fail closed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.api import NOT_VERIFIED, GateDecision
from plugins.compliance.models import DENIED, PENDING, VERIFIED, MemberRecord

if TYPE_CHECKING:
    from plugins.compliance.adult_channels import AdultChannels

# A cached answer is re-read after this long even without an invalidation, as a safety net
# against changes made outside this process (e.g. an admin editing the database).
CACHE_TTL_SECONDS = 300.0
# Past this many entries the cache starts over rather than growing without bound.
MAX_CACHED = 200_000

ALLOWED = GateDecision(True, "verified")
PENDING_REVIEW = GateDecision(
    False, "pending", "Your age verification is waiting for staff review."
)
WAS_DENIED = GateDecision(
    False, "denied", "You could not be verified as 21+, so this feature is unavailable."
)
UNVERIFIED_DECISION = GateDecision(False, "unverified", NOT_VERIFIED)


def decision_for(status: str | None, is_21_plus: bool) -> GateDecision:
    if status == VERIFIED and is_21_plus:
        return ALLOWED
    if status == PENDING:
        return PENDING_REVIEW
    if status == DENIED:
        return WAS_DENIED
    return UNVERIFIED_DECISION


class CachedAgeGate:
    """Implements the core's AgeGateProvider."""

    def __init__(self, *, ttl: float = CACHE_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[int, int], tuple[GateDecision, float]] = {}
        # Bumped on every invalidation: a read that started before it must not be cached.
        self._generation = 0
        self.reads = 0
        # Set by the plugin: the channels admins marked 21+ (see adult_channels.py).
        self.channels: AdultChannels | None = None

    async def decide(self, guild_id: int, user_id: int) -> GateDecision:
        key = (guild_id, user_id)
        hit = self._cache.get(key)
        now = self._clock()
        if hit is not None and hit[1] > now:
            return hit[0]
        generation = self._generation
        self.reads += 1
        row = await MemberRecord.filter(guild_id=guild_id, user_id=user_id).first().values(
            "status", "is_21_plus"
        )
        decision = decision_for(row["status"], bool(row["is_21_plus"])) if row else (
            UNVERIFIED_DECISION
        )
        if generation == self._generation:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[key] = (decision, now + self._ttl)
        return decision

    async def adults_only_channel(self, channel: Any) -> bool:
        """The core asks before posting 21+ content publicly: True only for a channel (or a
        thread in one) an admin marked 21+ whose permissions still keep others out."""
        if self.channels is None:
            return False
        return await self.channels.is_adults_only(channel)

    def invalidate(self, guild_id: int, user_id: int) -> None:
        self._generation += 1
        self._cache.pop((guild_id, user_id), None)

    def invalidate_user(self, user_id: int) -> None:
        self._generation += 1
        for key in [k for k in self._cache if k[1] == user_id]:
            del self._cache[key]

    def clear(self) -> None:
        self._generation += 1
        self._cache.clear()
