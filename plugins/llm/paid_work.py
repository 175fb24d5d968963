"""The AI budget for other plugins' paid work (podcast transcripts), published through the
core's `services.paid_usage`: the same reservation as a chat turn on the server's month (one
transaction of conditional UPDATEs), settled with what the work cost, audited
(`llm.paid_usage`) and counted per member and kind of work for /llm usage (`llm_paid_work`).

Only the server's budget is charged, not the member's day: such work is shared (one transcript
per episode serves every member), an hour of audio costs more than a member's whole default
day, and the calling plugin keeps its own per-member limits (music: transcripts per member
per day).

No model's daily budget is touched: the work runs on another service's model (a transcription
endpoint), not on one of the models /llm models allows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Sum

from bot.api import PaidRefusal, PaidReservation
from plugins.llm.budget import BudgetExceeded, Reservation, UsageLedger, guild_config
from plugins.llm.models import LLMPaidWork

if TYPE_CHECKING:
    from bot.api import CoreServices

SERVER = 0  # the user_id under which the server's own work (no member) is counted


class PaidWorkBudget:
    """The llm plugin's `PaidUsageProvider`."""

    def __init__(self, ledger: UsageLedger, services: CoreServices) -> None:
        self.ledger = ledger
        self.services = services

    async def reserve(self, guild_id: int, user_id: int | None, units: int,
                      what: str) -> object | PaidRefusal:
        config = await guild_config(guild_id)
        try:
            return await self.ledger.reserve(guild_id, SERVER if user_id is None else user_id,
                                             units, config, member=False)
        except BudgetExceeded as exc:
            await self._audit(guild_id, user_id, what, "refused", units,
                              reason=f"budget_{exc.scope}")
            message = (f"This server's monthly AI budget doesn't have the {units:,} "
                       "tokens that needs; it resets on the 1st. An admin can raise it "
                       "with /llm config.")
            return PaidRefusal(f"{exc.scope}_budget", message)

    async def settle(self, reservation: PaidReservation, units: int) -> None:
        held = cast(Reservation, reservation.handle)
        await self.ledger.settle(held, units, 0, estimated=False, request=False)
        # Paid for already: counted once the database is back if it dropped (deferred.py).
        await self.ledger.deferred.run("paid work",
                                       lambda: _count(held, reservation.what, units))
        await self._audit(reservation.guild_id, reservation.user_id, reservation.what, "used",
                          units, reserved=held.tokens)

    async def release(self, reservation: PaidReservation) -> None:
        held = cast(Reservation, reservation.handle)
        await self.ledger.release(held)
        await self._audit(reservation.guild_id, reservation.user_id, reservation.what,
                          "released", 0, reserved=held.tokens)

    async def _audit(self, guild_id: int, user_id: int | None, what: str, outcome: str,
                     tokens: int, **extra: Any) -> None:
        await self.services.audit.record(
            "llm.paid_usage", guild_id=guild_id, actor_id=user_id, target=what,
            details={"what": what, "outcome": outcome, "tokens": tokens, **extra})


async def _count(held: Reservation, what: str, tokens: int) -> None:
    key: dict[str, Any] = {"guild_id": held.guild_id, "user_id": held.user_id, "what": what,
                           "day": held.day}
    try:
        row, _ = await LLMPaidWork.get_or_create(**key)
    except IntegrityError:  # a concurrent settle created it first
        row = await LLMPaidWork.get(**key)
    await LLMPaidWork.filter(id=row.id).update(tokens=F("tokens") + tokens, uses=F("uses") + 1)


async def paid_work_by_kind(guild_id: int, since: Any, user_id: int | None = None,
                            ) -> list[tuple[str, int, int]]:
    """(what, tokens, uses) since `since`, most tokens first: the member's, or the server's
    whole (members and its own work) when `user_id` is None."""
    query = LLMPaidWork.filter(guild_id=guild_id, day__gte=since)
    if user_id is not None:
        query = query.filter(user_id=user_id)
    rows = await query.annotate(t=Sum("tokens"), n=Sum("uses")).group_by("what").values(
        "what", "t", "n")
    out = [(str(r["what"]), int(r["t"] or 0), int(r["n"] or 0)) for r in rows]
    return sorted(out, key=lambda r: (-r[1], r[0]))


async def delete_member_paid_work(user_id: int) -> int:
    return await LLMPaidWork.filter(user_id=user_id).delete()


async def export_member_paid_work(user_id: int) -> dict[str, object]:
    rows = await LLMPaidWork.filter(user_id=user_id).order_by("day").values(
        "guild_id", "what", "day", "uses", "tokens")
    return {"paid_work": [{**r, "day": r["day"].isoformat()} for r in rows]}
