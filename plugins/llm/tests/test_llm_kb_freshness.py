"""The knowledge base knows how fresh it is: entries not verified for LLM_KB_STALE_DAYS are
flagged to reviewers and cited with their date; a reviewer's verification (with an accuracy
rating) restarts the clock; approving counts as verifying."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.models import AuditLog
from plugins.llm.kb_tool import TOOL_NAME
from plugins.llm.knowledge import KnowledgeBase
from plugins.llm.models import CannabisKnowledgeBase
from plugins.llm.tests.test_llm_discord import probe, start_llm, verify

__all__ = ["probe", "start_llm"]  # fixtures shared with the Discord-level suite

LONG_AGO = datetime.now(UTC) - timedelta(days=400)


async def lounge_entry(guild_id: int, *, verified_at: datetime | None) -> CannabisKnowledgeBase:
    entry = await CannabisKnowledgeBase.create(
        guild_id=guild_id, category="legal", title="Hoboken consumption lounges",
        content="Hoboken licensed its first cannabis consumption lounge; lounges need a "
                "municipal endorsement.", tags="lounges, hoboken", status="approved",
        source_url="https://www.nj.gov/cannabis/")
    await CannabisKnowledgeBase.filter(id=entry.id).update(last_verified_at=verified_at)
    return await CannabisKnowledgeBase.get(id=entry.id)


async def ask(fake_discord: Any, member: Any, question: str) -> str:
    ix = await fake_discord.slash(member, "ask legal", {"question": question})
    await ix.response()
    final = await ix.wait_original(lambda m: "not legal advice" in m["content"])
    return str(final["content"])


async def test_a_stale_entry_is_cited_with_its_date_and_flagged_to_reviewers(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(tools=True, kb_stale_days=180)
    verify(probe, world.member, world.admin)
    entry = await lounge_entry(world.guild.id, verified_at=LONG_AGO)
    fake_openai.tool_call(TOOL_NAME, {"query": "Hoboken lounges"})
    fake_openai.reply(f"Hoboken has a licensed lounge [KB {entry.id}].")
    answer = await ask(fake_discord, world.member, "Are there consumption lounges in Hoboken?")
    result = json.loads(fake_openai.tool_results(fake_openai.chat_requests[1])[0]["content"])
    hit = next(r for r in result["results"] if r["id"] == entry.id)
    assert hit["stale"] is True and hit["last_verified"] == LONG_AGO.date().isoformat()
    assert hit["tags"] == "lounges, hoboken"
    assert (f"[KB {entry.id}] Hoboken consumption lounges — <https://www.nj.gov/cannabis/> "
            f"(last verified {LONG_AGO.date().isoformat()})") in answer

    search = await fake_discord.slash(world.member, "kb search", {"query": "Hoboken lounges"})
    found = fake_discord.text_of((await search.response())["data"])
    assert f"(last verified {LONG_AGO.date().isoformat()})" in found

    # Reviewers are told: in the review queue, and in /kb stale.
    queue = await fake_discord.slash(world.admin, "kb review")
    assert "1 approved entry is overdue for verification: /kb stale." in (
        (await queue.response())["data"]["content"])
    stale = await fake_discord.slash(world.admin, "kb stale")
    listed = (await stale.response())["data"]["content"]
    assert stale.ephemeral and "1 entry not verified for 180 days" in listed
    assert f"[KB {entry.id}] Hoboken consumption lounges — last verified" in listed

    # A reviewer confirms it, with a rating: audited, no longer stale, cited without a date.
    done = await fake_discord.slash(world.admin, "kb verify",
                                    {"entry_id": entry.id, "accuracy": 4})
    assert "accuracy 4/5" in (await done.response())["data"]["content"]
    await entry.refresh_from_db()
    assert entry.accuracy_rating == 4 and entry.reviewer_id == world.admin.id
    assert entry.last_verified_at is not None and entry.last_verified_at > LONG_AGO
    audit = await AuditLog.get(action="llm.kb_verified")
    assert audit.target == str(entry.id) and audit.details == {"accuracy": 4}
    again = await fake_discord.slash(world.admin, "kb stale")
    assert "verified in the last 180 days" in (await again.response())["data"]["content"]
    fake_openai.tool_call(TOOL_NAME, {"query": "Hoboken lounges"})
    fake_openai.reply(f"Yes [KB {entry.id}].")
    answer = await ask(fake_discord, world.member, "Lounges in Hoboken?")
    assert f"[KB {entry.id}] Hoboken consumption lounges" in answer
    assert "last verified" not in answer


async def test_context_stuffing_cites_stale_entries_with_their_date_too(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(kb_stale_days=30)  # no tools: entries go into the prompt
    verify(probe, world.member)
    entry = await lounge_entry(world.guild.id, verified_at=LONG_AGO)
    answer = await ask(fake_discord, world.member, "consumption lounges in Hoboken?")
    assert "tools" not in fake_openai.chat_requests[0]
    assert f"(last verified {LONG_AGO.date().isoformat()})" in answer
    assert f"[KB {entry.id}]" in answer


async def test_approving_verifies_and_only_approved_entries_can_be_verified(
        start_llm, world, fake_discord, probe) -> None:
    await start_llm()
    verify(probe, world.admin)
    kb = KnowledgeBase()
    entry = await lounge_entry(world.guild.id, verified_at=None)
    await CannabisKnowledgeBase.filter(id=entry.id).update(status="pending")
    refused = await fake_discord.slash(world.admin, "kb verify", {"entry_id": entry.id})
    assert "not an approved, active entry" in (await refused.response())["data"]["content"]
    await entry.refresh_from_db()
    await kb.review(entry, world.admin.id, "approve")
    await entry.refresh_from_db()
    assert entry.status == "approved" and entry.last_verified_at is not None
    # Starter entries belong to the team, not to each server's reviewers.
    starter = await CannabisKnowledgeBase.get(seed_key="nj-driving")
    team = await fake_discord.slash(world.admin, "kb verify", {"entry_id": starter.id})
    assert "Growmies team" in (await team.response())["data"]["content"]
