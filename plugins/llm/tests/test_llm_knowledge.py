"""Knowledge base: ranking, review states, guild scoping, hostile queries, the core provider,
seeding, retention and member-data hooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.api import KnowledgeProvider as CoreKnowledgeProvider
from bot.api import UserError
from plugins.llm.conversations import (
    ConversationStore,
    cleanup_expired_content,
    delete_user_data,
    export_user_data,
)
from plugins.llm.knowledge import EntryDraft, KnowledgeBase, KnowledgeProvider, query_terms
from plugins.llm.models import (
    CannabisKnowledgeBase,
    LLMConversation,
    LLMGuildConfig,
    LLMMessage,
    LLMUsage,
    LLMUserPreferences,
)
from plugins.llm.seed_data import STARTER_ENTRIES, seed_starter_entries

GUILD, OTHER_GUILD, AUTHOR, ADMIN = 1, 2, 10, 20


def draft(title: str, content: str, tags: str = "", category: str = "strains") -> EntryDraft:
    return EntryDraft.validated(category, title, content, tags, "https://example.org/x")


async def approved(kb: KnowledgeBase, guild: int | None, title: str, content: str,
                   tags: str = "") -> CannabisKnowledgeBase:
    entry = await kb.add(guild, AUTHOR, draft(title, content, tags))
    await kb.review(entry, ADMIN, "approve")
    return entry


async def test_search_ranks_title_matches_first_and_only_approved_active(db) -> None:
    kb = KnowledgeBase()
    body = await approved(kb, GUILD, "Terpenes overview", "Blue Dream is mentioned here once.")
    title = await approved(kb, GUILD, "Blue Dream", "A sativa-leaning hybrid.", "sativa")
    pending = await kb.add(GUILD, AUTHOR, draft("Blue Dream clone", "Pending entry."))
    retired = await approved(kb, GUILD, "Blue Dream old", "Outdated.")
    await kb.review(retired, ADMIN, "retire")
    hits = await kb.search(GUILD, "blue dream", 5)
    assert [h.id for h in hits] == [title.id, body.id]
    assert pending.id not in [h.id for h in hits]


async def test_search_sees_own_guild_and_starter_entries_only(db) -> None:
    kb = KnowledgeBase()
    await seed_starter_entries()
    mine = await approved(kb, GUILD, "Possession tips", "Keep receipts for possession.")
    theirs = await approved(kb, OTHER_GUILD, "Possession elsewhere", "possession")
    ids = [h.id for h in await kb.search(GUILD, "possession", 10)]
    assert mine.id in ids and theirs.id not in ids
    starter = await CannabisKnowledgeBase.get(seed_key="nj-possession-limits")
    assert starter.id in ids


@pytest.mark.parametrize("query", [
    "'; DROP TABLE llm_knowledge; --", 'dream" OR 1=1 --', "dre* & !x | (y:*) NEAR(a b)",
    '"unterminated', "%_%", "\\", "col:value", "^start", "))((", "",
])
async def test_hostile_queries_are_only_data(db, query: str) -> None:
    kb = KnowledgeBase()
    entry = await approved(kb, GUILD, "Blue Dream", "A sativa-leaning hybrid.")
    hits = await kb.search(GUILD, query + " dream", 5)
    assert [h.id for h in hits] == [entry.id]
    assert await CannabisKnowledgeBase.all().count() == 1


def test_query_terms_drop_operators_and_stopwords() -> None:
    assert query_terms('What is "Blue-Dream" AND (kush)* in NJ?') == [
        "blue", "dream", "kush", "nj"]


async def test_the_provider_answers_the_core_knowledge_protocol(db) -> None:
    # What other plugins reach through services.knowledge (the running bot's search is
    # checked in test_llm_discord).
    await seed_starter_entries()
    provider: CoreKnowledgeProvider = KnowledgeProvider(KnowledgeBase())
    hits = await provider.search(GUILD, "driving after an edible", 3)
    assert hits and hits[0].title == "Driving and cannabis"
    assert hits[0].source_url == "https://www.nj.gov/oag/hts/"


async def test_seed_is_idempotent_and_every_entry_has_a_source(db) -> None:
    assert await seed_starter_entries() == len(STARTER_ENTRIES)
    assert await seed_starter_entries() == 0
    entries = await CannabisKnowledgeBase.all()
    assert len(entries) == len(STARTER_ENTRIES)
    assert all(e.status == "approved" and e.source_url.startswith("https://www.") for e in
               entries)
    titles = " ".join(e.title.lower() for e in entries)
    for topic in ("possession", "public consumption", "driving", "home cultivation", "safety"):
        assert topic in titles


async def test_entry_validation_messages() -> None:
    with pytest.raises(UserError, match="Category must be one of"):
        EntryDraft.validated("recipes", "t", "c", "", None)
    with pytest.raises(UserError, match="title and content"):
        EntryDraft.validated("legal", " ", "c", "", None)
    with pytest.raises(UserError, match="https://"):
        EntryDraft.validated("legal", "t", "c", "", "javascript:alert(1)")


async def test_retention_cleanup_deletes_old_content_per_guild(db) -> None:
    store = ConversationStore()
    await LLMGuildConfig.create(guild_id=OTHER_GUILD, retention_days=7)
    default = await store.start(guild_id=GUILD, user_id=AUTHOR, channel_id=1, title="a")
    short = await store.start(guild_id=OTHER_GUILD, user_id=AUTHOR, channel_id=2, title="b")
    now = datetime.now(UTC)
    for conversation in (default, short):
        for age in (1, 10, 40):
            row = await LLMMessage.create(conversation=conversation, role="user",
                                          content=f"{age} days old")
            await LLMMessage.filter(id=row.id).update(created_at=now - timedelta(days=age))
    assert await cleanup_expired_content(now) == 3
    kept = await LLMMessage.exclude(content="").values_list("conversation_id", "content")
    assert sorted(kept) == sorted([(default.id, "1 days old"), (default.id, "10 days old"),
                                   (short.id, "1 days old")])
    assert await LLMMessage.all().count() == 6, "rows stay for counts; only content goes"


async def test_delete_and_export_user_data(db) -> None:
    kb = KnowledgeBase()
    store = ConversationStore()
    conversation = await store.start(guild_id=GUILD, user_id=AUTHOR, channel_id=1, title="a")
    await LLMMessage.create(conversation=conversation, user_id=AUTHOR, role="user",
                            content="hello")
    await LLMUserPreferences.create(user_id=AUTHOR, response_style="casual")
    await LLMUsage.create(guild_id=GUILD, user_id=AUTHOR, day=datetime.now(UTC).date(),
                          prompt_tokens=5)
    entry = await approved(kb, GUILD, "Mine", "An entry I wrote.")
    exported = await export_user_data(AUTHOR)
    assert exported["conversations"][0]["messages"][0]["content"] == "hello"
    assert exported["preferences"]["response_style"] == "casual"
    assert exported["knowledge_entries"] == [entry.id]
    assert await delete_user_data(AUTHOR) == 4
    assert not await LLMConversation.exists(user_id=AUTHOR)
    assert not await LLMMessage.all().exists()
    # The token counters stay: a deletion must not hand out a fresh budget.
    assert (await LLMUsage.get(user_id=AUTHOR)).prompt_tokens == 5
    await entry.refresh_from_db()
    assert entry.author_id is None and entry.status == "approved"

