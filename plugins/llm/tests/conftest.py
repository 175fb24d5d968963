"""Service-level harness: the real ChatService against the fake OpenAI server and a real
database, with a list-backed message sink standing in for Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from bot.api import AuditEntry, CoreServices, GateDecision, GuildConfig
from plugins.llm.budget import guild_settings
from plugins.llm.client import ChatClient
from plugins.llm.env import LlmSettings
from plugins.llm.models import LLMGuildConfig
from plugins.llm.service import ChatService

GUILD = 111
MEMBER = 222


class ListSink:
    """Messages as a list; `log` records each Discord call the relay made."""

    def __init__(self) -> None:
        self.messages: list[str | None] = []
        self.log: list[tuple[str, int, str]] = []

    async def send(self, content: str) -> int:
        assert len(content) <= 2000
        self.messages.append(content)
        self.log.append(("send", len(self.messages) - 1, content))
        return len(self.messages) - 1

    async def edit(self, handle: int, content: str) -> None:
        assert len(content) <= 2000
        self.messages[handle] = content
        self.log.append(("edit", handle, content))

    async def delete(self, handle: int) -> None:
        self.messages[handle] = None
        self.log.append(("delete", handle, ""))

    @property
    def visible(self) -> list[str]:
        return [m for m in self.messages if m is not None]

    @property
    def text(self) -> str:
        return "\n".join(self.visible)


class Gate:
    def __init__(self) -> None:
        self.verified: set[int] = {MEMBER}
        self.calls: list[tuple[int | None, int, str]] = []

    async def check(self, guild_id: int | None, user_id: int, feature: str) -> GateDecision:
        self.calls.append((guild_id, user_id, feature))
        if user_id in self.verified:
            return GateDecision(True, "verified")
        return GateDecision(False, "unverified", "Verify your age with /verify first.")


class Xp:
    def __init__(self) -> None:
        self.awards: list[tuple[int | None, int, int, str]] = []

    async def award(self, guild_id: int | None, user_id: int, amount: int, reason: str) -> int:
        self.awards.append((guild_id, user_id, amount, reason))
        return amount


class AuditTrail:
    """The core's audit writer as the service uses it: every entry it recorded, in order, as
    the AuditEntry the core's reader returns. (Writing the entry is the core's job, covered by
    its own tests and by the Discord-level tests here, which read the real rows.)"""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, action: str, *, guild_id: int | None = None,
                     actor_id: int | None = None, target: str | int | None = None,
                     details: dict[str, Any] | None = None, text: str | None = None,
                     text_author: int | None = None) -> bool:
        self.entries.append(AuditEntry(
            len(self.entries) + 1, datetime.now(UTC), action, actor_id,
            None if target is None else str(target), dict(details or {}), text))
        return True

    def of(self, action: str) -> list[AuditEntry]:
        return [e for e in self.entries if e.action == action]

    def one(self, action: str) -> AuditEntry:
        found = self.of(action)
        assert len(found) == 1, f"expected one {action!r} entry, found {len(found)}"
        return found[0]


@dataclass
class FakeServices:
    audit: AuditTrail = field(default_factory=AuditTrail)
    age_gate: Gate = field(default_factory=Gate)
    xp: Xp = field(default_factory=Xp)


def as_core(services: FakeServices) -> CoreServices:
    """The fakes stand in for the three core services a turn uses (audit, age_gate, xp)."""
    return cast(CoreServices, services)


@dataclass
class Harness:
    service: ChatService
    services: FakeServices
    settings: LlmSettings
    openai: Any


def make_settings(fake_openai: Any, **overrides: Any) -> LlmSettings:
    """The plugin's settings pointing at the fake OpenAI server (no .env is read)."""
    values: dict[str, Any] = {
        "base_url": fake_openai.base_url, "api_key": fake_openai.api_key,
        "model": "growmies-test-model", "timeout": 5.0,
    }
    values.update(overrides)
    # _env_file is pydantic-settings' init-only option, unknown to the model's signature.
    return LlmSettings(_env_file=None, **values)  # type: ignore[call-arg]  # see above


@pytest.fixture
async def harness(db: str, fake_openai: Any) -> AsyncIterator[Harness]:
    settings = make_settings(fake_openai)
    services = FakeServices()
    client = ChatClient.from_settings(settings)
    service = ChatService(settings=settings, services=as_core(services), client=client)
    # What the plugin's setup does: a fresh cache of this database's guild settings.
    guild_settings.bind(GuildConfig(LLMGuildConfig, plugin="llm"))
    yield Harness(service, services, settings, fake_openai)
    if client is not None:
        await client.close()


def topic_model(*cannabis_phrases: str, reply_label: str | None = None) -> Any:
    """A default reply for the fake OpenAI server that also plays the topic classifier: a
    classification request is answered "cannabis" when the judged text contains one of
    `cannabis_phrases`, else "general" (or `reply_label` for checks of a model reply, which
    are recognised by starting with "You said"); chat requests get the usual echo."""
    from growmies_testkit.fake_openai import echo_reply
    from plugins.llm.classifier import CLASSIFIER_PROMPT

    def reply(body: dict[str, Any]) -> str:
        messages = body["messages"]
        if messages[0]["content"] != CLASSIFIER_PROMPT:
            return echo_reply(body)
        judged = messages[-1]["content"].lower()
        if reply_label is not None and judged.startswith("<text>you said"):
            return reply_label
        return "cannabis" if any(p in judged for p in cannabis_phrases) else "general"

    return reply


def is_classification(body: dict[str, Any]) -> bool:
    from plugins.llm.classifier import CLASSIFIER_PROMPT

    return body["messages"][0]["content"] == CLASSIFIER_PROMPT
