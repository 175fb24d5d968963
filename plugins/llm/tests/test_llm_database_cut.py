"""The database goes away under the assistant's new paths: a reply to an answer, the Follow up
button, and the background sweeps. Nobody's words reach the model while their conversation,
budget and allow-lists can't be read, they are told why, and all of it works again once the
database is back."""

from __future__ import annotations

import asyncio

from growmies_testkit.databases import database_refused

from bot.api import DatabaseUnavailable
from plugins.llm.tests.test_llm_discord import probe, start_llm, verify
from plugins.llm.tests.test_llm_conversation_types import button_id
from plugins.llm.tests.test_llm_reply_chains import ask_in_thread, finished

__all__ = ["probe", "start_llm"]  # fixtures used by name below

DOWN = DatabaseUnavailable().message


async def test_a_reply_to_an_answer_during_a_cut_is_told_why_and_never_reaches_the_model(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    thread, answer = await ask_in_thread(fake_discord, world)
    calls = len(fake_openai.chat_requests)
    with database_refused():
        mine = await fake_discord.send_message(world.member, thread, "is it good for sleep?",
                                               reply_to=answer)
        told = await asyncio.wait_for(fake_discord.wait_for_message(
            thread, lambda m: m["content"] == DOWN), 5)
    assert told["message_reference"]["message_id"] == mine["id"] and told["mentions"] == []
    assert len(fake_openai.chat_requests) == calls
    # Back: the same reply goes on with the conversation.
    await fake_discord.send_message(world.member, thread, "is it good for sleep?",
                                    reply_to=answer)
    await fake_discord.wait_for_message(thread, finished("You said: is it good"))
    assert len(fake_openai.chat_requests) == calls + 1


async def answer_of(ix) -> str:
    resp = await ix.response()
    if resp["type"] in (5, 6):
        return str((await ix.wait_followups(1))[-1].get("content") or "")
    return str((resp.get("data") or {}).get("content") or "")


async def test_a_follow_up_or_an_ask_during_a_cut_is_refused_clearly_without_a_model_call(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "ask legal",
                                  {"question": "Can I smoke in a park?"})
    await ix.response()
    answer = await ix.wait_original(lambda m: bool(m["components"]))
    follow = button_id(answer, "Follow up")
    modal = await (await fake_discord.click(world.member, answer, follow)).response()
    calls = len(fake_openai.chat_requests)
    with database_refused():
        sent = await fake_discord.submit_modal(world.member, modal["data"]["custom_id"],
                                               {"question": "What about my backyard?"},
                                               message=answer)
        clicked = await fake_discord.click(world.member, answer, follow)
        asked = await fake_discord.slash(world.member, "ask legal",
                                         {"question": "And on a balcony?"})
        answers = [await answer_of(x) for x in (sent, asked)]
        # The button's state is cached: its form still opens; sending it is what needs the
        # database.
        assert (await clicked.response())["type"] == 9
    assert answers == [DOWN] * 2
    assert sent.ephemeral and asked.ephemeral
    assert len(fake_openai.chat_requests) == calls
    # Back: the follow-up goes through.
    again = await fake_discord.submit_modal(world.member, modal["data"]["custom_id"],
                                            {"question": "What about my backyard?"},
                                            message=answer)
    await again.response()
    await again.wait_original(lambda m: "backyard" in m["content"] and bool(m["components"]))
    assert len(fake_openai.chat_requests) == calls + 1
