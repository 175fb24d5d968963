"""What each Lavalink node offers, from its `/v4/info`: filters, plugins, source managers.

Effects, lyrics and links from other services depend on what the node was built and configured
with (a filter can be switched off in application.yml; LavaLyrics and LavaSrc are plugins). We
ask the node instead of guessing; the answer is cached per node for a minute (a restarted node
may come back with another configuration).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("plugins.music.node_info")

# /v4/info is a cheap local call; a node that can't answer in this long is treated as unknown.
INFO_TIMEOUT = 3.0
INFO_TTL = 60.0
LYRICS_PLUGIN = "lavalyrics-plugin"
LAVASRC_PLUGIN = "lavasrc-plugin"


@dataclass(frozen=True)
class NodeFeatures:
    filters: frozenset[str] = field(default_factory=frozenset)
    plugins: frozenset[str] = field(default_factory=frozenset)
    sources: frozenset[str] = field(default_factory=frozenset)
    known: bool = True  # False: the node did not answer /v4/info

    @classmethod
    def from_info(cls, data: dict[str, Any]) -> NodeFeatures:
        plugins = data.get("plugins") or []
        return cls(
            filters=frozenset(str(f) for f in data.get("filters") or []),
            plugins=frozenset(str(p.get("name")) for p in plugins if isinstance(p, dict)),
            sources=frozenset(str(s) for s in data.get("sourceManagers") or []),
        )


UNKNOWN = NodeFeatures(known=False)


class NodeFeaturesCache:
    def __init__(self) -> None:
        self._cache: dict[int, tuple[float, NodeFeatures]] = {}
        # One request per node at a time: 200 sessions restored at once ask once.
        self._pending: dict[int, asyncio.Task[NodeFeatures]] = {}

    def forget(self, node: Any) -> None:
        self._cache.pop(id(node), None)

    async def of(self, node: Any) -> NodeFeatures:
        key = id(node)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < INFO_TTL:
            return cached[1]
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(self._ask(node), name="music-node-info")
            self._pending[key] = task
            task.add_done_callback(lambda _t: self._pending.pop(key, None))
        # shield: one caller giving up (its interaction ended) must not cancel the others'.
        features = await asyncio.shield(task)
        # An unanswered node is cached too: asking again before every effect would add up to
        # INFO_TIMEOUT to each change.
        self._cache[key] = (time.monotonic(), features)
        return features

    async def _ask(self, node: Any) -> NodeFeatures:
        try:
            async with asyncio.timeout(INFO_TIMEOUT):
                data = await node.send("GET", path="v4/info")
        except Exception as exc:  # an old or odd server: unknown, features used blindly
            log.warning("music.node_info_failed", node=str(getattr(node, "identifier", "")),
                        error=type(exc).__name__)
            return UNKNOWN
        return NodeFeatures.from_info(data if isinstance(data, dict) else {})
