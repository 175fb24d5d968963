"""Verification outcomes: self-attested date of birth, staff review, cooldowns and resets.

Free of Discord types: the cog applies roles and posts review requests from what this returns.
Every step writes an audit entry; the date of birth itself is never stored or audited.

A denial (under the minimum age, or by staff) is also kept as an `AgeDenial` that survives
/privacy delete. After one, a self-attested adult date never verifies on its own: it goes to
staff review, or is refused where the server has no review channel. Only staff
`/verification reset` clears it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.api import GuildConfig, UserError
from plugins.compliance.dates import BadDate, age_on, parse_birth_date, today_in_new_york
from plugins.compliance.gate import CachedAgeGate
from plugins.compliance.models import (
    DENIED,
    PENDING,
    SELF_ATTEST,
    STAFF_DENIED,
    STAFF_REVIEW,
    UNDER_MINIMUM_AGE,
    UNVERIFIED,
    VERIFIED,
    AgeDenial,
    GuildSettings,
    MemberRecord,
)

# Implausible dates in a row before the member must wait out the cooldown, so that typing
# dates one after another cannot be used to probe the rule.
MAX_INVALID_ATTEMPTS = 3
ATTEST_WORD = "yes"
# Verification writes only its own columns: the XP flusher updates the same rows at any time,
# and saving a whole row loaded before a flush would undo that flush's XP.
VERIFICATION_FIELDS = ("status", "is_21_plus", "verified_at", "method", "reviewer_id",
                       "reviewer_pseudonym", "failed_attempts", "retry_at")
NO_REVIEW_CHANNEL = ("Verification needs staff review here, but staff have not set a review "
                     "channel yet. Please ask a moderator.")
DENIED_BEFORE_NO_REVIEW = (
    "An earlier age verification of yours in this server was denied, so a new date can only "
    "be checked by staff, and this server has no staff review channel. Please ask a moderator.")


class AuditSink(Protocol):
    async def record(self, action: str, *, guild_id: int | None = ..., actor_id: int | None = ...,
                     target: str | int | None = ..., details: dict[str, Any] | None = ...,
                     text: str | None = ...) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    status: str  # verified | pending | denied
    message: str
    record: MemberRecord
    # The earlier denial that sent this request to staff review, if any (staff are told).
    prior_denial: AgeDenial | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def describe_wait(delta: timedelta) -> str:
    minutes = max(1, int(delta.total_seconds() // 60) + (1 if delta.total_seconds() % 60 else 0))
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    return f"{hours} h" if hours else f"{mins} min"


class VerificationService:
    def __init__(self, settings: GuildConfig[GuildSettings], audit: AuditSink,
                 gate: CachedAgeGate, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.audit = audit
        self.gate = gate
        self.clock = clock
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}

    def _lock(self, guild_id: int, user_id: int) -> asyncio.Lock:
        return self._locks.setdefault((guild_id, user_id), asyncio.Lock())

    async def record(self, guild_id: int, user_id: int) -> MemberRecord:
        row, _ = await MemberRecord.get_or_create(guild_id=guild_id, user_id=user_id)
        return row

    async def status(self, guild_id: int, user_id: int) -> MemberRecord | None:
        return await MemberRecord.get_or_none(guild_id=guild_id, user_id=user_id)

    async def denial(self, guild_id: int, user_id: int) -> AgeDenial | None:
        return await AgeDenial.get_or_none(guild_id=guild_id, user_id=user_id)

    async def needs_review(self, guild_id: int, user_id: int) -> bool:
        """Whether an adult date from this member goes to staff instead of verifying."""
        settings = await self.settings.get(guild_id)
        return (settings.verification_mode == STAFF_REVIEW
                or await self.denial(guild_id, user_id) is not None)

    async def check_can_start(self, guild_id: int, user_id: int) -> None:
        """Refuse before showing the modal when the answer could not count anyway."""
        row = await self.status(guild_id, user_id)
        settings = await self.settings.get(guild_id)
        denial = await self.denial(guild_id, user_id)
        self._refuse_if_blocked(row, denial, settings.retry_cooldown_seconds)
        self._refuse_without_review(settings, denial)

    @staticmethod
    def _refuse_without_review(settings: Any, denial: AgeDenial | None) -> None:
        if settings.review_channel_id is not None:
            return
        if denial is not None:
            raise UserError(DENIED_BEFORE_NO_REVIEW)
        if settings.verification_mode == STAFF_REVIEW:
            raise UserError(NO_REVIEW_CHANNEL)

    def _refuse_if_blocked(self, row: MemberRecord | None, denial: AgeDenial | None,
                           cooldown_seconds: int) -> None:
        if row is not None and row.status == VERIFIED and row.is_21_plus:
            raise UserError("You are already verified as 21+ in this server.")
        if row is not None and row.status == PENDING:
            raise UserError("Your verification is already waiting for staff review.")
        now = self.clock()
        # The cooldown also runs from a kept denial: deleting one's data (and so retry_at)
        # must not allow an immediate new attempt.
        waits = [row.retry_at] if row is not None and row.retry_at is not None else []
        if denial is not None:
            waits.append(denial.decided_at + timedelta(seconds=cooldown_seconds))
        retry_at = max(waits, default=None)
        if retry_at is not None and retry_at > now:
            raise UserError(f"You can try verifying again in {describe_wait(retry_at - now)}.")

    async def submit(self, guild_id: int, user_id: int, birth_text: str,
                     attestation: str) -> Outcome:
        """Judge a submitted date of birth. Raises UserError for anything the member must fix."""
        async with self._lock(guild_id, user_id):
            return await self._submit(guild_id, user_id, birth_text, attestation)

    async def _submit(self, guild_id: int, user_id: int, birth_text: str,
                      attestation: str) -> Outcome:
        settings = await self.settings.get(guild_id)
        row = await self.record(guild_id, user_id)
        denial = await self.denial(guild_id, user_id)
        try:
            self._refuse_if_blocked(row, denial, settings.retry_cooldown_seconds)
            self._refuse_without_review(settings, denial)
        except UserError as refused:
            # The bot's own wording, never anything the member typed.
            await self.audit.record("verification.refused", guild_id=guild_id, actor_id=user_id,
                                    target=user_id, details={"reason": refused.message[:100]})
            raise
        if attestation.strip().lower() != ATTEST_WORD:
            raise UserError(f"Type **{ATTEST_WORD}** in the confirmation box to confirm the "
                            "date is yours and true.")
        now = self.clock()
        today = today_in_new_york(now)
        try:
            birth = parse_birth_date(birth_text, today)
        except BadDate as bad:
            await self._count_invalid(row, settings.retry_cooldown_seconds, bad, now)
            raise
        age = age_on(birth, today)
        del birth  # data minimisation: only the outcome is kept
        if age < settings.minimum_age:
            return await self._deny_underage(row, settings, now)
        if settings.verification_mode == STAFF_REVIEW or denial is not None:
            row.status, row.method, row.failed_attempts = PENDING, STAFF_REVIEW, 0
            await row.save(update_fields=VERIFICATION_FIELDS)
            self.gate.invalidate(guild_id, user_id)
            await self.audit.record("verification.review_requested", guild_id=guild_id,
                                    actor_id=user_id, target=user_id,
                                    details={"method": STAFF_REVIEW,
                                             "after_denial": denial is not None})
            message = "Thanks! Staff will review your verification soon."
            if denial is not None:
                message = ("Thanks! An earlier verification of yours here was denied, so staff "
                           "will review this one.")
            return Outcome(PENDING, message, row, prior_denial=denial)
        await self._mark_verified(row, SELF_ATTEST, reviewer_id=None)
        await self.audit.record("verification.verified", guild_id=guild_id, actor_id=user_id,
                                target=user_id, details={"method": SELF_ATTEST})
        return Outcome(VERIFIED, "You are verified as 21+. Welcome!", row)

    async def _count_invalid(self, row: MemberRecord, cooldown: int, bad: BadDate,
                             now: datetime) -> None:
        if not bad.counts_as_attempt:
            return
        row.failed_attempts += 1
        locked = row.failed_attempts >= MAX_INVALID_ATTEMPTS
        if locked:
            row.retry_at = now + timedelta(seconds=cooldown)
            row.failed_attempts = 0
        await row.save(update_fields=VERIFICATION_FIELDS)
        await self.audit.record(
            "verification.invalid_date", guild_id=row.guild_id, actor_id=row.user_id,
            target=row.user_id, details={"cooldown_started": locked},
        )
        if locked:
            bad.message += (" Too many invalid dates: try again in "
                            f"{describe_wait(timedelta(seconds=cooldown))}.")

    async def _deny_underage(self, row: MemberRecord, settings: Any, now: datetime) -> Outcome:
        row.status, row.is_21_plus, row.failed_attempts = DENIED, False, 0
        row.retry_at = now + timedelta(seconds=settings.retry_cooldown_seconds)
        await row.save(update_fields=VERIFICATION_FIELDS)
        await self._keep_denial(row.guild_id, row.user_id, UNDER_MINIMUM_AGE, now)
        self.gate.invalidate(row.guild_id, row.user_id)
        await self.audit.record("verification.denied", guild_id=row.guild_id,
                                actor_id=row.user_id, target=row.user_id,
                                details={"reason": "under_minimum_age",
                                         "minimum_age": settings.minimum_age})
        wait = describe_wait(timedelta(seconds=settings.retry_cooldown_seconds))
        return Outcome(DENIED, f"Sorry, this community is for adults {settings.minimum_age}+ "
                               f"only. You can try again in {wait}.", row)

    async def _mark_verified(self, row: MemberRecord, method: str, *,
                             reviewer_id: int | None) -> None:
        row.status, row.is_21_plus, row.method = VERIFIED, True, method
        row.verified_at, row.reviewer_id = self.clock(), reviewer_id
        row.reviewer_pseudonym = None
        row.failed_attempts, row.retry_at = 0, None
        await row.save(update_fields=VERIFICATION_FIELDS)
        self.gate.invalidate(row.guild_id, row.user_id)

    async def review(self, guild_id: int, requester_id: int, reviewer_id: int, *,
                     approve: bool) -> MemberRecord:
        """Staff decision on a pending request; the caller checked Manage Roles."""
        if reviewer_id == requester_id:
            await self.audit.record("verification.self_review_refused", guild_id=guild_id,
                                    actor_id=reviewer_id, target=requester_id)
            raise UserError("You can't review your own verification request.")
        async with self._lock(guild_id, requester_id):
            row = await self.status(guild_id, requester_id)
            if row is None or row.status != PENDING:
                state = row.status if row else UNVERIFIED
                raise UserError(f"This request was already handled (status: {state}).")
            if approve:
                await self._mark_verified(row, STAFF_REVIEW, reviewer_id=reviewer_id)
            else:
                settings = await self.settings.get(guild_id)
                row.status, row.is_21_plus, row.reviewer_id = DENIED, False, reviewer_id
                row.reviewer_pseudonym = None
                row.retry_at = self.clock() + timedelta(seconds=settings.retry_cooldown_seconds)
                await row.save(update_fields=VERIFICATION_FIELDS)
                await self._keep_denial(guild_id, requester_id, STAFF_DENIED, self.clock())
                self.gate.invalidate(guild_id, requester_id)
        await self.audit.record(
            "verification.approved" if approve else "verification.review_denied",
            guild_id=guild_id, actor_id=reviewer_id, target=requester_id,
            details={"method": STAFF_REVIEW},
        )
        return row

    async def _keep_denial(self, guild_id: int, user_id: int, outcome: str,
                           when: datetime) -> None:
        """Record (or refresh) the denial that outlives /privacy delete. An under-age answer
        stays the recorded outcome even if staff deny a later request."""
        kept = await self.denial(guild_id, user_id)
        if kept is None:
            await AgeDenial.create(guild_id=guild_id, user_id=user_id, outcome=outcome,
                                   decided_at=when)
            return
        if kept.outcome != UNDER_MINIMUM_AGE:
            kept.outcome = outcome
        kept.decided_at = when
        await kept.save(update_fields=("outcome", "decided_at"))

    async def reset(self, guild_id: int, target_id: int, actor_id: int | None, *,
                    reason: str | None = None) -> str:
        """Staff: back to unverified, no cooldown, any kept denial cleared; returns the
        previous status. `reason` is staff free text: kept apart from the audit entry."""
        async with self._lock(guild_id, target_id):
            row = await self.record(guild_id, target_id)
            previous = row.status
            row.status, row.is_21_plus, row.method = UNVERIFIED, False, None
            row.verified_at = row.reviewer_id = row.reviewer_pseudonym = row.retry_at = None
            row.failed_attempts = 0
            await row.save(update_fields=VERIFICATION_FIELDS)
            cleared = await AgeDenial.filter(guild_id=guild_id, user_id=target_id).delete()
            # Invalidate before anything else can ask: the very next gate check re-reads.
            self.gate.invalidate(guild_id, target_id)
        await self.audit.record("verification.reset", guild_id=guild_id, actor_id=actor_id,
                                target=target_id,
                                details={"previous": previous, "denial_cleared": bool(cleared)},
                                text=reason)
        return previous

    async def withdraw_request(self, guild_id: int, user_id: int) -> None:
        """Undo "pending" when the request could not reach staff; a kept denial stays."""
        async with self._lock(guild_id, user_id):
            row = await self.status(guild_id, user_id)
            if row is None or row.status != PENDING:
                return
            row.status, row.method = UNVERIFIED, None
            await row.save(update_fields=VERIFICATION_FIELDS)
            self.gate.invalidate(guild_id, user_id)
        await self.audit.record("verification.review_withdrawn", guild_id=guild_id,
                                actor_id=None, target=user_id,
                                details={"reason": "review_channel_unreachable"})
