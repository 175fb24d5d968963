"""Fixtures for the ui plugin's tests: the real bot with only the ui plugin, plus stand-in
providers of the core's age gate, XP and knowledge interfaces so their use is observable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.api import GateDecision, KnowledgeHit


@dataclass
class Providers:
    verified: set[int] = field(default_factory=set)
    awards: list[tuple[int, int, int, str]] = field(default_factory=list)
    knowledge: list[KnowledgeHit] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    # Channels an admin marked 21+ whose permissions the verifying plugin checked.
    adult_channels: set[int] = field(default_factory=set)

    async def decide(self, guild_id: int, user_id: int) -> GateDecision:
        if user_id in self.verified:
            return GateDecision(True, "verified")
        return GateDecision(False, "unverified", "Verify your age with /verify first.")

    async def adults_only_channel(self, channel: Any) -> bool:
        return channel.id in self.adult_channels

    async def award(self, guild_id: int, user_id: int, amount: int, reason: str) -> int:
        self.awards.append((guild_id, user_id, amount, reason))
        return amount

    async def search(self, guild_id: int | None, query: str, limit: int) -> list[KnowledgeHit]:
        self.searches.append(query)
        return self.knowledge[:limit]


async def start_ui(start_bot: Any, providers: Providers, *, knowledge: bool = False) -> Any:
    """Start the bot with the ui plugin alone and plug the stand-ins in where the compliance
    and llm plugins plug theirs in production. The core consults a provider only while the
    plugin it is registered under is on in the guild, so they are registered under "ui"."""
    running = await start_bot(growmies_plugins=["ui"])
    services = running.services
    services.age_gate.provide("ui", providers, prompt_custom_id="uitest:verify")
    services.xp.provide("ui", providers)
    if knowledge:
        services.knowledge.provide("ui", providers)
    return running


@dataclass
class UIBot:
    running: Any
    providers: Providers

    @property
    def bot(self) -> Any:
        return self.running.bot


@pytest.fixture
def providers(world: Any) -> Providers:
    """Admin and member are verified 21+; `other` is not."""
    return Providers(verified={world.admin.id, world.member.id})


@pytest.fixture
async def ui_bot(start_bot: Any, providers: Providers) -> UIBot:
    return UIBot(await start_ui(start_bot, providers), providers)


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", [])
            for c in row.get("components", []) if "custom_id" in c]


def find_id(message: dict[str, Any], action: str) -> str:
    return next(cid for cid in custom_ids(message) if f":{action}:" in cid)


def embed_text(message: dict[str, Any]) -> str:
    parts = [str(message.get("content") or "")]
    for embed in message.get("embeds") or []:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields") or []]
        parts.append(str((embed.get("footer") or {}).get("text") or ""))
    return "\n".join(parts)
