"""Component state in the database: create, load with one read, advance with compare-and-set."""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from tortoise.expressions import F

from bot.background import PeriodicTask
from bot.components.ids import new_state_id
from bot.models import ComponentState

log = structlog.get_logger("bot.components")

DEFAULT_TTL = timedelta(hours=24)
# Discord interaction tokens last 15 minutes, but a control lives as long as its state row.
MAX_TTL = timedelta(days=90)


_COLUMNS = ", ".join(
    f'"{c}"' for c in ("id", "plugin", "kind", "guild_id", "owner_id", "age_restricted",
                       "feature", "data", "version", "interactions", "created_at", "expires_at")
)
_SQL: dict[str, dict[str, str]] = {}


def _sql(conn: Any) -> dict[str, str]:
    """The two hot statements, in the connection's placeholder style."""
    dialect = conn.capabilities.dialect
    if dialect not in _SQL:
        p = (lambda i: f"${i}") if dialect == "postgres" else (lambda i: "?")
        table = '"core_component_state"'
        _SQL[dialect] = {
            "load": f'SELECT {_COLUMNS} FROM {table} WHERE "id" = {p(1)}',
            "advance": (
                f'UPDATE {table} SET "data" = {p(1)}, "version" = "version" + 1, '
                f'"interactions" = "interactions" + {p(2)}, '
                f'"expires_at" = COALESCE({p(3)}, "expires_at") '
                f'WHERE "id" = {p(4)} AND "version" = {p(5)}'
            ),
        }
    return _SQL[dialect]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ComponentStore:
    def __init__(self) -> None:
        self._clicks: Counter[str] = Counter()
        self._housekeeping: PeriodicTask | None = None

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
        """The single read a click costs.

        Hand-written SQL: every click runs it, and building the query through the ORM cost
        more CPU than the database round trip."""
        conn = ComponentState._meta.db
        rows = await conn.execute_query_dict(_sql(conn)["load"], [state_id])
        return ComponentState._init_from_db(**rows[0]) if rows else None

    async def advance(
        self, state: ComponentState, data: dict[str, Any], *, extend: timedelta | None = None
    ) -> bool:
        """Replace the state's data if nobody changed it since it was loaded.

        Returns False when another click won the race: the caller must not apply its effect.
        """
        clicks = self._clicks.pop(state.id, 0) + 1
        conn = ComponentState._meta.db
        encoded = ComponentState._meta.fields_map["data"].to_db_value(data, state)
        expires = None if extend is None else utcnow() + min(extend, MAX_TTL)
        updated, _ = await conn.execute_query(
            _sql(conn)["advance"], [encoded, clicks, expires, state.id, state.version]
        )
        if not updated:
            self._clicks[state.id] += clicks
            return False
        state.data = data
        state.version += 1
        if expires is not None:
            state.expires_at = expires
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
        if self._housekeeping is None:
            self._housekeeping = PeriodicTask("component-cleanup", interval, self._housekeep)
            self._housekeeping.start()

    async def stop(self) -> None:
        if self._housekeeping is not None:
            await self._housekeeping.stop()
            self._housekeeping = None
        with contextlib.suppress(Exception):
            await self.flush_clicks()

    async def _housekeep(self) -> None:
        await self.flush_clicks()
        removed = await self.cleanup()
        if removed:
            log.info("components.expired_removed", rows=removed)
