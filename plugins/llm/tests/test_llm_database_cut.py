"""The database goes away under the assistant's new paths: a reply to an answer, the Follow up
button, and the background sweeps. Nobody's words reach the model while their conversation,
budget and allow-lists can't be read, they are told why, and all of it works again once the
database is back."""

from __future__ import annotations

import asyncio

from bot.api import DatabaseUnavailable
from growmies_testkit.databases import database_refused
from plugins.llm import stale_notices
from plugins.llm.models import (
    CannabisKnowledgeBase,
    LLMConversation,
    LLMGuildUsage,
    LLMMessage,
    LLMUsage,
)
from plugins.llm.relay import STREAMING_CURSOR
from plugins.llm.tests.test_llm_adult_channel import content
from plugins.llm.tests.test_llm_conversation_types import button_id
from plugins.llm.tests.test_llm_discord import open_chat, probe, start_llm, verify
from plugins.llm.tests.test_llm_reply_chains import ask_in_thread, finished
from plugins.llm.tests.test_llm_stale_notices import entry, from_bot

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


async def test_a_daily_notice_round_the_database_cut_short_runs_again_soon_after(
        start_llm, world, fake_discord, probe, monkeypatch) -> None:
    running = await start_llm(kb_stale_days=30)
    notices = running.bot.plugins.plugins["llm"].stale_notices
    await notices.task.stop()
    assert notices.task.retry == stale_notices.NOTICE_RETRY
    marked = asyncio.Event()
    mark = stale_notices.mark_announced

    async def mark_and_tell(*args, **kwargs):
        await mark(*args, **kwargs)
        marked.set()

    monkeypatch.setattr(stale_notices, "mark_announced", mark_and_tell)
    verify(probe, world.admin)
    stale = await entry(world.guild.id, "Old rule", verified_days_ago=40)
    said = await content(await fake_discord.slash(world.admin, "kb notices",
                                                  {"channel": world.channel}))
    assert "by number only" in said
    since = len(world.channel.messages)
    notices.task.retry = 0.05  # five minutes in production
    with database_refused() as refused:
        notices.task.start()  # the bot starting (or the day's round) while the database is out
        await refused.wait()
    # Back: the round is run again without waiting a day, and names the entry once.
    notice = await asyncio.wait_for(fake_discord.wait_for_message(
        world.channel, lambda m: f"[KB {stale.id}]" in m["content"]), 5)
    assert "1 knowledge entry went unverified for 30 days" in notice["content"]
    await asyncio.wait_for(marked.wait(), 5)
    await notices.task.stop()
    assert len(from_bot(world.channel, since)) == 1
    assert (await CannabisKnowledgeBase.get(id=stale.id)).stale_noticed_at is not None


async def test_an_answer_whose_usage_cannot_be_written_is_counted_once_the_database_is_back(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    running = await start_llm()
    deferred = running.bot.plugins.plugins["llm"].chat.ledger.deferred
    deferred.retry_seconds = 0.05  # 10 s in production
    verify(probe, world.member)
    calls = len(fake_openai.chat_requests)
    # The budget is reserved and the model answers; then the database drops.
    with database_refused(when=lambda sql: len(fake_openai.chat_requests) > calls) as refused:
        ix = await fake_discord.slash(world.member, "ask legal",
                                      {"question": "Can I smoke in a park?"})
        await ix.response()
        answer = await ix.wait_original(lambda m: "You said: Can I smoke" in m["content"]
                                        and not m["content"].endswith(STREAMING_CURSOR))
        refused.clear()
        await refused.wait()  # the bookkeeping is tried again, not dropped
    # The member got their answer, not an error.
    assert "Something went wrong" not in answer["content"] and DOWN not in answer["content"]
    assert ix.followups == [] or all(DOWN not in str(m.get("content")) for m in ix.followups)
    # Back: what the answer cost is counted once and the reservation given back.
    await deferred.written()
    month = await LLMGuildUsage.get(guild_id=world.guild.id)
    day = await LLMUsage.get(guild_id=world.guild.id, user_id=world.member.id)
    assert month.reserved_tokens == 0 and day.reserved_tokens == 0
    assert month.used_tokens == day.prompt_tokens + day.completion_tokens > 0
    assert day.requests == 1
    conversation = await LLMConversation.get(user_id=world.member.id)
    assert conversation.message_count == 2
    assert [m.role for m in await LLMMessage.filter(conversation_id=conversation.id)
            .order_by("id")] == ["user", "assistant"]
    assert len(fake_openai.chat_requests) == calls + 1


async def test_a_message_in_a_chat_thread_during_a_cut_is_told_why(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member, "hello")
    calls = len(fake_openai.chat_requests)
    with database_refused():
        await fake_discord.send_message(world.member, thread, "and then?")
        told = await fake_discord.wait_for_message(thread, lambda m: m["content"] == DOWN)
    assert told["mentions"] == []
    assert len(fake_openai.chat_requests) == calls
    await fake_discord.send_message(world.member, thread, "and then?")
    await fake_discord.wait_for_message(thread, finished("You said: and then?"))


def _controls(message: dict) -> list[tuple[str, dict]]:
    return [(c["custom_id"], c) for row in message.get("components", [])
            for c in row["components"] if "custom_id" in c and not c.get("disabled")]


async def test_every_assistant_control_pressed_during_a_cut_is_answered_clearly(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.admin)
    for n in range(3):
        await entry(world.guild.id, f"Old rule {n}", verified_days_ago=400)
    await entry(world.guild.id, "A draft", verified_days_ago=1, status="pending")
    shown = []
    for command, options in (("kb review", {}), ("kb stale", {}), ("llm usage", {}),
                             ("ask legal", {"question": "Can I smoke in a park?"})):
        ix = await fake_discord.slash(world.admin, command, options)
        await ix.response()
        if command == "ask legal":  # the Follow up button comes with the finished answer
            shown.append(await ix.wait_original(lambda m: bool(m.get("components"))))
        else:
            shown.append(await ix.wait_original())
    controls = [(message, cid, c) for message in shown for cid, c in _controls(message)]
    assert {"kb.approve", "followup.open"} <= {cid.split(":")[1] for _, cid, _ in controls}
    calls = len(fake_openai.chat_requests)
    with database_refused():
        answers = []
        for message, cid, component in controls:
            if component["type"] == 3:
                ix = await fake_discord.select(world.admin, message, cid,
                                               [component["options"][0]["value"]])
            else:
                ix = await fake_discord.click(world.admin, message, cid)
            resp = await ix.response(timeout=10)
            if resp["type"] == 9:
                answers.append((cid, DOWN, True))  # a form opens; it shows no data
            elif resp["type"] in (5, 6):
                last = (await ix.wait_followups(1))[-1]
                answers.append((cid, str(last.get("content") or ""),
                                bool(int(last.get("flags") or 0) & 64)))
            else:
                answers.append((cid, str((resp.get("data") or {}).get("content") or ""),
                                ix.ephemeral))
    for cid, said, private in answers:
        assert said == DOWN and private, (cid, said)
    assert len(fake_openai.chat_requests) == calls
    # Nothing was approved behind the refusal.
    assert await CannabisKnowledgeBase.filter(title="A draft", status="pending").exists()
