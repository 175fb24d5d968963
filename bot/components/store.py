"""Component state in the database: create, load with one read, advance with compare-and-set."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from tortoise.expressions import F

from bot.components.ids import new_state_id
from bot.models import ComponentState

log = structlog.get_logger("bot.components")

DEFAULT_TTL = timedelta(hours=24)
# Discord interaction tokens last 15 minutes, but a control lives as long as its state row.
MAX_TTL = timedelta(days=90)


def utcnow() -> datetime:
    return datetime.now(UTC)


class ComponentStore:
    def __init__(self) -> None:
        self._clicks: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def create(
        self,
        plugin: str,
        kind: str,
        data: dict[str, Any] | None = None,
        *,
        owner_id: int | None = None,
        guild_id: int | None = None,
        ttl: timedelta = DEFAULT_TTL,
        age_feature: str | None = None,
    ) -> ComponentState:
        """A new state row; `owner_id=None` means anyone may use the control."""
        ttl = min(ttl, MAX_TTL)
        return await ComponentState.create(
            id=new_state_id(),
            plugin=plugin,
            kind=kind,
            data=data or {},
            owner_id=owner_id,
            guild_id=guild_id,
            age_restricted=age_feature is not None,
            feature=age_feature,
            expires_at=utcnow() + ttl,
        )

    async def load(self, state_id: str) -> ComponentState | None:
        """The single read a click costs."""
        return await ComponentState.get_or_none(id=state_id)

    async def advance(
        self, state: ComponentState, data: dict[str, Any], *, extend: timedelta | None = None
    ) -> bool:
        """Replace the state's data if nobody changed it since it was loaded.

        Returns False when another click won the race: the caller must not apply its effect.
        """
        clicks = self._clicks.pop(state.id, 0) + 1
        values: dict[str, Any] = {
            "data": data,
            "version": state.version + 1,
            "interactions": F("interactions") + clicks,
        }
        if extend is not None:
            values["expires_at"] = utcnow() + min(extend, MAX_TTL)
        updated = await ComponentState.filter(id=state.id, version=state.version).update(**values)
        if not updated:
            self._clicks[state.id] += clicks
            return False
        state.data = data
        state.version += 1
        if "expires_at" in values:
            state.expires_at = values["expires_at"]
        return True

    async def delete(self, state_id: str) -> None:
        await ComponentState.filter(id=state_id).delete()

    def count_click(self, state_id: str) -> None:
        # Batched so a click that changes nothing costs no write.
        self._clicks[state_id] += 1

    async def flush_clicks(self) -> None:
        pending, self._clicks = self._clicks, Counter()
        for state_id, clicks in pending.items():
            await ComponentState.filter(id=state_id).update(
                interactions=F("interactions") + clicks
            )

    async def cleanup(self) -> int:
        return await ComponentState.filter(expires_at__lt=utcnow()).delete()

    def start(self, interval: float = 300.0) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(interval), name="component-cleanup")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush_clicks()

    async def _loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush_clicks()
                removed = await self.cleanup()
                if removed:
                    log.info("components.expired_removed", rows=removed)
            except Exception as exc:
                log.warning("components.cleanup_failed", error=type(exc).__name__)
