"""Helpers for end-to-end music tests: the real bot, the fake Discord and FakeLavalink."""

from __future__ import annotations

from typing import Any

from bot.api import GateDecision
from plugins.music.env import MusicSettings

PUBLIC_IP = "93.184.216.34"


async def public_resolver(host: str) -> list[str]:
    # No DNS in tests: every named host is public unless a test says otherwise.
    return [PUBLIC_IP]


class AllowList:
    """A stand-in age verifier: members in `verified` are 21+."""

    def __init__(self) -> None:
        self.verified: set[int] = set()

    async def decide(self, guild_id: int, user_id: int) -> GateDecision:
        if user_id in self.verified:
            return GateDecision(True, "verified")
        return GateDecision(False, "unverified", "Verify your age with /verify first.")


def music(running: Any) -> Any:
    return running.bot.plugins.plugins["music"]


def nodes_for(*fakes: Any) -> list[dict[str, Any]]:
    return [{"id": f"node{i}", "uri": f.uri, "password": f.password}
            for i, f in enumerate(fakes)]


async def start_music(start_bot: Any, *fakes: Any, gate: AllowList | None = None,
                      **overrides: Any) -> Any:
    """The bot with its Lavalink nodes on `fakes`; overrides naming a music setting
    (max_queue_size, transcribe_base_url, ...) go to the plugin, the rest to the core."""
    own = {k: overrides.pop(k) for k in list(overrides) if k in MusicSettings.model_fields}
    running = await start_bot(plugin_settings={"music": {"lavalink_nodes": nodes_for(*fakes),
                                                         **own}}, **overrides)
    plugin = music(running)
    plugin.service.resolver = public_resolver
    for node in plugin.lavalink.nodes.values():
        node.backoff.base, node.backoff.cap = 0.05, 0.2
    if gate is not None:
        # The gate asks whether the providing plugin is on in the guild: music is by default.
        running.services.age_gate.provide("music", gate)
    if fakes:
        await plugin.playback.wait_for(lambda: len(plugin.lavalink.connected()) == len(fakes))
    return running


def content(response: dict[str, Any]) -> str:
    return str((response.get("data") or {}).get("content") or "")


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", [])
            for c in row["components"] if "custom_id" in c]


def find_id(message: dict[str, Any], action: str) -> str:
    return next(cid for cid in custom_ids(message) if f":{action}:" in cid)
