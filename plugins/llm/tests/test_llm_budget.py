"""Budgets hold under concurrency: reservations are conditional UPDATEs in the database."""

from __future__ import annotations

import asyncio

from bot.api import UserError
from plugins.llm.budget import UsageLedger, guild_settings
from plugins.llm.conversations import delete_user_data
from plugins.llm.models import LLMGuildConfig, LLMGuildUsage, LLMUsage
from plugins.llm.service import ChatRequest
from plugins.llm.tests.conftest import GUILD, MEMBER, Harness, ListSink


async def reservation_size(h: Harness) -> int:
    prepared = await h.service.prepare(ChatRequest(GUILD, MEMBER, "hi"))
    assert prepared.reservation is not None
    await h.service.cancel(prepared)
    return prepared.reservation.tokens


async def test_twenty_concurrent_requests_at_the_budget_edge(harness: Harness) -> None:
    size = await reservation_size(harness)
    # Room for exactly three requests at their maximum; twenty arrive at once.
    await guild_settings.update(GUILD, user_daily_tokens=3 * size,
                                requests_per_minute=60)
    harness.openai.default_reply = lambda body: "short answer"

    async def reserve() -> object:
        try:
            return await harness.service.prepare(ChatRequest(GUILD, MEMBER, "hi"))
        except UserError as exc:
            return exc.message

    # All twenty reserve at once, before any answer settles and frees unused tokens.
    results = await asyncio.gather(*(reserve() for _ in range(20)))
    prepared = [r for r in results if not isinstance(r, str)]
    assert len(prepared) == 3
    assert all("daily AI budget" in r for r in results if isinstance(r, str))
    for turn in prepared:
        await harness.service.respond(turn, ListSink())
    assert len(harness.openai.chat_requests) == 3
    usage = await LLMUsage.get(user_id=MEMBER)
    assert usage.reserved_tokens == 0 and usage.requests == 3
    assert usage.prompt_tokens + usage.completion_tokens <= 3 * size


async def test_concurrent_reservations_never_overshoot_the_server_month(db) -> None:
    ledger = UsageLedger()
    config = LLMGuildConfig(guild_id=GUILD, user_daily_tokens=10_000, guild_monthly_tokens=950)

    async def reserve(user: int) -> bool:
        try:
            await ledger.reserve(GUILD, user, 100, config)
        except UserError:
            return False
        return True

    held = await asyncio.gather(*(reserve(MEMBER + i) for i in range(20)))
    assert sum(held) == 9
    month = await LLMGuildUsage.get(guild_id=GUILD)
    assert month.reserved_tokens == 900
    # Members refused by the server budget hold nothing either.
    assert sum(u.reserved_tokens for u in await LLMUsage.all()) == 900


async def test_settling_releases_the_unused_part_and_failure_releases_all(db) -> None:
    ledger = UsageLedger()
    config = LLMGuildConfig(guild_id=GUILD)
    used = await ledger.reserve(GUILD, MEMBER, 900, config)
    failed = await ledger.reserve(GUILD, MEMBER, 900, config)
    assert (await LLMUsage.get(user_id=MEMBER)).reserved_tokens == 1800
    await ledger.settle(used, 120, 30, estimated=False)
    await ledger.release(failed)
    await ledger.release(used)  # settling twice changes nothing
    usage = await LLMUsage.get(user_id=MEMBER)
    assert (usage.reserved_tokens, usage.prompt_tokens, usage.completion_tokens,
            usage.requests) == (0, 120, 30, 1)
    month = await LLMGuildUsage.get(guild_id=GUILD)
    assert (month.reserved_tokens, month.used_tokens) == (0, 150)


async def test_a_failed_model_call_releases_the_whole_reservation(harness: Harness) -> None:
    for _ in range(3):  # the first try and both SDK retries
        harness.openai.error(500)
    prepared = await harness.service.prepare(ChatRequest(GUILD, MEMBER, "hi"))
    result = await harness.service.respond(prepared, ListSink())
    assert result.outcome == "error"
    usage = await LLMUsage.get(user_id=MEMBER)
    assert (usage.reserved_tokens, usage.prompt_tokens, usage.completion_tokens) == (0, 0, 0)


async def test_privacy_delete_does_not_refund_the_budget(harness: Harness) -> None:
    size = await reservation_size(harness)
    await guild_settings.update(GUILD, user_daily_tokens=size + 5)
    prepared = await harness.service.prepare(ChatRequest(GUILD, MEMBER, "hi"))
    await harness.service.respond(prepared, ListSink())
    await delete_user_data(MEMBER)
    try:
        await harness.service.prepare(ChatRequest(GUILD, MEMBER, "hi again"))
    except UserError as exc:
        assert "daily AI budget" in exc.message
    else:
        raise AssertionError("the budget was refunded by a data deletion")
    assert len(harness.openai.chat_requests) == 1
