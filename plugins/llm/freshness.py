"""How fresh the knowledge base is: when each entry was last verified, how accurate a reviewer
judged it (1-5), which approved entries are overdue for review (not verified for
LLM_KB_STALE_DAYS), and citations that give the date of a stale entry so a reader can judge
it. Approval counts as verification; an entry never verified dates from its creation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet

from bot.api import KnowledgeHit, UserError
from plugins.llm.knowledge import citation
from plugins.llm.models import CannabisKnowledgeBase

MIN_RATING, MAX_RATING = 1, 5


@dataclass(frozen=True)
class Freshness:
    verified_on: date
    accuracy: int | None
    tags: str

    def stale(self, days: int, today: date | None = None) -> bool:
        return (today or datetime.now(UTC).date()) - self.verified_on > timedelta(days=days)


def _verified_on(entry: CannabisKnowledgeBase) -> date:
    return (entry.last_verified_at or entry.created_at).date()


async def freshness_of(ids: Sequence[int]) -> dict[int, Freshness]:
    """One query for the entries a turn cites."""
    if not ids:
        return {}
    rows = await CannabisKnowledgeBase.filter(id__in=list(ids))
    return {e.id: Freshness(_verified_on(e), e.accuracy_rating, e.tags) for e in rows}


def fresh_citation(hit: KnowledgeHit, fresh: Freshness | None, stale_days: int) -> str:
    """`[KB 3] Title — <source>`, plus when it was last verified if that is too long ago."""
    text = citation(hit)
    if fresh is not None and fresh.stale(stale_days):
        text += f" (last verified {fresh.verified_on.isoformat()})"
    return text


async def verify(entry: CannabisKnowledgeBase, reviewer_id: int,
                 accuracy: int | None) -> None:
    if entry.status != "approved" or not entry.active:
        raise UserError(f"Entry {entry.id} is not an approved, active entry; review it first "
                        "with /kb review.")
    if accuracy is not None and not MIN_RATING <= accuracy <= MAX_RATING:
        raise UserError(f"Accuracy is rated {MIN_RATING} (wrong) to {MAX_RATING} (exact).")
    entry.last_verified_at = datetime.now(UTC)
    entry.reviewer_id = reviewer_id
    fields = ["last_verified_at", "reviewer_id", "updated_at"]
    if accuracy is not None:
        entry.accuracy_rating = accuracy
        fields.append("accuracy_rating")
    await entry.save(update_fields=fields)


def _stale_query(guild_id: int, days: int,
                 now: datetime | None = None) -> QuerySet[CannabisKnowledgeBase]:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    overdue = Q(last_verified_at__lt=cutoff) | Q(last_verified_at__isnull=True,
                                                 created_at__lt=cutoff)
    # The starter set (guild NULL) is the team's to keep fresh, not each server's reviewers.
    return CannabisKnowledgeBase.filter(overdue, guild_id=guild_id, status="approved",
                                        active=True)


async def stale_count(guild_id: int, days: int) -> int:
    return await _stale_query(guild_id, days).count()


async def stale_entries(guild_id: int, days: int, *, limit: int = 10
                        ) -> list[CannabisKnowledgeBase]:
    """Overdue entries, the longest-unverified first."""
    query = _stale_query(guild_id, days)
    return await query.order_by("last_verified_at", "created_at", "id").limit(limit)


def _unannounced(guild_id: int, days: int,
                 now: datetime | None) -> QuerySet[CannabisKnowledgeBase]:
    """Overdue entries the daily notice has not named in their current staleness period
    (never named, or named before their last verification)."""
    return _stale_query(guild_id, days, now).filter(
        Q(stale_noticed_at__isnull=True)
        | Q(stale_noticed_at__lt=F("last_verified_at")))


async def unannounced_stale(guild_id: int, days: int, *, now: datetime | None = None,
                            limit: int) -> tuple[list[CannabisKnowledgeBase], int]:
    """Up to `limit` of them, longest-unverified first, and how many there are in all."""
    query = _unannounced(guild_id, days, now)
    entries = await query.order_by("last_verified_at", "created_at", "id").limit(limit)
    total = len(entries) if len(entries) < limit else await query.count()
    return entries, total


async def mark_announced(ids: Sequence[int], now: datetime) -> None:
    await CannabisKnowledgeBase.filter(id__in=list(ids)).update(stale_noticed_at=now)


def stale_line(entry: CannabisKnowledgeBase) -> str:
    rating = f", accuracy {entry.accuracy_rating}/5" if entry.accuracy_rating else ""
    return (f"[KB {entry.id}] {entry.title} — last verified "
            f"{_verified_on(entry).isoformat()}{rating}")
