"""Members using the assistant through the fake Discord, the real bot and the fake OpenAI."""

from __future__ import annotations

from typing import Any

import pytest

from bot.api import ADULT_NOTE
from bot.models import AuditLog, ComponentState
from growmies_testkit.fake_discord.permissions import Permission
from plugins.llm.models import CannabisKnowledgeBase, LLMConversation
from plugins.llm.relay import STREAMING_CURSOR
from tests.probe_plugin import ProbePlugin, registry_with

EXPIRED = "This control has expired"
PRIVATE_THREAD = 12
# What the core posts when it removes an unverified member from a 21+ thread: names nobody.
THREAD_REMOVED_NOTE = "A member who is not verified 21+ was removed from this thread."


@pytest.fixture
def probe() -> ProbePlugin:
    # The probe plugin stands in for age verification: members in probe.gate.verified are 21+.
    return ProbePlugin()


@pytest.fixture
def start_llm(start_bot: Any, fake_openai: Any, probe: ProbePlugin) -> Any:
    async def start(**overrides: Any) -> Any:
        # The plugin's own settings (ctx.settings), pointing at the fake OpenAI server.
        values = {"base_url": fake_openai.base_url, "api_key": fake_openai.api_key,
                  "model": "growmies-test-model", "timeout": 5.0}
        values.update(overrides)
        return await start_bot(registry=registry_with(probe, allow=["llm"]),
                               plugin_settings={"llm": values})

    return start


def verify(probe: ProbePlugin, *members: Any) -> None:
    probe.gate.verified.update(m.id for m in members)


def text(fake: Any, message: dict[str, Any]) -> str:
    return fake.text_of(message)


def button(card: dict[str, Any], label: str) -> str:
    return next(c["custom_id"] for row in card["components"] for c in row["components"]
                if c.get("label") == label)


async def open_chat(fake_discord: Any, member: Any, message: str = "hello") -> Any:
    ix = await fake_discord.slash(member, "chat new", {"message": message})
    await ix.response()
    thread = fake_discord.get_channel(next(
        t.id for t in member.guild.threads if t.thread_member_ids & {member.id}))
    # The finished answer: while streaming, the message ends with the cursor.
    await fake_discord.wait_for_message(
        thread, lambda m: m["content"].startswith(f"You said: {message}")
        and not m["content"].endswith(STREAMING_CURSOR))
    return thread


async def test_verified_member_chats_in_a_private_thread_with_them(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "chat new", {"message": "hello there"})
    resp = await ix.response()
    assert "Started a conversation in <#" in resp["data"]["content"] and ix.ephemeral
    thread = world.guild.threads[0]
    assert thread.type == PRIVATE_THREAD and not thread.invitable
    assert world.member.id in thread.thread_member_ids
    # Other members do not even see it.
    assert world.other.permissions_in(thread) == 0
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
    assert not conversation.active and conversation.audience == "adults"


@pytest.mark.parametrize("command, options", [
    ("chat new", {"message": "hi"}), ("chat settings", {}), ("ask strain", {"name": "x"}),
    ("ask grow", {"question": "when?"}), ("ask legal", {"question": "limits?"}),
    ("kb search", {"query": "possession"}), ("kb add", {"category": "strains"}),
])
async def test_unverified_member_is_asked_to_verify_everywhere_by_default(
        start_llm, world, fake_discord, fake_openai, command, options) -> None:
    await start_llm()
    ix = await fake_discord.slash(world.member, command, options)
    resp = await ix.response()
    assert "Verify your age" in resp["data"]["content"] and ix.ephemeral
    assert resp["data"]["components"][0]["components"][0]["custom_id"] == "probe:verify"
    assert fake_openai.chat_requests == [] and world.guild.threads == []
    assert await AuditLog.filter(action="age_gate.denied", actor_id=world.member.id).count()


async def test_usage_and_admin_config_are_all_ages(start_llm, world, fake_discord) -> None:
    await start_llm()
    usage = await fake_discord.slash(world.member, "llm usage")
    assert "Your AI usage" in (await usage.response())["data"]["content"]
    config = await fake_discord.slash(world.admin, "llm config")
    content = (await config.response())["data"]["content"]
    assert "General chat: verified 21+ members only" in content


async def test_unverified_post_in_a_21_plus_thread_never_reaches_the_model(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    # A moderator who never verified: Manage Threads lets them see every private thread.
    mods = world.guild.add_role("Mods", permissions=int(Permission.MANAGE_THREADS))
    mod = world.guild.add_member("erin-mod", roles=[mods])
    thread = await open_chat(fake_discord, world.member, "which strain helps with sleep?")
    await fake_discord.send_message(mod, thread, "tell me more about that strain")
    await probe.gate.wait_asked(mod.id)
    await fake_discord.send_message(world.member, thread, "thanks")
    await fake_discord.wait_for_message(thread, lambda m: m["content"] == "You said: thanks")

    assert len(fake_openai.chat_requests) == 2
    sent = [m["content"] for r in fake_openai.chat_requests for m in r["messages"]]
    assert not any("tell me more about that strain" in c for c in sent)
    bot_posts = [m["content"] for m in thread.messages if m["author"].get("bot")]
    assert not any("Verify" in c or "tell me more" in c for c in bot_posts)
    rows = await LLMConversation.get(channel_id=thread.id).prefetch_related("messages")
    assert all(m.user_id != mod.id for m in rows.messages)


async def test_unverified_member_added_to_a_21_plus_thread_is_removed(
        start_llm, world, fake_discord, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member)
    await fake_discord.add_to_thread(world.admin, thread, world.other)
    note = await fake_discord.wait_for_message(
        thread, lambda m: m["content"] == THREAD_REMOVED_NOTE)
    assert world.other.id not in thread.thread_member_ids
    assert world.other.user.username not in note["content"] and not note["mentions"]


async def test_ask_answers_only_the_asker_outside_21_plus_places(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    fake_openai.reply("Adults may possess up to 6 ounces [KB 1].")
    ix = await fake_discord.slash(world.member, "ask legal",
                                  {"question": "How much can I possess in NJ?"})
    await ix.response()
    final = await ix.wait_original(lambda m: "not legal advice" in m["content"])
    assert ix.ephemeral and final["content"].startswith(ADULT_NOTE)
    assert "**Sources**" in final["content"] and "possession and purchase limits" in (
        final["content"])
    assert world.guild.text_channel.messages == []
    audit = await AuditLog.get(action="llm.request")
    assert audit.target == "llm.legal" and audit.details["allowed"] is True
    used = await CannabisKnowledgeBase.get(seed_key="nj-possession-limits")
    assert used.usage_count == 1


async def test_ask_inside_the_members_private_thread_is_posted_there(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member)
    ix = await fake_discord.slash(world.member, "ask strain", {"name": "Blue Dream"},
                                  channel=thread)
    await ix.response()
    final = await ix.wait_original(lambda m: "Educational information" in m["content"])
    assert not ix.ephemeral and not final["content"].startswith(ADULT_NOTE)


async def test_model_output_pings_nobody(start_llm, world, fake_discord, fake_openai,
                                         probe) -> None:
    await start_llm()
    verify(probe, world.member)
    fake_openai.reply(f"Attention @everyone and <@&{world.dj_role.id}> and <@{world.other.id}>")
    ix = await fake_discord.slash(world.member, "chat new", {"message": "make an announcement"})
    await ix.response()
    thread = world.guild.threads[0]
    message = await fake_discord.wait_for_message(
        thread, lambda m: m["content"].startswith("Attention"))
    assert message["mention_everyone"] is False
    assert message["mention_roles"] == [] and message["mentions"] == []


async def test_kb_contribution_needs_the_role_then_admin_review(
        start_llm, world, fake_discord, probe) -> None:
    await start_llm()
    verify(probe, world.member, world.dj, world.admin)
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
    approve = button(card, "Approve")
    # A member pressing the admin's button changes nothing.
    stolen = await fake_discord.click(world.dj, card, approve)
    assert "isn't yours" in (await stolen.response())["data"]["content"]
    click = await fake_discord.click(world.admin, card, approve)
    await click.response()
    await entry.refresh_from_db()
    assert entry.status == "approved" and entry.reviewer_id == world.admin.id

    search = await fake_discord.slash(world.member, "kb search", {"query": "blue dream berry"})
    found = await search.response()
    assert f"[KB {entry.id}] Blue Dream" in text(fake_discord, found["data"]) and search.ephemeral


ACTIONS = {"kb.submit": "kb_form", "kb.edit": "kb_review", "kb.save": "kb_review",
           "kb.approve": "kb_review", "kb.reject": "kb_review", "kb.retire": "kb_review"}


async def test_forged_kb_controls_have_expired(start_llm, world, fake_discord, probe) -> None:
    bot = await start_llm()
    verify(probe, world.admin)
    review = await fake_discord.slash(world.admin, "kb review", {"entry_id": 1})
    card = await review.wait_original()
    rows = {kind: await bot.services.components.create(
        "llm", kind, {"entry_id": 1, "category": "strains"}, owner_id=world.admin.id,
        guild_id=world.guild.id) for kind in ("kb_form", "kb_review")}
    for action, kind in ACTIONS.items():
        wrong = rows["kb_review" if kind == "kb_form" else "kb_form"].id
        for custom_id in (f"llm:{action}", f"llm:{action}:{wrong}"):
            if action in ("kb.submit", "kb.save"):
                ix = await fake_discord.submit_modal(world.admin, custom_id, {
                    "category": "safety", "title": "Forged", "content": "Forged.",
                    "tags": "", "source_url": ""}, message=card)
            else:
                ix = await fake_discord.click(world.admin, card, custom_id)
            resp = await ix.response()
            assert ix.ephemeral and resp["data"]["content"].startswith(EXPIRED), (custom_id, resp)
    assert await CannabisKnowledgeBase.filter(title="Forged").count() == 0
    assert await CannabisKnowledgeBase.filter(status="retired").count() == 0
    assert await ComponentState.filter(id__in=[r.id for r in rows.values()]).count() == 2


@pytest.mark.parametrize("query", [
    "'; DROP TABLE llm_knowledge; --", 'ounces" OR 1=1 --', "poss* & !driving | (x:*)",
    "NEAR(ounces possess) AND \"", "%_%", "\\",
])
async def test_kb_search_treats_syntax_characters_as_text(start_llm, world, fake_discord,
                                                          probe, query) -> None:
    await start_llm()
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "kb search", {"query": query})
    resp = await ix.response()
    assert "Something went wrong" not in text(fake_discord, resp["data"])
    assert await CannabisKnowledgeBase.all().count() >= 6


async def test_other_plugins_search_the_knowledge_base_through_the_core(start_llm,
                                                                         world) -> None:
    # The ui plugin's lookups go through services.knowledge; the llm plugin's setup provides
    # it, with the starter entries it seeds.
    bot = await start_llm()
    hits = await bot.services.knowledge.search(world.guild.id, "driving after an edible", 3)
    assert hits and hits[0].title == "Driving and cannabis"
    assert hits[0].source_url == "https://www.nj.gov/oag/hts/"


async def test_usage_shows_member_totals_and_guild_totals_to_admins(
        start_llm, world, fake_discord, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    await open_chat(fake_discord, world.member)
    mine = await fake_discord.slash(world.member, "llm usage")
    content = (await mine.response())["data"]["content"]
    assert "Today:" in content and "/ 20,000 tokens (1 requests)" in content
    assert "Server this month" not in content and mine.ephemeral
    admin = await fake_discord.slash(world.admin, "llm usage")
    assert "Server this month:** " in fake_discord.text_of(await admin.wait_original())


async def test_settings_show_and_change(start_llm, world, fake_discord, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "chat settings",
                                  {"style": "technical", "history": False})
    content = (await ix.response())["data"]["content"]
    assert "Response style: technical" in content and "History: off" in content
    shown = await fake_discord.slash(world.member, "chat settings")
    assert "Response style: technical" in (await shown.response())["data"]["content"]


async def test_budget_runs_out_mid_conversation_in_the_thread(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    # The first request reserves ~110 prompt + 800 reply tokens and uses ~110; the second,
    # with history, no longer fits.
    cfg = await fake_discord.slash(world.admin, "llm config", {"user_daily_tokens": 1000})
    await cfg.response()
    thread = await open_chat(fake_discord, world.member)
    await fake_discord.send_message(world.member, thread, "tell me more")
    await fake_discord.wait_for_message(thread, lambda m: "daily AI budget" in m["content"])
    assert len(fake_openai.chat_requests) == 1


async def test_a_member_cannot_review_or_change_entries(start_llm, world, fake_discord,
                                                        probe) -> None:
    await start_llm()
    verify(probe, world.member, world.admin)
    ix = await fake_discord.slash(world.member, "kb review", {"entry_id": 1})
    resp = await ix.response()
    assert "Manage Server" in resp["data"]["content"] and ix.ephemeral
    entry = await CannabisKnowledgeBase.get(seed_key="nj-driving")
    review = await fake_discord.slash(world.admin, "kb review", {"entry_id": entry.id})
    card = await review.wait_original()
    click = await fake_discord.click(world.member, card, button(card, "Retire"))
    assert "isn't yours" in (await click.response())["data"]["content"]
    await entry.refresh_from_db()
    assert entry.status == "approved" and entry.active


async def test_admin_rejects_edits_and_retires(start_llm, world, fake_discord, probe) -> None:
    await start_llm()
    verify(probe, world.admin)
    entry = await CannabisKnowledgeBase.create(guild_id=world.guild.id, category="strains",
                                               title="Bad entry", content="Wrong facts.",
                                               author_id=world.dj.id)
    review = await fake_discord.slash(world.admin, "kb review")
    card = await review.wait_original()
    click = await fake_discord.click(world.admin, card, button(card, "Reject"))
    await click.response()
    await entry.refresh_from_db()
    assert entry.status == "rejected" and not entry.active

    driving = await CannabisKnowledgeBase.get(seed_key="nj-driving")
    review = await fake_discord.slash(world.admin, "kb review", {"entry_id": driving.id})
    card = await review.wait_original()
    edit = await fake_discord.click(world.admin, card, button(card, "Edit"))
    modal = await edit.response()
    assert modal["type"] == 9
    saved = await fake_discord.submit_modal(world.admin, modal["data"]["custom_id"], {
        "category": "safety", "title": "Driving and cannabis (updated)",
        "content": "Never drive after using cannabis.", "tags": "driving",
        "source_url": "https://www.nj.gov/oag/hts/"}, message=card)
    assert "Saved" in (await saved.response())["data"]["content"]
    await driving.refresh_from_db()
    assert driving.title == "Driving and cannabis (updated)"

    retire = await fake_discord.click(world.admin, card, button(card, "Retire"))
    await retire.response()
    await driving.refresh_from_db()
    assert driving.status == "retired" and not driving.active
    actions = await AuditLog.filter(action__startswith="llm.kb").values_list("action", flat=True)
    assert sorted(actions) == ["llm.kb_edited", "llm.kb_reviewed", "llm.kb_reviewed"]


async def test_a_hanging_endpoint_still_gets_the_member_a_clear_message(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(timeout=0.3)
    verify(probe, world.member)
    for _ in range(3):  # the first try and both SDK retries
        fake_openai.hang(10)
    ix = await fake_discord.slash(world.member, "ask grow", {"question": "When to harvest?"})
    await ix.response()
    final = await ix.wait_original(lambda m: "took too long" in m["content"], timeout=10)
    assert "⚠️" in final["content"]
    audit = await AuditLog.get(action="llm.request")
    assert audit.details["reason"] == "timeout" and audit.details["allowed"] is False


async def test_chat_new_inside_the_thread_continues_it(start_llm, world, fake_discord,
                                                       fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member, "first")
    again = await fake_discord.slash(world.member, "chat new", {"message": "second"},
                                     channel=thread)
    await again.response()
    final = await again.wait_original(lambda m: m["content"] == "You said: second")
    assert final["channel_id"] == str(thread.id)
    assert len(world.guild.threads) == 1
    history = [m["content"] for m in fake_openai.chat_requests[1]["messages"]]
    assert "first" in history and "You said: first" in history

    verify(probe, world.other)
    other = await fake_discord.slash(world.other, "chat end", channel=thread)
    assert "Only the member who started" in (await other.response())["data"]["content"]
    verify(probe, world.admin)
    moderator = await fake_discord.slash(world.admin, "chat end", channel=thread)
    assert "Conversation ended" in (await moderator.response())["data"]["content"]


async def test_without_an_endpoint_commands_explain_setup(start_bot, world, fake_discord,
                                                          probe) -> None:
    await start_bot(registry=registry_with(probe, allow=["llm"]))
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "chat new", {"message": "hi"})
    resp = await ix.response()
    assert "OPENAI_BASE_URL" in resp["data"]["content"] and ix.ephemeral
    assert world.guild.threads == []


# ----- general chat an admin opened to every member ---------------------------------------------

async def open_general_chat(fake_discord: Any, world: Any) -> None:
    cfg = await fake_discord.slash(world.admin, "llm config", {"general_chat": True})
    content = (await cfg.response())["data"]["content"]
    assert "General chat: open to every member" in content


async def test_general_chat_answers_unverified_members_on_general_topics(
        start_llm, world, fake_discord, fake_openai) -> None:
    from plugins.llm.tests.conftest import topic_model

    await start_llm()
    fake_openai.default_reply = topic_model()
    await open_general_chat(fake_discord, world)
    ix = await fake_discord.slash(world.member, "chat new", {"message": "a pasta recipe?"})
    assert "Started a conversation" in (await ix.response())["data"]["content"]
    thread = world.guild.threads[0]
    # Public: the audience is everyone, so every turn in it is classified.
    assert thread.type == 11
    await fake_discord.wait_for_message(thread, lambda m: m["content"] == "You said: a pasta "
                                        "recipe?")
    assert (await LLMConversation.get(channel_id=thread.id)).audience == "general"


@pytest.mark.parametrize("message", ["got any reefer?", "is Blue Dream nice", "wееd",
                                     "w e e d"])
async def test_general_chat_refuses_cannabis_topics_to_unverified_members(
        start_llm, world, fake_discord, fake_openai, message) -> None:
    await start_llm()
    await open_general_chat(fake_discord, world)
    ix = await fake_discord.slash(world.member, "chat new", {"message": message})
    resp = await ix.response()
    assert "cannabis topics are for verified 21+" in resp["data"]["content"] and ix.ephemeral
    assert resp["data"]["components"][0]["components"][0]["custom_id"] == "probe:verify"
    assert fake_openai.chat_requests == [] and world.guild.threads == []


async def test_general_chat_does_not_open_21_plus_threads_or_ask(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    await open_general_chat(fake_discord, world)
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member, "which strain for sleep?")
    assert thread.type == PRIVATE_THREAD
    # An unverified member running /chat new inside the 21+ thread is refused.
    mods = world.guild.add_role("Mods", permissions=int(Permission.MANAGE_THREADS))
    mod = world.guild.add_member("erin-mod", roles=[mods])
    ix = await fake_discord.slash(mod, "chat new", {"message": "hi"}, channel=thread)
    resp = await ix.response()
    assert "for verified 21+ members" in resp["data"]["content"] and ix.ephemeral
    ask = await fake_discord.slash(mod, "ask grow", {"question": "when?"})
    assert "Verify your age" in (await ask.response())["data"]["content"]
    assert len(fake_openai.chat_requests) == 1
