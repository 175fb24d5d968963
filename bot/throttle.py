"""Per-member interaction throttle shared by every plugin (a token bucket per user)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class InteractionThrottle:
    """A steady `rate` interactions per `per` seconds per member, with bursts up to `burst`
    (default: `rate`). The burst is what people feel: an admin paging through the audit log
    or clicking through a form makes a dozen interactions in a few seconds and must not be
    refused, while a script hammering buttons still is once the burst is spent."""

    def __init__(self, rate: int, per: float, *, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.per = per
        self.burst = max(1, burst if burst is not None else rate)
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def hit(self, user_id: int) -> float:
        """Spend one token; returns 0 when allowed, else seconds until the next is allowed."""
        now = self._clock()
        refill = self.rate / self.per
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * refill)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            if len(self._buckets) > 50_000:
                self._prune(now)
            return 0.0
        return (1 - bucket.tokens) / refill

    def _prune(self, now: float) -> None:
        # A bucket untouched long enough to have refilled completely holds no information.
        full_after = self.burst / (self.rate / self.per)
        idle = [uid for uid, b in self._buckets.items() if now - b.updated > full_after]
        for uid in idle:
            del self._buckets[uid]
