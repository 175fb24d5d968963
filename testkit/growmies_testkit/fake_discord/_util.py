"""Small shared helpers: snowflakes, timestamps and an asyncio change notifier."""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = [
    "DISCORD_EPOCH_MS",
    "Notifier",
    "SnowflakeGenerator",
    "deep_copy",
    "iso_now",
    "random_token",
    "snowflake_age",
    "snowflake_ms",
]

T = TypeVar("T")

#: Milliseconds since the Unix epoch of the first second of 2015, Discord's epoch.
DISCORD_EPOCH_MS = 1420070400000


class SnowflakeGenerator:
    """Monotonic Discord snowflakes whose timestamp part is the current wall clock.

    nextcord measures an interaction's 3 s deadline from its id's timestamp, so ids must be
    *fresh*; they also have to be unique and increasing, which the per-millisecond counter
    guarantees even when many ids are made in the same millisecond.
    """

    def __init__(self, worker_id: int = 1, process_id: int = 0) -> None:
        self._worker = worker_id & 0x1F
        self._process = process_id & 0x1F
        self._last_ms = 0
        self._increment = 0

    def _make(self, ms: int) -> int:
        if ms <= self._last_ms:
            ms = self._last_ms
            self._increment += 1
            if self._increment > 0xFFF:
                ms += 1
                self._increment = 0
        else:
            self._increment = 0
        self._last_ms = ms
        return (
            ((ms - DISCORD_EPOCH_MS) << 22)
            | (self._worker << 17)
            | (self._process << 12)
            | self._increment
        )

    def next(self) -> int:
        """Return a new snowflake stamped with the current time."""
        return self._make(int(time.time() * 1000))

    def next_for_shard(self, shard_id: int, shard_count: int) -> int:
        """Return a new snowflake for a guild owned by ``shard_id`` of ``shard_count`` shards.

        Discord routes a guild to shard ``(guild_id >> 22) % shard_count``; the timestamp part is
        pushed forward by at most ``shard_count - 1`` milliseconds to land on the wanted shard.
        """
        if not 0 <= shard_id < shard_count:
            raise ValueError(f"shard_id {shard_id} is not in range(0, {shard_count})")
        ms = max(int(time.time() * 1000), self._last_ms)
        while True:
            candidate = self._make(ms)
            if (candidate >> 22) % shard_count == shard_id:
                return candidate
            ms = self._last_ms + 1


def snowflake_ms(snowflake: int) -> int:
    """Unix time in milliseconds encoded in ``snowflake``."""
    return (int(snowflake) >> 22) + DISCORD_EPOCH_MS


def snowflake_age(snowflake: int) -> float:
    """Seconds elapsed since ``snowflake`` was made."""
    return time.time() - snowflake_ms(snowflake) / 1000.0


def iso_now() -> str:
    """The current UTC time as Discord formats timestamps (ISO 8601 with offset)."""
    return datetime.now(UTC).isoformat()


def random_token(length: int = 32) -> str:
    """A URL-safe random token (interaction tokens, voice tokens, session ids)."""
    return secrets.token_urlsafe(length)[:length]


def deep_copy[V](value: V) -> V:
    """Deep copy of a JSON-like value."""
    return copy.deepcopy(value)


class Notifier:
    """Wake-up primitive for "wait until the fake's state satisfies X".

    Every state change calls :meth:`notify` (synchronously, from any code running in the loop);
    :meth:`wait_for` re-evaluates its predicate after each change. No polling, no sleeps.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every waiter so it re-checks its predicate."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        """Return the first truthy value of ``predicate()``, re-checked on every change.

        Raises :class:`TimeoutError` naming ``what`` when ``timeout`` seconds pass first.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = predicate()
                    if result:
                        return result
                    await self._event.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}") from None


def json_safe_int(value: Any) -> int | None:
    """``int(value)`` for snowflake-ish values (str/int), ``None`` for ``None``/garbage."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
