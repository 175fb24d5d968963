"""Members using the assistant through the fake Discord, the real bot and the fake OpenAI."""

from __future__ import annotations

from typing import Any

import pytest

from bot.models import AuditLog
from plugins.llm.models import CannabisKnowledgeBase, LLMConversation
from tests.probe_plugin import ProbePlugin, registry_with


@pytest.fixture
def probe() -> ProbePlugin:
    # The probe plugin stands in for age verification: members in probe.gate.verified are 21+.
    return ProbePlugin()


@pytest.fixture
def start_llm(start_bot: Any, fake_openai: Any, probe: ProbePlugin) -> Any:
    async def start(**overrides: Any) -> Any:
        values = {"openai_base_url": fake_openai.base_url, "openai_api_key": fake_openai.api_key,
                  "openai_model": "growmies-test-model", "openai_timeout": 5.0}
        values.update(overrides)
        return await start_bot(registry=registry_with(probe, allow=["llm"]), **values)

    return start


def text(fake: Any, message: dict[str, Any]) -> str:
    return fake.text_of(message)


async def test_chat_new_opens_a_thread_streams_and_continues(start_llm, world, fake_discord,
                                                             fake_openai) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, "chat new", {"message": "hello there"})
    resp = await ix.response()
    assert "Started a conversation in <#" in resp["data"]["content"] and ix.ephemeral
    thread = world.guild.threads[0]
    await fake_discord.wait_for_message(
        thread, lambda m: m["content"] == "You said: hello there")
    await fake_discord.send_message(world.member, thread, "and a follow-up")
    await fake_discord.wait_for_message(
        thread, lambda m: m["content"] == "You said: and a follow-up")
    second = fake_openai.chat_requests[1]["messages"]
    assert [m["content"] for m in second if m["role"] != "system"] == [
        "hello there", "You said: hello there", "and a follow-up"]

    end = await fake_discord.slash(world.member, "chat end", channel=thread)
    assert "Conversation ended" in (await end.response())["data"]["content"]
    conversation = await LLMConversation.get(channel_id=thread.id)
    assert not conversation.active


async def test_without_an_endpoint_commands_explain_setup(start_bot, world, fake_discord,
                                                          probe) -> None:
    await start_bot(registry=registry_with(probe, allow=["llm"]))
    ix = await fake_discord.slash(world.member, "chat new", {"message": "hi"})
    resp = await ix.response()
    assert "OPENAI_BASE_URL" in resp["data"]["content"] and ix.ephemeral
    assert world.guild.threads == []


async def test_unverified_member_asking_about_a_strain_is_told_to_verify(
        start_llm, world, fake_discord, fake_openai) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, "ask strain", {"name": "Blue Dream"})
    resp = await ix.response()
    assert "Verify your age" in resp["data"]["content"] and ix.ephemeral
    assert resp["data"]["components"][0]["components"][0]["custom_id"] == "probe:verify"
    assert fake_openai.chat_requests == []
    denied = await AuditLog.get(action="age_gate.denied")
    assert denied.target == "llm.strain" and denied.actor_id == world.member.id


async def test_verified_legal_question_cites_sources_with_disclaimer(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    probe.gate.verified.add(world.member.id)
    fake_openai.reply("Adults may possess up to 6 ounces [KB 1].")
    ix = await fake_discord.slash(world.member, "ask legal",
                                  {"question": "How much can I possess in NJ?"})
    await ix.response()
    final = await ix.wait_original(lambda m: "not legal advice" in m["content"])
    assert "**Sources**" in final["content"]
    assert "possession and purchase limits" in final["content"]
    audit = await AuditLog.get(action="llm.request")
    assert audit.target == "llm.legal" and audit.details["allowed"] is True
    used = await CannabisKnowledgeBase.get(seed_key="nj-possession-limits")
    assert used.usage_count == 1


async def test_model_output_pings_nobody(start_llm, world, fake_discord, fake_openai) -> None:
    await start_llm()
    fake_openai.reply(f"Attention @everyone and <@&{world.dj_role.id}> and <@{world.other.id}>")
    ix = await fake_discord.slash(world.member, "chat new", {"message": "make an announcement"})
    await ix.response()
    thread = world.guild.threads[0]
    message = await fake_discord.wait_for_message(
        thread, lambda m: m["content"].startswith("Attention"))
    assert message["mention_everyone"] is False
    assert message["mention_roles"] == [] and message["mentions"] == []


async def test_kb_contribution_needs_the_role_then_admin_review(
        start_llm, world, fake_discord) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, "kb add", {"category": "strains"})
    resp = await ix.response()
    assert "contributor role" in resp["data"]["content"] and ix.ephemeral

    cfg = await fake_discord.slash(world.admin, "llm config", {"kb_role": world.dj_role})
    await cfg.response()
    ix = await fake_discord.slash(world.dj, "kb add", {"category": "strains"})
    resp = await ix.response()
    assert resp["type"] == 9, "a modal opens"
    submit = await fake_discord.submit_modal(world.dj, resp["data"]["custom_id"], {
        "title": "Blue Dream", "content": "A sativa-leaning hybrid with berry terpenes.",
        "tags": "sativa, hybrid", "source_url": "https://www.leafly.com/strains/blue-dream"})
    assert "pending review" in (await submit.response())["data"]["content"]
    entry = await CannabisKnowledgeBase.get(title="Blue Dream")
    assert entry.status == "pending" and entry.author_id == world.dj.id

    review = await fake_discord.slash(world.admin, "kb review")
    card = await review.wait_original()
    approve = next(c["custom_id"] for row in card["components"] for c in row["components"]
                   if c.get("label") == "Approve")
    # A member pressing the admin's button changes nothing.
    stolen = await fake_discord.click(world.dj, card, approve)
    assert "isn't yours" in (await stolen.response())["data"]["content"]
    click = await fake_discord.click(world.admin, card, approve)
    await click.response()
    await entry.refresh_from_db()
    assert entry.status == "approved" and entry.reviewer_id == world.admin.id

    search = await fake_discord.slash(world.member, "kb search", {"query": "blue dream berry"})
    found = await search.response()
    assert f"[KB {entry.id}] Blue Dream" in text(fake_discord, found["data"])


@pytest.mark.parametrize("query", [
    "'; DROP TABLE llm_knowledge; --", 'ounces" OR 1=1 --', "poss* & !driving | (x:*)",
    "NEAR(ounces possess) AND \"", "%_%", "\\",
])
async def test_kb_search_treats_syntax_characters_as_text(start_llm, world, fake_discord,
                                                          query) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, "kb search", {"query": query})
    resp = await ix.response()
    assert "Something went wrong" not in text(fake_discord, resp["data"])
    assert await CannabisKnowledgeBase.all().count() >= 6


async def test_usage_shows_member_totals_and_guild_totals_to_admins(
        start_llm, world, fake_discord) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, "chat new", {"message": "hello"})
    await ix.response()
    thread = world.guild.threads[0]
    await fake_discord.wait_for_message(thread, lambda m: m["content"] == "You said: hello")
    mine = await fake_discord.slash(world.member, "chat usage")
    content = (await mine.response())["data"]["content"]
    assert "Today:" in content and "/ 20,000 tokens (1 requests)" in content
    assert "Server this month" not in content and mine.ephemeral
    admin = await fake_discord.slash(world.admin, "chat usage")
    assert "Server this month:** " in (await admin.response())["data"]["content"]


async def test_settings_show_and_change(start_llm, world, fake_discord) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, "chat settings",
                                  {"style": "technical", "history": False})
    content = (await ix.response())["data"]["content"]
    assert "Response style: technical" in content and "History: off" in content
    shown = await fake_discord.slash(world.member, "chat settings")
    assert "Response style: technical" in (await shown.response())["data"]["content"]


async def test_budget_runs_out_mid_conversation_in_the_thread(
        start_llm, world, fake_discord, fake_openai) -> None:
    await start_llm()
    cfg = await fake_discord.slash(world.admin, "llm config", {"user_daily_tokens": 20})
    await cfg.response()
    ix = await fake_discord.slash(world.member, "chat new", {"message": "hello"})
    await ix.response()
    thread = world.guild.threads[0]
    await fake_discord.wait_for_message(thread, lambda m: m["content"] == "You said: hello")
    await fake_discord.send_message(world.member, thread, "tell me more")
    await fake_discord.wait_for_message(thread, lambda m: "daily AI budget" in m["content"])
    assert len(fake_openai.chat_requests) == 1


async def test_a_member_cannot_review_or_change_entries(start_llm, world, fake_discord) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, "kb review", {"entry_id": 1})
    resp = await ix.response()
    assert "Manage Server" in resp["data"]["content"] and ix.ephemeral
    entry = await CannabisKnowledgeBase.get(seed_key="nj-driving")
    review = await fake_discord.slash(world.admin, "kb review", {"entry_id": entry.id})
    card = await review.wait_original()
    retire = next(c["custom_id"] for row in card["components"] for c in row["components"]
                  if c.get("label") == "Retire")
    click = await fake_discord.click(world.member, card, retire)
    assert "isn't yours" in (await click.response())["data"]["content"]
    await entry.refresh_from_db()
    assert entry.status == "approved" and entry.active


async def test_admin_rejects_edits_and_retires(start_llm, world, fake_discord) -> None:
    await start_llm()
    entry = await CannabisKnowledgeBase.create(guild_id=world.guild.id, category="strains",
                                               title="Bad entry", content="Wrong facts.",
                                               author_id=world.dj.id)
    review = await fake_discord.slash(world.admin, "kb review")
    card = await review.wait_original()
    buttons = {c["label"]: c["custom_id"] for row in card["components"]
               for c in row["components"]}
    click = await fake_discord.click(world.admin, card, buttons["Reject"])
    await click.response()
    await entry.refresh_from_db()
    assert entry.status == "rejected" and not entry.active

    driving = await CannabisKnowledgeBase.get(seed_key="nj-driving")
    review = await fake_discord.slash(world.admin, "kb review", {"entry_id": driving.id})
    card = await review.wait_original()
    buttons = {c["label"]: c["custom_id"] for row in card["components"]
               for c in row["components"]}
    edit = await fake_discord.click(world.admin, card, buttons["Edit"])
    modal = await edit.response()
    assert modal["type"] == 9
    saved = await fake_discord.submit_modal(world.admin, modal["data"]["custom_id"], {
        "category": "safety", "title": "Driving and cannabis (updated)",
        "content": "Never drive after using cannabis.", "tags": "driving",
        "source_url": "https://www.nj.gov/oag/hts/"}, message=card)
    assert "Saved" in (await saved.response())["data"]["content"]
    await driving.refresh_from_db()
    assert driving.title == "Driving and cannabis (updated)"

    retire = await fake_discord.click(world.admin, card, buttons["Retire"])
    await retire.response()
    await driving.refresh_from_db()
    assert driving.status == "retired" and not driving.active
    actions = await AuditLog.filter(action__startswith="llm.kb").values_list("action", flat=True)
    assert sorted(actions) == ["llm.kb_edited", "llm.kb_reviewed", "llm.kb_reviewed"]


async def test_a_hanging_endpoint_still_gets_the_member_a_clear_message(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(openai_timeout=0.3)
    probe.gate.verified.add(world.member.id)
    for _ in range(3):  # the first try and both SDK retries
        fake_openai.hang(10)
    ix = await fake_discord.slash(world.member, "ask grow", {"question": "When to harvest?"})
    await ix.response()
    final = await ix.wait_original(lambda m: "took too long" in m["content"], timeout=10)
    assert final["content"].startswith("⚠️")
    audit = await AuditLog.get(action="llm.request")
    assert audit.details["reason"] == "timeout" and audit.details["allowed"] is False


async def test_chat_new_inside_the_thread_continues_it(start_llm, world, fake_discord,
                                                       fake_openai) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, "chat new", {"message": "first"})
    await ix.response()
    thread = world.guild.threads[0]
    await fake_discord.wait_for_message(thread, lambda m: m["content"] == "You said: first")
    again = await fake_discord.slash(world.member, "chat new", {"message": "second"},
                                     channel=thread)
    await again.response()
    final = await again.wait_original(lambda m: m["content"] == "You said: second")
    assert final["channel_id"] == str(thread.id)
    assert len(world.guild.threads) == 1
    history = [m["content"] for m in fake_openai.chat_requests[1]["messages"]]
    assert "first" in history and "You said: first" in history


async def test_cannabis_reply_in_a_thread_by_an_unverified_member_shows_verify(
        start_llm, world, fake_discord, fake_openai) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, "chat new", {"message": "hello"})
    await ix.response()
    thread = world.guild.threads[0]
    await fake_discord.wait_for_message(thread, lambda m: m["content"] == "You said: hello")
    await fake_discord.send_message(world.member, thread, "which strain helps with sleep?")
    denial = await fake_discord.wait_for_message(
        thread, lambda m: "Verify your age" in m["content"])
    assert denial["components"][0]["components"][0]["custom_id"] == "probe:verify"
    assert len(fake_openai.chat_requests) == 1

    other = await fake_discord.slash(world.other, "chat end", channel=thread)
    assert "Only the member who started" in (await other.response())["data"]["content"]
