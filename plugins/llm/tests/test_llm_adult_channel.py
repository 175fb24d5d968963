"""A reply chain in a channel an admin marked 21+ (not a thread), with the real compliance
plugin judging the channel from its overwrites in the fake Discord: /ask answers publicly
there, replying to the answer goes on with it, and once the channel is opened to everyone the
next reply is turned away to the Follow up button."""

from __future__ import annotations

from typing import Any

from growmies_testkit.fake_discord.permissions import Permission
from plugins.llm.followups import NOT_HERE
from plugins.llm.models import LLMConversation
from plugins.llm.relay import STREAMING_CURSOR
from tests.probe_plugin import registry_with

VIEW = int(Permission.VIEW_CHANNEL)
QUESTION = "Tell me about the strain Blue Dream."


async def content(ix: Any) -> str:
    return str((await ix.response())["data"]["content"])


def finished(text: str) -> Any:
    return lambda m: text in m["content"] and not m["content"].endswith(STREAMING_CURSOR) \
        and bool(m["author"].get("bot"))


async def a_21_plus_lounge(fake_discord: Any, world: Any) -> Any:
    """What an admin does: a verified role, a channel only it (and the bot) can read, the
    member verified, and the channel marked 21+ with /verification adult-channel add."""
    guild = world.guild
    verified = guild.add_role("Verified 21+")
    await content(await fake_discord.slash(world.admin, "verification settings",
                                           {"verified_role": verified}))
    lounge = guild.add_text_channel("21-plus-lounge")
    guild.set_permission_overwrite(lounge, guild.everyone, deny=VIEW)
    guild.set_permission_overwrite(lounge, verified, allow=VIEW)
    guild.set_permission_overwrite(lounge, guild.bot_member, allow=VIEW)
    await fake_discord.settle()
    await (await fake_discord.slash(world.member, "verify")).response()
    ok = await fake_discord.submit_modal(world.member, "compliance:dob",
                                         {"dob": "1990-06-15", "attest": "yes"})
    assert "verified as 21+" in await content(ok)
    await fake_discord.settle()
    marked = await content(await fake_discord.slash(
        world.admin, "verification adult-channel add", {"channel": lounge}))
    assert "is now a 21+ channel" in marked
    return lounge


async def test_a_reply_chain_in_a_channel_marked_21_plus(
        start_bot, world, fake_discord, fake_openai) -> None:
    await start_bot(registry=registry_with(allow=["compliance", "llm"]), plugin_settings={
        "llm": {"base_url": fake_openai.base_url, "api_key": fake_openai.api_key,
                "model": "growmies-test-model", "timeout": 5.0}})
    lounge = await a_21_plus_lounge(fake_discord, world)

    ix = await fake_discord.slash(world.member, "ask strain", {"name": "Blue Dream"},
                                  channel=lounge)
    await ix.response()
    answer = await ix.wait_original(lambda m: bool(m["components"]))
    # Every reader is verified 21+: the answer is posted for the channel, not only the asker.
    assert not ix.ephemeral and answer["channel_id"] == str(lounge.id)

    mine = await fake_discord.send_message(world.member, lounge, "is it good for sleep?",
                                           reply_to=answer)
    reply = await fake_discord.wait_for_message(lounge, finished("You said: is it good"))
    assert reply["message_reference"]["message_id"] == mine["id"] and reply["mentions"] == []
    await fake_discord.send_message(world.member, lounge, "and for pain?", reply_to=reply)
    await fake_discord.wait_for_message(lounge, finished("You said: and for pain?"))
    turns = [m["content"] for m in fake_openai.chat_requests[-1]["messages"]
             if m["role"] != "system"]
    assert turns[0] == QUESTION and turns[2] == "is it good for sleep?" and (
        turns[-1] == "and for pain?") and len(turns) == 5
    conversation = await LLMConversation.get(via="ask")
    assert (conversation.channel_id, conversation.message_count) == (lounge.id, 6)

    # Someone opens the channel to everyone: it is no longer a 21+ place, so the next reply
    # is turned away (the answer would be public to unverified readers).
    world.guild.set_permission_overwrite(lounge, world.guild.everyone)
    await fake_discord.settle()
    requests = len(fake_openai.chat_requests)
    late = await fake_discord.send_message(world.member, lounge, "one more?", reply_to=reply)
    refusal = await fake_discord.wait_for_message(
        lounge, lambda m: bool(m["author"].get("bot")) and m.get(
            "message_reference", {}).get("message_id") == late["id"])
    assert refusal["content"] == NOT_HERE and len(fake_openai.chat_requests) == requests
