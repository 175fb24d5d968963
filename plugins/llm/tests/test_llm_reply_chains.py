"""Reply chains, as llmcord does them: replying to one of the bot's answers continues that
answer's conversation; a reply to someone else's conversation is refused without revealing it
— through the fake Discord (which delivers message_reference), the real bot and the fake
OpenAI."""

from __future__ import annotations

from typing import Any

from bot.models import AuditLog
from plugins.llm.followups import NOT_YOURS
from plugins.llm.models import LLMConversation, LLMMessage, LLMReplyLink
from plugins.llm.relay import STREAMING_CURSOR
from plugins.llm.tests.test_llm_discord import open_chat, probe, start_llm, verify

__all__ = ["probe", "start_llm"]  # fixtures used by name below

STRAIN_QUESTION = "Tell me about the strain Blue Dream."


def finished(text: str) -> Any:
    return lambda m: text in m["content"] and not m["content"].endswith(STREAMING_CURSOR) \
        and m["author"].get("bot")


def user_turns(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] != "system"]


async def ask_in_thread(fake_discord: Any, world: Any) -> tuple[Any, dict[str, Any]]:
    """The member's private thread (a 21+ place), and a public /ask answer posted in it."""
    thread = await open_chat(fake_discord, world.member, "hello")
    ix = await fake_discord.slash(world.member, "ask strain", {"name": "Blue Dream"},
                                  channel=thread)
    await ix.response()
    answer = await ix.wait_original(lambda m: bool(m["components"]))
    assert not ix.ephemeral and answer["channel_id"] == str(thread.id)
    return thread, answer


async def test_replying_to_an_answer_continues_its_conversation(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    thread, answer = await ask_in_thread(fake_discord, world)
    mine = await fake_discord.send_message(world.member, thread, "is it good for sleep?",
                                           reply_to=answer)
    reply = await fake_discord.wait_for_message(thread, finished("You said: is it good"))
    # The answer replies to the member's message, pinging nobody.
    assert reply["message_reference"]["message_id"] == mine["id"] and reply["mentions"] == []
    turns = user_turns(fake_openai.chat_requests[-1])
    assert turns[0] == STRAIN_QUESTION and turns[1].startswith(f"You said: {STRAIN_QUESTION}")
    assert turns[2:] == ["is it good for sleep?"]
    # A reply to that reply goes on with the same conversation: a chain.
    await fake_discord.send_message(world.member, thread, "and for pain?", reply_to=reply)
    await fake_discord.wait_for_message(thread, finished("You said: and for pain?"))
    chain = user_turns(fake_openai.chat_requests[-1])
    assert chain[0] == STRAIN_QUESTION and chain[2] == "is it good for sleep?" and (
        chain[-1] == "and for pain?") and len(chain) == 5
    assert "hello" not in chain  # the thread's own conversation is a different one
    asked = await LLMConversation.get(via="ask")
    chat = await LLMConversation.get(via="thread")
    assert (asked.kind, asked.message_count, chat.message_count) == ("strain", 6, 2)
    assert len(fake_openai.chat_requests) == 4


async def test_a_reply_to_the_threads_own_answer_continues_the_thread(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member, "hello")
    answer = next(m for m in thread.messages if m["content"] == "You said: hello")
    await fake_discord.send_message(world.member, thread, "go on", reply_to=answer)
    await fake_discord.wait_for_message(thread, finished("You said: go on"))
    assert user_turns(fake_openai.chat_requests[-1]) == ["hello", "You said: hello", "go on"]
    assert len(fake_openai.chat_requests) == 2


async def test_a_reply_to_someone_elses_conversation_is_refused_politely(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member, world.other, world.admin)
    thread, answer = await ask_in_thread(fake_discord, world)
    # A verified friend the moderator added to the thread replies to the member's answer.
    await fake_discord.add_to_thread(world.admin, thread, world.other)
    requests = len(fake_openai.chat_requests)
    theirs = await fake_discord.send_message(world.other, thread,
                                             "what did they ask you before?", reply_to=answer)
    refusal = await fake_discord.wait_for_message(
        thread, lambda m: bool(m["author"].get("bot")) and m.get("message_reference", {}).get(
            "message_id") == theirs["id"])
    # Nothing of the member's conversation is shown, and nothing went to the model.
    assert refusal["content"] == NOT_YOURS and refusal["mentions"] == []
    assert "Blue Dream" not in refusal["content"] and len(fake_openai.chat_requests) == requests
    assert not await LLMMessage.filter(user_id=world.other.id).exists()
    audit = await AuditLog.filter(action="llm.request", actor_id=world.other.id).first()
    assert audit is not None and audit.details["reason"] == "not_your_conversation"


async def test_deleting_a_members_data_removes_their_answers_links(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    bot = await start_llm()
    verify(probe, world.member)
    thread, answer = await ask_in_thread(fake_discord, world)
    plugin = bot.bot.plugins.plugins["llm"]
    exported = await plugin.export_user_data(world.member.id)
    asked = next(c for c in exported["conversations"] if c["via"] == "ask")
    assert asked["kind"] == "strain" and asked["messages"][0]["content"] == STRAIN_QUESTION
    assert await LLMReplyLink.filter(message_id=int(answer["id"])).exists()

    await plugin.delete_user_data(world.member.id)
    assert not await LLMReplyLink.exists() and not await LLMConversation.exists()
    requests = len(fake_openai.chat_requests)
    await fake_discord.send_message(world.member, thread, "still there?", reply_to=answer)
    # Neither the reply chain nor the thread remembers anything: those go unanswered, and a
    # new question starts from nothing.
    await fake_discord.send_message(world.member, thread, "hello?")
    ix = await fake_discord.slash(world.member, "ask strain", {"name": "OG Kush"},
                                  channel=thread)
    await ix.response()
    await ix.wait_original(lambda m: bool(m["components"]))
    assert len(fake_openai.chat_requests) == requests + 1
    assert user_turns(fake_openai.chat_requests[-1]) == ["Tell me about the strain OG Kush."]


async def test_a_reply_can_carry_a_file(start_llm, world, fake_discord, fake_openai,
                                        probe) -> None:
    await start_llm()
    verify(probe, world.member)
    thread, answer = await ask_in_thread(fake_discord, world)
    await fake_discord.send_message(world.member, thread, "compare with my notes",
                                    reply_to=answer,
                                    attachments=[("notes.txt", b"Blue Dream: 18% THC")])
    await fake_discord.wait_for_message(thread, finished("You said: compare with my notes"))
    turns = user_turns(fake_openai.chat_requests[-1])
    assert turns[0] == STRAIN_QUESTION and turns[-1] == (
        "compare with my notes\n\nAttached file `notes.txt`:\n```\nBlue Dream: 18% THC\n```")
