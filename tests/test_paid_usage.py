"""The core's paid-usage service: another plugin's paid work (a podcast transcription) reserved
against the budget a provider keeps, settled or released once. Without a provider, or where its
plugin is off, the work is unmetered; a provider or toggle that fails refuses it (fails closed)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from bot.api import PaidRefusal, PaidReservation
from bot.audit import AuditWriter
from bot.paid_usage import BUDGET_UNAVAILABLE, PaidUsage
from bot.toggles import GuildToggles

GUILD = 5150
MEMBER = 42


class Meter:
    """A provider holding tokens against a budget, recording every call."""

    def __init__(self, budget: int = 1_000) -> None:
        self.budget = budget
        self.held = 0
        self.used = 0
        self.calls: list[tuple[Any, ...]] = []
        self.fail: Exception | None = None

    async def reserve(self, guild_id: int, user_id: int | None, units: int,
                      what: str) -> object | PaidRefusal:
        self.calls.append(("reserve", guild_id, user_id, units, what))
        if self.fail is not None:
            raise self.fail
        if self.used + self.held + units > self.budget:
            return PaidRefusal("server_budget", "This server's budget is spent.")
        self.held += units
        return {"units": units}

    async def settle(self, reservation: PaidReservation, units: int) -> None:
        self.calls.append(("settle", units))
        if self.fail is not None:
            raise self.fail
        self.held -= cast(dict[str, int], reservation.handle)["units"]
        self.used += units

    async def release(self, reservation: PaidReservation) -> None:
        self.calls.append(("release",))
        self.held -= cast(dict[str, int], reservation.handle)["units"]


@pytest.fixture
def toggles(db: str) -> GuildToggles:
    return GuildToggles(lambda: {"meter": True}, AuditWriter())


async def test_without_a_provider_work_is_unmetered_and_settling_does_nothing(toggles):
    paid = PaidUsage(toggles)
    held = await paid.reserve(GUILD, MEMBER, 500, "podcast transcripts")
    assert isinstance(held, PaidReservation) and not held.metered
    await paid.settle(held, 480)  # nothing to settle against, nothing raised
    assert held.done


async def test_a_provider_holds_settles_once_and_refuses_what_does_not_fit(toggles):
    paid, meter = PaidUsage(toggles), Meter(budget=1_000)
    paid.provide("meter", meter)
    held = await paid.reserve(GUILD, MEMBER, 600, "podcast transcripts")
    assert isinstance(held, PaidReservation) and held.metered and held.provider == "meter"
    assert meter.held == 600
    # 600 held: another 600 doesn't fit, and the refusal reaches the caller as written.
    refused = await paid.reserve(GUILD, None, 600, "podcast transcripts")
    assert refused == PaidRefusal("server_budget", "This server's budget is spent.")
    await paid.settle(held, 450)
    await paid.settle(held, 450)
    await paid.release(held)  # a `finally` may release after settling: a no-op
    assert (meter.held, meter.used) == (0, 450)
    assert [c[0] for c in meter.calls] == ["reserve", "reserve", "settle"]
    assert meter.calls[1][2] is None  # the server's own work: no member


async def test_a_failed_piece_of_work_gives_the_tokens_back(toggles):
    paid, meter = PaidUsage(toggles), Meter()
    paid.provide("meter", meter)
    held = await paid.reserve(GUILD, MEMBER, 300, "podcast transcripts")
    assert isinstance(held, PaidReservation)
    await paid.release(held)
    assert (meter.held, meter.used) == (0, 0)


async def test_a_provider_that_raises_refuses_the_work(toggles):
    paid, meter = PaidUsage(toggles), Meter()
    meter.fail = RuntimeError("database down")
    paid.provide("meter", meter)
    refused = await paid.reserve(GUILD, MEMBER, 10, "podcast transcripts")
    assert refused == PaidRefusal("error", BUDGET_UNAVAILABLE)


async def test_a_settle_that_fails_is_logged_not_raised(toggles):
    # The paid call already happened: the member gets the result whatever the counter does.
    paid, meter = PaidUsage(toggles), Meter()
    paid.provide("meter", meter)
    held = await paid.reserve(GUILD, MEMBER, 10, "podcast transcripts")
    assert isinstance(held, PaidReservation)
    meter.fail = RuntimeError("database down")
    await paid.settle(held, 10)
    assert held.done and meter.calls[-1] == ("settle", 10)


async def test_where_the_provider_is_off_the_work_is_unmetered(toggles):
    paid, meter = PaidUsage(toggles), Meter()
    paid.provide("meter", meter)
    await toggles.set(GUILD, "meter", False, actor_id=MEMBER)
    held = await paid.reserve(GUILD, MEMBER, 10, "podcast transcripts")
    assert isinstance(held, PaidReservation) and not held.metered
    assert meter.calls == []
    # Still on in another server.
    other = await paid.reserve(GUILD + 1, MEMBER, 10, "podcast transcripts")
    assert isinstance(other, PaidReservation) and other.metered


async def test_toggles_that_cannot_be_read_refuse_the_work():
    class Unreadable:
        async def is_enabled(self, guild_id: int | None, plugin: str) -> bool:
            raise ConnectionError("database down")

    paid, meter = PaidUsage(cast(GuildToggles, Unreadable())), Meter()
    paid.provide("meter", meter)
    refused = await paid.reserve(GUILD, MEMBER, 10, "podcast transcripts")
    assert isinstance(refused, PaidRefusal) and refused.reason == "error"
    assert meter.calls == []


async def test_a_withdrawn_provider_is_no_longer_asked(toggles):
    paid, meter = PaidUsage(toggles), Meter()
    paid.provide("meter", meter)
    held = await paid.reserve(GUILD, MEMBER, 10, "podcast transcripts")
    assert isinstance(held, PaidReservation)
    paid.withdraw("someone-else")  # only the providing plugin can withdraw it
    assert paid.provider_plugin == "meter"
    paid.withdraw("meter")
    assert paid.provider_plugin is None
    await paid.settle(held, 10)  # its plugin is gone: dropped, not sent elsewhere
    assert [c[0] for c in meter.calls] == ["reserve"]
    later = await paid.reserve(GUILD, MEMBER, 10, "podcast transcripts")
    assert isinstance(later, PaidReservation) and not later.metered


@pytest.mark.parametrize(("units", "what"), [(-1, "podcast transcripts"), (1, ""),
                                             (1, "Podcast **Transcripts**"), (1, "x" * 51)])
async def test_a_negative_amount_or_a_label_that_is_not_lowercase_words_is_a_bug(
        toggles, units, what):
    with pytest.raises(ValueError, match="lowercase label"):
        await PaidUsage(toggles).reserve(GUILD, MEMBER, units, what)
