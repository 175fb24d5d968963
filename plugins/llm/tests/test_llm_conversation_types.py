"""Typed conversations (general, cannabis education, strain advice, legal information), /ask
answers kept as conversations with a Follow up button, and idle conversations closing —
through the fake Discord, the real bot and the fake OpenAI."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from plugins.llm.conversation_types import TYPES
from plugins.llm.models import LLMConversation, LLMMessage
from plugins.llm.relay import STREAMING_CURSOR
from plugins.llm.service import CANNABIS_TOPIC_REFUSAL
from plugins.llm.tests.test_llm_discord import open_chat, probe, start_llm, verify

__all__ = ["probe", "start_llm"]  # fixtures used by name below


def finished(text: str) -> Any:
    return lambda m: m["content"].startswith(text) and not m["content"].endswith(
        STREAMING_CURSOR)


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")


def cited_categories(body: dict[str, Any]) -> set[str]:
    """Categories of the knowledge entries put in front of the model."""
    return set(re.findall(r"\[KB \d+\] [^\n]*?\((\w+)\):", system_text(body)))


def button_id(message: dict[str, Any], label: str) -> str:
    return next(c["custom_id"] for row in message["components"] for c in row["components"]
                if c.get("label") == label)


async def make_idle(conversation_id: int, minutes: int = 61) -> None:
    past = datetime.now(UTC) - timedelta(minutes=minutes)
    await LLMConversation.filter(id=conversation_id).update(updated_at=past)


async def test_a_legal_conversation_keeps_its_instructions_and_knowledge_scope(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "chat new", {
        "message": "How much can I possess and can I grow at home?", "type": "legal"})
    await ix.response()
    thread = world.guild.threads[0]
    await fake_discord.wait_for_message(thread, finished("You said: How much"), since=0)
    await fake_discord.send_message(world.member, thread, "and public consumption?")
    await fake_discord.wait_for_message(thread, finished("You said: and public consumption"))

    first, second = fake_openai.chat_requests
    for body in (first, second):
        assert TYPES["legal"].instructions in system_text(body)
        # Legal scope: legal and safety entries only, never the cultivation one.
        assert cited_categories(body) and cited_categories(body) <= {"legal", "safety"}
    conversation = await LLMConversation.get(channel_id=thread.id)
    assert conversation.kind == "legal" and conversation.via == "thread"


async def test_each_type_searches_its_own_knowledge(start_llm, world, fake_discord,
                                                    fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    question = "cannabis possession limits and home cultivation"
    for kind in ("chat", "strain", "education"):
        ix = await fake_discord.slash(world.member, "ask question",
                                      {"question": question, "type": kind})
        await ix.response()
        await ix.wait_original(lambda m: "You said" in m["content"])
    general, strain, education = (cited_categories(b) for b in fake_openai.chat_requests)
    assert {"legal", "cultivation"} <= general  # the general type searches everything
    assert not strain & {"legal", "cultivation"}
    assert "cultivation" in education and "legal" not in education
    assert TYPES["strain"].instructions in system_text(fake_openai.chat_requests[1])
    kinds = await LLMConversation.filter(via="ask").order_by("id").values_list("kind",
                                                                                flat=True)
    assert kinds == ["chat", "strain", "education"]


async def test_an_ask_answer_is_kept_and_followed_up_through_its_button(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member, world.other)
    ix = await fake_discord.slash(world.member, "ask legal",
                                  {"question": "Can I smoke in a park?"})
    await ix.response()
    answer = await ix.wait_original(lambda m: bool(m["components"]))
    assert ix.ephemeral and "You said: Can I smoke in a park?" in answer["content"]
    follow = button_id(answer, "Follow up")

    # Another member can't drive it (they could only see it if it were public).
    stolen = await fake_discord.click(world.other, answer, follow)
    assert "isn't yours" in (await stolen.response())["data"]["content"]

    click = await fake_discord.click(world.member, answer, follow)
    modal = await click.response()
    assert modal["type"] == 9
    sent = await fake_discord.submit_modal(world.member, modal["data"]["custom_id"],
                                           {"question": "What about my backyard?"},
                                           message=answer)
    await sent.response()
    reply = await sent.wait_original(lambda m: "backyard" in m["content"]
                                     and bool(m["components"]))
    assert sent.ephemeral and "not legal advice" in reply["content"]
    history = [m["content"] for m in fake_openai.chat_requests[-1]["messages"]
               if m["role"] != "system"]
    assert history[0] == "Can I smoke in a park?" and history[-1] == "What about my backyard?"
    assert history[1].startswith("You said: Can I smoke in a park?")
    conversation = await LLMConversation.get(user_id=world.member.id)
    assert (conversation.via, conversation.kind, conversation.message_count) == ("ask",
                                                                                 "legal", 4)


async def test_unverified_members_cannot_pick_a_cannabis_type_in_general_chat(
        start_llm, world, fake_discord, fake_openai) -> None:
    from plugins.llm.tests.test_llm_discord import open_general_chat

    await start_llm()
    await open_general_chat(fake_discord, world)
    ix = await fake_discord.slash(world.member, "chat new",
                                  {"message": "what are my rights?", "type": "legal"})
    resp = await ix.response()
    assert resp["data"]["content"] == CANNABIS_TOPIC_REFUSAL and ix.ephemeral
    assert fake_openai.chat_requests == [] and world.guild.threads == []


async def test_an_idle_thread_conversation_closes_says_so_and_the_next_message_starts_anew(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    bot = await start_llm()
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member, "remember the word banana")
    old = await LLMConversation.get(channel_id=thread.id)
    await make_idle(old.id, minutes=59)
    plugin = bot.bot.plugins.plugins["llm"]
    assert await plugin.idle.sweep() == 0  # 59 minutes: still open
    await make_idle(old.id)
    assert await plugin.idle.sweep() == 1
    notice = await fake_discord.wait_for_message(thread, since=0, predicate=lambda m: (
        m["content"].startswith("💤 This conversation closed after 60 minutes")))
    assert notice["allowed_mentions"] == {"parse": []}
    await old.refresh_from_db()
    assert not old.active and old.closed_reason == "idle"

    await fake_discord.send_message(world.member, thread, "what was the word?")
    await fake_discord.wait_for_message(thread, finished("You said: what was the word?"))
    restarted = [m["content"] for m in thread.messages if "starts a new one" in m["content"]]
    assert len(restarted) == 1 and restarted[0].startswith("💤 Your earlier conversation")
    sent = [m["content"] for m in fake_openai.chat_requests[-1]["messages"]]
    assert not any("banana" in c for c in sent)  # the old conversation is not remembered
    new = await LLMConversation.get(channel_id=thread.id, active=True)
    assert new.id != old.id and (new.user_id, new.kind) == (old.user_id, old.kind)

    # Idle for two days (the bot was down): closed without a notice, which would unarchive
    # a thread Discord archived after a day.
    await make_idle(new.id, minutes=2 * 24 * 60)
    messages = len(thread.messages)
    assert await plugin.idle.sweep() == 1
    assert len(thread.messages) == messages


async def test_an_ended_thread_stays_closed_and_a_late_follow_up_starts_anew(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member, "hi")
    end = await fake_discord.slash(world.member, "chat end", channel=thread)
    await end.response()
    await fake_discord.send_message(world.member, thread, "still there?")
    assert len(fake_openai.chat_requests) == 1

    # An /ask conversation idle for over an hour: its Follow up starts a new one, and says so
    # (the sweep had not run yet: the check is made when the follow-up arrives too).
    ix = await fake_discord.slash(world.member, "ask grow", {"question": "When to flip?"})
    await ix.response()
    answer = await ix.wait_original(lambda m: bool(m["components"]))
    asked = await LLMConversation.get(via="ask")
    await make_idle(asked.id)
    click = await fake_discord.click(world.member, answer, button_id(answer, "Follow up"))
    modal = await click.response()
    sent = await fake_discord.submit_modal(world.member, modal["data"]["custom_id"],
                                           {"question": "And after that?"}, message=answer)
    await sent.response()
    shown = await sent.wait_original(lambda m: bool(m["components"]))
    assert "💤 Your earlier conversation closed after 60 minutes without messages, so this " \
        "starts a new one (it doesn't remember the old one).\nYou said: And after that?" in (
            shown["content"])
    history = [m["content"] for m in fake_openai.chat_requests[-1]["messages"]
               if m["role"] != "system"]
    assert history == ["And after that?"]
    await asked.refresh_from_db()
    assert asked.closed_reason == "idle"
    assert await LLMMessage.filter(conversation__via="ask", conversation__active=True).count() \
        == 2
