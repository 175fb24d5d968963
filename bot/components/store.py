"""Component state in the database, with a write-through cache of live rows.

A click on a control this process created or saw recently costs no read and one
compare-and-set write. The database stays the truth: when another process (or a restart's
predecessor) changed a row, the write finds a newer version, and the router re-reads the row
and runs the click once more on fresh state (`StaleState`).
"""

from __future__ import annotations

import contextlib
from collections import Counter, OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from tortoise.expressions import F

from bot.background import PeriodicTask
from bot.components.ids import new_state_id
from bot.errors import AlreadyHandled
from bot.models import ComponentState

log = structlog.get_logger("bot.components")

DEFAULT_TTL = timedelta(hours=24)
# Discord interaction tokens last 15 minutes, but a control lives as long as its state row.
MAX_TTL = timedelta(days=90)


_FIELDS = ("id", "plugin", "kind", "guild_id", "owner_id", "age_restricted", "feature", "data",
           "version", "interactions", "created_at", "expires_at")
_COLUMNS = ", ".join(f'"{c}"' for c in _FIELDS)
# Live rows kept in memory; beyond this the least recently clicked are read again when used.
CACHE_SIZE = 20_000


class StaleState(AlreadyHandled):
    """The row changed since this process cached it: re-read it and handle the click again."""
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


def _snapshot(row: ComponentState) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _FIELDS}


def _from_snapshot(values: dict[str, Any]) -> ComponentState:
    # A fresh object per click: two clicks on one control must not share a version counter.
    return ComponentState._init_from_db(**{**values, "data": dict(values["data"] or {})})


class ComponentStore:
    def __init__(self, *, cache_size: int = CACHE_SIZE) -> None:
        self._clicks: Counter[str] = Counter()
        self._housekeeping: PeriodicTask | None = None
        self._live: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self.reads = 0  # database reads of single rows, for benchmarks and tests

    def _remember(self, row: ComponentState) -> None:
        self._live[row.id] = _snapshot(row)
        self._live.move_to_end(row.id)
        while len(self._live) > self._cache_size:
            self._live.popitem(last=False)

    def forget(self, state_id: str) -> None:
        self._live.pop(state_id, None)

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
        row = await ComponentState.create(
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
        self._remember(row)
        return row

    async def load(self, state_id: str, *, fresh: bool = False) -> ComponentState | None:
        """The row behind a click: from the cache when live there, else one read.

        Hand-written SQL: every uncached click runs it, and building the query through the ORM
        cost more CPU than the database round trip."""
        cached = None if fresh else self._live.get(state_id)
        if cached is not None and cached["expires_at"] >= utcnow():
            self._live.move_to_end(state_id)
            row = _from_snapshot(cached)
            row.__dict__["_growmies_cached"] = True
            return row
        self.reads += 1
        conn = ComponentState._meta.db
        rows = await conn.execute_query_dict(_sql(conn)["load"], [state_id])
        if not rows:
            self.forget(state_id)
            return None
        row = ComponentState._init_from_db(**rows[0])
        self._remember(row)
        return row

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
            known = self._live.get(state.id)
            if known is not None and known["version"] > state.version:
                # A click in this process won the race: this one is the duplicate.
                return False
            self.forget(state.id)
            if state.__dict__.get("_growmies_cached"):
                # Nothing here changed the row, so another process did while we held an old
                # copy: the caller re-reads it and handles the click on fresh state.
                raise StaleState()
            return False
        state.data = data
        state.version += 1
        if expires is not None:
            state.expires_at = expires
        state.__dict__.pop("_growmies_cached", None)
        self._remember(state)
        return True

    async def delete(self, state_id: str) -> None:
        self.forget(state_id)
        await ComponentState.filter(id=state_id).delete()

    async def find(self, plugin: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
        rows = await ComponentState.filter(plugin=plugin, kind=kind).values_list("id", "data")
        return [(str(state_id), dict(data or {})) for state_id, data in rows]

    async def delete_owned(self, owner_id: int) -> int:
        """Remove every control only this member could use (privacy deletion)."""
        for state_id, values in list(self._live.items()):
            if values["owner_id"] == owner_id:
                self.forget(state_id)
        return int(await ComponentState.filter(owner_id=owner_id).delete())

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
        now = utcnow()
        for state_id, values in list(self._live.items()):
            if values["expires_at"] < now:
                self.forget(state_id)
        return await ComponentState.filter(expires_at__lt=now).delete()

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
