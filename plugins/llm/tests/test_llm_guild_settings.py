"""The assistant's server settings through the core's guild config store: an admin's change is
seen at once, and general chat stays shut when its setting cannot be read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from tortoise.exceptions import OperationalError

from plugins.llm.budget import general_chat_open, guild_config, guild_settings
from plugins.llm.models import LLMGuildConfig
from plugins.llm.tests.conftest import GUILD, Harness


@contextmanager
def settings_unreadable() -> Iterator[None]:
    original = LLMGuildConfig.get_or_none

    async def failing(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection to server was lost")

    # A database outage on exactly this read; mypy rightly dislikes patching a classmethod.
    LLMGuildConfig.get_or_none = failing  # type: ignore[method-assign,assignment]  # see above
    try:
        yield
    finally:
        LLMGuildConfig.get_or_none = original  # type: ignore[method-assign]  # restoring it


async def test_opening_general_chat_is_seen_at_once(harness: Harness) -> None:
    assert await general_chat_open(GUILD) is False
    await guild_settings.update(GUILD, general_chat_open=True)
    assert await general_chat_open(GUILD) is True
    await guild_settings.update(GUILD, general_chat_open=False)
    assert await general_chat_open(GUILD) is False
    assert (await LLMGuildConfig.get(guild_id=GUILD)).general_chat_open is False


async def test_general_chat_is_shut_when_its_setting_cannot_be_read(harness: Harness) -> None:
    await guild_settings.update(GUILD, general_chat_open=True)
    # Another process changed something: the next read must go to the database, which is down.
    guild_settings.table.invalidate(GUILD)
    with settings_unreadable():
        assert await general_chat_open(GUILD) is False
        # Budgets and rate limits are never enforced from made-up defaults either.
        with pytest.raises(OperationalError):
            await guild_config(GUILD)
    assert await general_chat_open(GUILD) is True, "back open once the database answers"


async def test_general_chat_is_shut_in_direct_messages(harness: Harness) -> None:
    assert await general_chat_open(None) is False
