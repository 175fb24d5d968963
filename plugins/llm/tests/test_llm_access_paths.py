"""The admins' channel and role allow-lists hold on every way into the assistant, not only the
slash commands: a reply to an /ask answer, the Follow up modal, and a caller that does not
say where (it fails closed) — through the fake Discord, the real bot and the fake OpenAI."""

from __future__ import annotations

from typing import Any

import pytest

from bot.api import UserError
from bot.models import AuditLog
from plugins.llm.models import LLMConversation, LLMMessage
from plugins.llm.service import ChatRequest
from plugins.llm.tests.conftest import GUILD, MEMBER, Harness, ListSink
from plugins.llm.tests.test_llm_discord import probe, start_llm, verify
from plugins.llm.tests.test_llm_reply_chains import finished

__all__ = ["probe", "start_llm"]  # fixtures used by name below

NOT_IN_THIS_CHANNEL = "The AI assistant doesn't answer in this channel."


async def content(ix: Any) -> str:
    return (await ix.response())["data"]["content"]


async def ask_in_a_thread_of(fake_discord: Any, member: Any, channel: Any) -> tuple[Any, Any]:
    """A private conversation thread under `channel` (a 21+ place) and a public /ask answer
    posted in it."""
    opened = await fake_discord.slash(member, "chat new", {"message": "hi"}, channel=channel)
    assert "Started a conversation" in await content(opened)
    thread = next(t for t in member.guild.threads if t.parent_id == channel.id)
    await fake_discord.wait_for_message(thread, finished("You said: hi"), since=0)
    ix = await fake_discord.slash(member, "ask strain", {"name": "Blue Dream"}, channel=thread)
    await ix.response()
    answer = await ix.wait_original(lambda m: bool(m["components"]))
    assert not ix.ephemeral
    return thread, answer


def button_id(message: dict[str, Any], label: str) -> str:
    return next(c["custom_id"] for row in message["components"] for c in row["components"]
                if c.get("label") == label)


async def test_a_reply_to_an_answer_outside_the_allowed_channels_is_refused(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    lounge = world.guild.add_text_channel("ai-lounge")
    outside, outside_answer = await ask_in_a_thread_of(fake_discord, world.member,
                                                       world.channel)
    inside, inside_answer = await ask_in_a_thread_of(fake_discord, world.member, lounge)
    await content(await fake_discord.slash(world.admin, "llm access",
                                           {"allow_channel": lounge}))
    requests = len(fake_openai.chat_requests)

    # The answer lives in a thread of a channel the admins did not allow: refused, before
    # the attached file is even downloaded, and nothing reaches the model.
    mine = await fake_discord.send_message(world.member, outside, "and for sleep?",
                                           reply_to=outside_answer,
                                           attachments=[("notes.txt", b"my notes")])
    refusal = await fake_discord.wait_for_message(
        outside, lambda m: bool(m["author"].get("bot")) and m.get(
            "message_reference", {}).get("message_id") == mine["id"])
    assert refusal["content"].startswith(NOT_IN_THIS_CHANNEL)
    assert f"<#{lounge.id}>" in refusal["content"] and refusal["mentions"] == []
    assert len(fake_openai.chat_requests) == requests
    assert fake_discord.attachment_downloads == []
    assert not await LLMMessage.filter(content="and for sleep?").exists()
    audit = await AuditLog.filter(action="llm.request").order_by("-id").first()
    assert audit is not None and audit.details["reason"] == "not_allowed_here"

    # A thread under the allowed channel counts as that channel: the chain goes on.
    await fake_discord.send_message(world.member, inside, "and for pain?",
                                    reply_to=inside_answer)
    await fake_discord.wait_for_message(inside, finished("You said: and for pain?"))
    assert len(fake_openai.chat_requests) == requests + 1


async def test_the_follow_up_modal_is_refused_to_a_member_without_an_allowed_role(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "ask legal",
                                  {"question": "Can I smoke in a park?"})
    await ix.response()
    answer = await ix.wait_original(lambda m: bool(m["components"]))
    await content(await fake_discord.slash(world.admin, "llm access",
                                           {"allow_role": world.dj_role}))

    async def follow_up(question: str) -> Any:
        click = await fake_discord.click(world.member, answer, button_id(answer, "Follow up"))
        modal = await click.response()
        return await fake_discord.submit_modal(world.member, modal["data"]["custom_id"],
                                               {"question": question}, message=answer)

    sent = await follow_up("What about my backyard?")
    refused = await content(sent)
    assert sent.ephemeral and "for members with one of these roles: " \
        f"<@&{world.dj_role.id}>" in refused
    assert len(fake_openai.chat_requests) == 1
    conversation = await LLMConversation.get(user_id=world.member.id)
    assert conversation.message_count == 2

    # Given the role, the same button works.
    world.guild.add_member_role(world.member, world.dj_role)
    sent = await follow_up("What about my backyard?")
    await sent.response()
    await sent.wait_original(lambda m: "You said: What about my backyard?" in m["content"]
                             and bool(m["components"]))
    assert len(fake_openai.chat_requests) == 2


@pytest.mark.parametrize("allow", [{"add_channels": [555]}, {"add_roles": [777]}])
async def test_a_caller_that_does_not_say_where_is_refused_once_a_list_is_set(
        harness: Harness, allow: dict[str, list[int]]) -> None:
    service = harness.service
    # No list: a service-level caller (a benchmark) need not say where.
    await service.respond(await service.prepare(ChatRequest(GUILD, MEMBER, "hello")),
                          ListSink())
    await service.policy.change_access(GUILD, 1, service.services, **allow)
    with pytest.raises(UserError, match=r"doesn't answer in this channel|one of these roles"):
        await service.prepare(ChatRequest(GUILD, MEMBER, "hello again"))
    assert harness.services.audit.entries[-1].facts["reason"] == "not_allowed_here"
    # Saying where, inside the list, passes.
    turn = await service.prepare(ChatRequest(GUILD, MEMBER, "hello again", channel_id=555,
                                             role_ids=(777,)))
    await service.cancel(turn)
