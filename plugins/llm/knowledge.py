"""The community knowledge base: contributions, admin review, and retrieval ranked by
relevance (PostgreSQL full-text search; token scoring on SQLite). Also the core's
knowledge-search provider, which other plugins reach through `services.knowledge`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tortoise import Tortoise
from tortoise.expressions import F

from bot.api import KnowledgeHit, UserError
from plugins.llm.models import KB_CATEGORIES, CannabisKnowledgeBase

MAX_QUERY_CHARS = 200
MAX_TERMS = 12
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be but by can do for from how i if in is it its me my of on or so "
    "the their there this to was what when where which who why will with you your".split()
)
# Two-letter words worth searching for; other short words match too much by substring.
_SHORT_TERMS = frozenset({"nj", "id", "ph", "co"})
MAX_TITLE = 120
MAX_CONTENT = 4000
MAX_TAGS = 200
MAX_URL = 300


def query_terms(query: str) -> list[str]:
    """Plain words of a query: FTS operators, quotes, wildcards and SQL punctuation are
    dropped here, so nothing a member types is ever interpreted as search syntax."""
    text = unicodedata.normalize("NFKC", query)[:MAX_QUERY_CHARS].lower()
    terms: list[str] = []
    for word in _WORD.findall(text):
        if (len(word) < 3 and word not in _SHORT_TERMS) or word in _STOPWORDS or word in terms:
            continue
        terms.append(word)
    return terms[:MAX_TERMS]


@dataclass(frozen=True)
class EntryDraft:
    category: str
    title: str
    content: str
    tags: str
    source_url: str | None

    @classmethod
    def validated(cls, category: str, title: str, content: str, tags: str,
                  source_url: str | None) -> EntryDraft:
        category = category.strip().lower()
        if category not in KB_CATEGORIES:
            raise UserError(f"Category must be one of: {', '.join(KB_CATEGORIES)}.")
        title, content = title.strip(), content.strip()
        if not title or not content:
            raise UserError("A knowledge entry needs a title and content.")
        if len(title) > MAX_TITLE or len(content) > MAX_CONTENT:
            raise UserError(f"Titles hold {MAX_TITLE} and content {MAX_CONTENT} characters.")
        tags = ", ".join(t.strip().lower() for t in tags.split(",") if t.strip())[:MAX_TAGS]
        url = (source_url or "").strip() or None
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
                raise UserError("The source must be a web address starting with https://.")
        return cls(category, title, content, tags, url)


class KnowledgeBase:
    async def add(self, guild_id: int | None, author_id: int, draft: EntryDraft) -> (
            CannabisKnowledgeBase):
        """A member's contribution: pending until an admin approves it."""
        return await CannabisKnowledgeBase.create(
            guild_id=guild_id, author_id=author_id, status="pending", **draft.__dict__
        )

    async def get(self, guild_id: int | None, entry_id: int) -> CannabisKnowledgeBase:
        entry = await CannabisKnowledgeBase.get_or_none(id=entry_id)
        if entry is None or (entry.guild_id is not None and entry.guild_id != guild_id):
            raise UserError(f"There is no knowledge entry {entry_id} here.")
        return entry

    async def next_pending(self, guild_id: int | None) -> CannabisKnowledgeBase | None:
        return await CannabisKnowledgeBase.filter(guild_id=guild_id, status="pending").order_by(
            "id").first()

    async def pending_count(self, guild_id: int | None) -> int:
        return await CannabisKnowledgeBase.filter(guild_id=guild_id, status="pending").count()

    async def review(self, entry: CannabisKnowledgeBase, reviewer_id: int, decision: str) -> None:
        transitions = {
            "approve": ("approved", True),
            "reject": ("rejected", False),
            "retire": ("retired", False),
        }
        status, active = transitions[decision]
        entry.status, entry.active, entry.reviewer_id = status, active, reviewer_id
        fields = ["status", "active", "reviewer_id", "updated_at"]
        if decision == "approve":  # approving is verifying: the freshness clock restarts
            entry.last_verified_at = datetime.now(UTC)
            fields.append("last_verified_at")
        await entry.save(update_fields=fields)

    async def edit(self, entry: CannabisKnowledgeBase, reviewer_id: int,
                   draft: EntryDraft) -> None:
        for key, value in draft.__dict__.items():
            setattr(entry, key, value)
        entry.reviewer_id = reviewer_id
        await entry.save()

    async def search(self, guild_id: int | None, query: str, limit: int = 5,
                     categories: Sequence[str] = ()) -> list[KnowledgeHit]:
        """Approved, active entries of this guild or the starter set, best first."""
        terms = query_terms(query)
        limit = max(1, min(limit, 25))
        if not terms:
            return []
        conn = Tortoise.get_connection("default")
        if conn.capabilities.dialect == "postgres":
            return await self._search_postgres(conn, guild_id, terms, limit, categories)
        return await self._search_sqlite(conn, guild_id, terms, limit, categories)

    async def _search_postgres(self, conn: Any, guild_id: int | None, terms: list[str],
                               limit: int, categories: Sequence[str]) -> list[KnowledgeHit]:
        # websearch_to_tsquery never raises on syntax, and the terms are plain words joined
        # with "or", so a member's text is only ever data. `search_vector` is a stored,
        # weighted (title A, tags B, content D) tsvector with a GIN index (migration 1).
        params: list[object] = [" or ".join(terms), guild_id, limit]
        category_sql = ""
        if categories:
            category_sql = "AND category = ANY($4::text[])"
            params.append(list(categories))
        sql = f"""
            SELECT id, title, content, category, source_url,
                   ts_rank(search_vector, query) AS score
            FROM llm_knowledge, websearch_to_tsquery('english', $1) AS query
            WHERE search_vector @@ query AND status = 'approved' AND active
              AND (guild_id IS NULL OR guild_id = $2) {category_sql}
            ORDER BY score DESC, id
            LIMIT $3
        """
        rows = await conn.execute_query_dict(sql, params)
        return [_hit(r) for r in rows]

    async def _search_sqlite(self, conn: Any, guild_id: int | None, terms: list[str],
                             limit: int, categories: Sequence[str]) -> list[KnowledgeHit]:
        # Each term is quoted as an FTS5 string, so no FTS operator can come from a member.
        # bm25() is lower-is-better; weights favour title, then tags, then content.
        match = " OR ".join(f'"{term}"' for term in terms)
        params: list[object] = [match, guild_id]
        category_sql = ""
        if categories:
            category_sql = f"AND k.category IN ({', '.join('?' for _ in categories)})"
            params.extend(categories)
        params.append(limit)
        sql = f"""
            SELECT k.id, k.title, k.content, k.category, k.source_url,
                   -bm25(llm_knowledge_fts, 3.0, 2.0, 1.0) AS score
            FROM llm_knowledge_fts JOIN llm_knowledge AS k ON k.id = llm_knowledge_fts.rowid
            WHERE llm_knowledge_fts MATCH ? AND k.status = 'approved' AND k.active
              AND (k.guild_id IS NULL OR k.guild_id = ?) {category_sql}
            ORDER BY bm25(llm_knowledge_fts, 3.0, 2.0, 1.0), k.id
            LIMIT ?
        """
        rows = await conn.execute_query_dict(sql, params)
        return [_hit(r) for r in rows]

    async def count_use(self, entry_ids: Sequence[int]) -> None:
        if entry_ids:
            await CannabisKnowledgeBase.filter(id__in=list(entry_ids)).update(
                usage_count=F("usage_count") + 1)


class KnowledgeProvider:
    """What the core's `services.knowledge` calls (the ui plugin uses it)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    async def search(self, guild_id: int | None, query: str, limit: int) -> list[KnowledgeHit]:
        return await self.kb.search(guild_id, query, limit)


def _hit(row: dict[str, Any]) -> KnowledgeHit:
    return KnowledgeHit(id=row["id"], title=row["title"], content=row["content"],
                        category=row["category"], source_url=row["source_url"],
                        score=float(row["score"]))


def citation(hit: KnowledgeHit) -> str:
    source = f" — <{hit.source_url}>" if hit.source_url else ""
    return f"[KB {hit.id}] {hit.title}{source}"
