"""Verification and the age gate at the service layer: dates, cooldowns, reviews, cache."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.api import GuildConfig, UserError
from plugins.compliance.dates import BadDate, age_on, parse_birth_date, today_in_new_york
from plugins.compliance.gate import CachedAgeGate
from plugins.compliance.models import GuildSettings, MemberRecord
from plugins.compliance.verification import VerificationService

GUILD, MEMBER, STAFF = 1001, 2002, 3003
TODAY = date(2026, 11, 26)


class Clock:
    def __init__(self) -> None:
        # 12:00 UTC is 07:00 in New York: the same calendar date in both.
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class RecordedAudit:
    """What the service asks the core's audit log to record (writing it is the core's job,
    covered by the core's own tests)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    async def record(self, action: str, **fields: Any) -> bool:
        self.entries.append({"action": action, **fields})
        return True

    def actions(self, guild_id: int) -> list[str]:
        return [e["action"] for e in self.entries if e.get("guild_id") == guild_id]


@pytest.fixture
async def svc(db):
    settings = GuildConfig(GuildSettings)
    clock = Clock()
    service = VerificationService(settings, RecordedAudit(), CachedAgeGate(), clock=clock)
    service.test_clock = clock  # type: ignore[attr-defined]  # the tests' handle on it
    return service


def years_ago(years: int, days: int = 0) -> str:
    return (date(TODAY.year - years, TODAY.month, TODAY.day) + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(("raw", "fragment", "counts"), [
    ("2005-02-30", "does not exist", True),
    ("31/12/1990", "ambiguous", False),
    ("12/31/1990", "ambiguous", False),
    ("2030-01-01", "future", True),
    ("1896-01-01", "older than 120", True),
    ("nineteen ninety", "not a date", False),
    ("", "empty", False),
    ("   ", "empty", False),
])
def test_bad_dates_say_what_is_wrong_and_which_format_is_expected(raw, fragment, counts):
    with pytest.raises(BadDate) as caught:
        parse_birth_date(raw, TODAY)
    assert fragment in caught.value.message
    assert caught.value.counts_as_attempt is counts
    if not counts:
        assert "YYYY-MM-DD" in caught.value.message


def test_age_uses_the_new_york_calendar_date():
    # 03:00 UTC on the 27th is still the 26th in New York.
    assert today_in_new_york(datetime(2026, 11, 27, 3, 0, tzinfo=UTC)) == date(2026, 11, 26)
    assert age_on(date(2005, 11, 27), date(2026, 11, 26)) == 20
    assert age_on(date(2005, 11, 26), date(2026, 11, 26)) == 21
    # A leap-day birthday counts from March 1 in common years.
    assert age_on(date(2004, 2, 29), date(2025, 2, 28)) == 20
    assert age_on(date(2004, 2, 29), date(2025, 3, 1)) == 21


async def test_member_turning_21_today_in_new_york_is_verified_and_no_birth_date_is_kept(svc):
    outcome = await svc.submit(GUILD, MEMBER, years_ago(21), "YES")
    assert outcome.status == "verified"
    row = await MemberRecord.get(guild_id=GUILD, user_id=MEMBER)
    assert (row.status, row.is_21_plus, row.method) == ("verified", True, "self_attest")
    stored = str(await MemberRecord.filter(id=row.id).values()) + str(svc.audit.entries)
    assert years_ago(21) not in stored and str(TODAY.year - 21) not in stored
    assert (await svc.gate.decide(GUILD, MEMBER)).allowed


async def test_day_before_21st_birthday_is_denied_with_a_cooldown(svc):
    outcome = await svc.submit(GUILD, MEMBER, years_ago(21, days=1), "yes")
    assert outcome.status == "denied" and "24 h" in outcome.message
    with pytest.raises(UserError, match="try verifying again in 24 h"):
        await svc.submit(GUILD, MEMBER, years_ago(30), "yes")
    svc.test_clock.now += timedelta(hours=23, minutes=59)
    with pytest.raises(UserError, match="again in 1 min"):
        await svc.submit(GUILD, MEMBER, years_ago(30), "yes")
    svc.test_clock.now += timedelta(minutes=1)
    # After the cooldown an adult date still does not verify on its own: with no review
    # channel in this server, it is refused with the reason.
    with pytest.raises(UserError, match="earlier age verification of yours in this server "
                                        "was denied"):
        await svc.submit(GUILD, MEMBER, years_ago(30), "yes")
    assert svc.audit.actions(GUILD) == ["verification.denied", "verification.refused",
                                        "verification.refused", "verification.refused"]
    row = await MemberRecord.get(guild_id=GUILD, user_id=MEMBER)
    assert (row.status, row.is_21_plus) == ("denied", False)


async def test_three_impossible_dates_start_the_cooldown(svc):
    for raw in ("2005-02-30", "2030-01-01"):
        with pytest.raises(BadDate):
            await svc.submit(GUILD, MEMBER, raw, "yes")
    with pytest.raises(BadDate, match="Too many invalid dates"):
        await svc.submit(GUILD, MEMBER, "1800-01-01", "yes")
    with pytest.raises(UserError, match="try verifying again"):
        await svc.submit(GUILD, MEMBER, years_ago(40), "yes")
    # Format mistakes (letters, empty, ambiguous) do not count: they are not guesses.
    other = 4004
    for raw in ("abc", "", "01/02/1990", "x", "y"):
        with pytest.raises(BadDate):
            await svc.submit(GUILD, other, raw, "yes")
    assert (await svc.submit(GUILD, other, years_ago(40), "yes")).status == "verified"


async def test_missing_attestation_is_refused_without_counting(svc):
    with pytest.raises(UserError, match="Type \\*\\*yes\\*\\*"):
        await svc.submit(GUILD, MEMBER, years_ago(30), "no")
    assert (await svc.submit(GUILD, MEMBER, years_ago(30), "Yes ")).status == "verified"


async def test_staff_review_pending_then_approved_and_self_review_refused(svc):
    await svc.settings.update(GUILD, verification_mode="staff_review", review_channel_id=55)
    outcome = await svc.submit(GUILD, MEMBER, years_ago(25), "yes")
    assert outcome.status == "pending"
    decision = await svc.gate.decide(GUILD, MEMBER)
    assert not decision.allowed and decision.reason == "pending"
    with pytest.raises(UserError, match="own verification"):
        await svc.review(GUILD, MEMBER, MEMBER, approve=True)
    row = await svc.review(GUILD, MEMBER, STAFF, approve=True)
    assert (row.status, row.reviewer_id, row.method) == ("verified", STAFF, "staff_review")
    assert (await svc.gate.decide(GUILD, MEMBER)).allowed
    with pytest.raises(UserError, match="already handled"):
        await svc.review(GUILD, MEMBER, STAFF, approve=False)


async def test_staff_review_without_a_channel_is_refused_up_front(svc):
    await svc.settings.update(GUILD, verification_mode="staff_review")
    with pytest.raises(UserError, match="review channel"):
        await svc.check_can_start(GUILD, MEMBER)


async def test_reset_invalidates_a_cached_allow_at_once(svc):
    await svc.submit(GUILD, MEMBER, years_ago(30), "yes")
    assert (await svc.gate.decide(GUILD, MEMBER)).allowed
    reads = svc.gate.reads
    assert (await svc.gate.decide(GUILD, MEMBER)).allowed
    assert svc.gate.reads == reads, "the second answer came from the cache"
    assert await svc.reset(GUILD, MEMBER, STAFF) == "verified"
    decision = await svc.gate.decide(GUILD, MEMBER)
    assert not decision.allowed and decision.reason == "unverified"
    # The reset carries no cooldown: the member may verify again straight away.
    assert (await svc.submit(GUILD, MEMBER, years_ago(30), "yes")).status == "verified"


async def test_status_is_per_guild(svc):
    await svc.submit(GUILD, MEMBER, years_ago(30), "yes")
    assert (await svc.gate.decide(GUILD, MEMBER)).allowed
    assert not (await svc.gate.decide(GUILD + 1, MEMBER)).allowed


async def test_gate_read_racing_a_reset_does_not_cache_the_stale_answer(svc):
    await svc.submit(GUILD, MEMBER, years_ago(30), "yes")
    gate = svc.gate
    original = gate._generation
    gate.invalidate(GUILD, MEMBER)
    # Simulate: a read started before the invalidation finishes after it.
    gate._generation = original
    decision = await gate.decide(GUILD, MEMBER)
    gate._generation += 1  # the invalidation lands now
    assert decision.allowed
    gate.invalidate(GUILD, MEMBER)
    assert (GUILD, MEMBER) not in gate._cache


async def test_staff_deny_sets_denied_with_the_cooldown(svc):
    await svc.settings.update(GUILD, verification_mode="staff_review", review_channel_id=55,
                              retry_cooldown_seconds=3600)
    await svc.submit(GUILD, MEMBER, years_ago(25), "yes")
    row = await svc.review(GUILD, MEMBER, STAFF, approve=False)
    assert (row.status, row.is_21_plus, row.reviewer_id) == ("denied", False, STAFF)
    assert not (await svc.gate.decide(GUILD, MEMBER)).allowed
    with pytest.raises(UserError, match="again in 1 h"):
        await svc.check_can_start(GUILD, MEMBER)
    assert any(e["action"] == "verification.review_denied" and e["actor_id"] == STAFF
               for e in svc.audit.entries)


async def test_verifying_does_not_undo_xp_written_meanwhile(svc):
    await MemberRecord.create(guild_id=GUILD, user_id=MEMBER, xp=100)
    mark_verified = svc._mark_verified

    async def xp_flush_lands_first(row, method, *, reviewer_id):
        # The row was loaded with xp=100; the XP flusher writes before verification saves.
        await MemberRecord.filter(guild_id=GUILD, user_id=MEMBER).update(xp=250)
        await mark_verified(row, method, reviewer_id=reviewer_id)

    svc._mark_verified = xp_flush_lands_first
    assert (await svc.submit(GUILD, MEMBER, years_ago(30), "yes")).status == "verified"
    row = await MemberRecord.get(guild_id=GUILD, user_id=MEMBER)
    assert (row.status, row.xp) == ("verified", 250)
