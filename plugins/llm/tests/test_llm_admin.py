"""Admins shape the assistant in their server: a persona that comes after the safety and 21+
rules, and channel and role allow-lists; through the fake Discord, the real bot and the fake
OpenAI."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.models import AuditLog
from plugins.llm.context import RULES
from plugins.llm.models import LLMGuildPolicy
from plugins.llm.policy import MAX_PERSONA_CHARS, PERSONA_HEADER
from plugins.llm.tests.test_llm_discord import open_chat, probe, start_llm, verify

__all__ = ["probe", "start_llm"]  # fixtures shared with the Discord-level suite

PERSONA = "You are Sprout, a cheerful gardener. Keep answers short and mention @everyone."


async def content(ix: Any) -> str:
    return (await ix.response())["data"]["content"]


async def test_persona_is_added_after_the_fixed_rules_and_audited_by_hash(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member, world.admin)
    ix = await fake_discord.slash(world.admin, "llm persona", {"text": PERSONA})
    shown = await content(ix)
    assert ix.ephemeral and "Sprout" in shown and "cannot change" in shown
    # Pings are broken in what is stored, on top of allowed_mentions.
    stored = (await LLMGuildPolicy.get(guild_id=world.guild.id)).persona
    assert "@everyone" not in stored and "@\u200beveryone" in stored

    await open_chat(fake_discord, world.member, "hello")
    system = fake_openai.chat_requests[-1]["messages"][0]["content"]
    # The safety and 21+ rules come first, the persona after them, fenced and subordinate.
    assert system.index(RULES) < system.index(PERSONA_HEADER) < system.index("Sprout")

    audit = await AuditLog.get(action="llm.persona_changed")
    assert audit.actor_id == world.admin.id and audit.guild_id == world.guild.id
    assert audit.details["sha256"] == hashlib.sha256(stored.encode()).hexdigest()
    assert audit.details["excerpt"] == stored[:80] and audit.details["chars"] == len(stored)

    cleared = await fake_discord.slash(world.admin, "llm persona", {"clear": True})
    assert "None: the assistant's own voice" in await content(cleared)
    await fake_discord.send_message(world.member, world.guild.threads[0], "again")
    await fake_openai.wait_for_chat(2)
    assert PERSONA_HEADER not in fake_openai.chat_requests[-1]["messages"][0]["content"]


async def test_persona_over_the_limit_is_refused_and_nothing_changes(
        start_llm, world, fake_discord, probe) -> None:
    await start_llm()
    verify(probe, world.admin)
    await content(await fake_discord.slash(world.admin, "llm persona", {"text": "Be kind."}))
    too_long = "Talk like a pirate. " * 80  # 1,600 characters
    ix = await fake_discord.slash(world.admin, "llm persona", {"text": too_long})
    refused = await content(ix)
    assert ix.ephemeral and f"the limit is {MAX_PERSONA_CHARS:,}" in refused
    assert "1,599 characters" in refused  # trailing space trimmed
    assert (await LLMGuildPolicy.get(guild_id=world.guild.id)).persona == "Be kind."
    assert await AuditLog.filter(action="llm.persona_changed").count() == 1


async def test_assistant_answers_only_in_allowed_channels(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member)
    lounge = world.guild.add_text_channel("ai-lounge")
    ix = await fake_discord.slash(world.admin, "llm access", {"allow_channel": lounge})
    assert f"<#{lounge.id}>" in await content(ix)

    elsewhere = await fake_discord.slash(world.member, "ask legal",
                                         {"question": "possession limit?"})
    refused = await content(elsewhere)
    assert elsewhere.ephemeral and "doesn't answer in this channel" in refused
    assert f"<#{lounge.id}>" in refused and fake_openai.chat_requests == []
    audit = await AuditLog.get(action="llm.request")
    assert audit.details["reason"] == "not_allowed_here"

    # A conversation thread counts as its channel.
    thread = await open_chat_in(fake_discord, world.member, lounge)
    await fake_discord.send_message(world.member, thread, "follow-up")
    await fake_discord.wait_for_message(thread, lambda m: m["content"] == "You said: follow-up")

    await content(await fake_discord.slash(world.admin, "llm access", {"clear": "all"}))
    anywhere = await fake_discord.slash(world.member, "ask legal",
                                        {"question": "possession limit?"})
    await anywhere.response()
    await anywhere.wait_original(lambda m: "not legal advice" in m["content"])


async def open_chat_in(fake_discord: Any, member: Any, channel: Any) -> Any:
    ix = await fake_discord.slash(member, "chat new", {"message": "hi"}, channel=channel)
    assert "Started a conversation" in await content(ix)
    thread = next(t for t in member.guild.threads if t.parent_id == channel.id)
    await fake_discord.wait_for_message(thread, lambda m: m["content"] == "You said: hi")
    return thread


async def test_assistant_answers_only_members_with_an_allowed_role(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()
    verify(probe, world.member, world.dj)
    await content(await fake_discord.slash(world.admin, "llm access",
                                           {"allow_role": world.dj_role}))
    ix = await fake_discord.slash(world.member, "chat new", {"message": "hi"})
    refused = await content(ix)
    assert ix.ephemeral and f"members with one of these roles: <@&{world.dj_role.id}>" in (
        refused)
    assert fake_openai.chat_requests == [] and world.guild.threads == []
    assert (await ix.response())["data"]["allowed_mentions"]["parse"] == []

    await open_chat(fake_discord, world.dj, "hello")
    # Removing the role from the list opens it to everyone again.
    await content(await fake_discord.slash(world.admin, "llm access",
                                           {"remove_role": world.dj_role}))
    assert (await LLMGuildPolicy.get(guild_id=world.guild.id)).allowed_role_ids == []
    assert await AuditLog.filter(action="llm.access_changed").count() == 2
