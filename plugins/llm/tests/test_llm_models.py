"""Members choose among the models admins allowed, each with its own daily budget, and see
their usage per model; admins see the server's, per model and per member."""

from __future__ import annotations

from typing import Any

from bot.models import AuditLog
from growmies_testkit.fake_openai import DEFAULT_MODEL
from plugins.llm.models import LLMAllowedModel, LLMMemberModelUsage, LLMModelChoice, LLMModelDay
from plugins.llm.tests.test_llm_discord import open_chat, probe, start_llm, verify

__all__ = ["probe", "start_llm"]  # fixtures shared with the Discord-level suite

BIG = "big-model"


async def content(ix: Any) -> str:
    return (await ix.response())["data"]["content"]


async def allow(fake_discord: Any, admin: Any, name: str, daily_tokens: int, **more: Any) -> str:
    ix = await fake_discord.slash(admin, "llm models add",
                                  {"name": name, "daily_tokens": daily_tokens, **more})
    return await content(ix)


async def test_member_picks_an_allowed_model_and_usage_is_counted_per_model(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    fake_openai.models = (DEFAULT_MODEL, BIG)
    await start_llm()
    # The admin pages further than page 1: the core gates paging buttons by the owning
    # plugin's rating (21+), even under an all-ages command.
    verify(probe, world.member, world.other, world.admin)
    listed = await allow(fake_discord, world.admin, BIG, 50_000)
    assert f"`{BIG}`: 50,000 tokens a day" in listed and f"`{DEFAULT_MODEL}`" in listed
    # Changing the budget later keeps what the admin said about tools.
    await allow(fake_discord, world.admin, BIG, 40_000, tools=True)
    listed = await allow(fake_discord, world.admin, BIG, 50_000)
    assert f"`{BIG}`: 50,000 tokens a day, tools" in listed
    await allow(fake_discord, world.admin, BIG, 50_000, tools=False)
    audit = await AuditLog.filter(action="llm.model_allowed").order_by("-id").first()
    assert audit is not None and audit.actor_id == world.admin.id
    assert audit.target == BIG and audit.details == {"daily_tokens": 50_000, "tools": False}

    choices = await content(await fake_discord.slash(world.member, "model"))
    assert f"▶ `{DEFAULT_MODEL}` (default)" in choices and f"• `{BIG}`" in choices
    picked = await content(await fake_discord.slash(world.member, "model", {"name": BIG}))
    assert f"You now talk to `{BIG}` here." in picked

    await open_chat(fake_discord, world.member, "hello big")
    await open_chat(fake_discord, world.other, "hello default")
    by_text = {r["messages"][-1]["content"]: r["model"] for r in fake_openai.chat_requests}
    assert by_text == {"hello big": BIG, "hello default": DEFAULT_MODEL}

    day = await LLMModelDay.get(guild_id=world.guild.id, model=BIG)
    used = await LLMMemberModelUsage.get(user_id=world.member.id, model=BIG)
    assert day.used_tokens == used.tokens > 0 and day.reserved_tokens == 0
    assert used.requests == 1

    mine = await content(await fake_discord.slash(world.member, "llm usage"))
    assert f"By model this month: `{BIG}` {used.tokens:,}" in mine

    admin = await fake_discord.slash(world.admin, "llm usage")
    page = await admin.wait_original()
    server = fake_discord.text_of(page)
    assert admin.ephemeral and "Page 1 of 2" in server
    assert f"`{BIG}`: {used.tokens:,} tokens this month, today {used.tokens:,} / 50,000" in (
        server)
    assert f"`{DEFAULT_MODEL}`: " in server and "no model budget" in server
    nxt = next(c["custom_id"] for row in page["components"] for c in row["components"]
               if "pg.next" in c.get("custom_id", ""))
    members = fake_discord.text_of((await (await fake_discord.click(
        world.admin, page, nxt)).response())["data"])
    assert f"<@{world.member.id}>: " in members and f"`{BIG}` {used.tokens:,}" in members
    assert f"<@{world.other.id}>: " in members and f"`{DEFAULT_MODEL}`" in members


async def test_a_model_the_admin_did_not_allow_is_refused(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    fake_openai.models = (DEFAULT_MODEL, BIG)
    await start_llm()
    verify(probe, world.member)
    await allow(fake_discord, world.admin, BIG, 50_000)
    ix = await fake_discord.slash(world.member, "model", {"name": "gpt-`secret`-max"})
    refused = await content(ix)
    assert ix.ephemeral and "haven't allowed the model `gpt-'secret'-max`" in refused
    assert f"You can choose: `{DEFAULT_MODEL}`, `{BIG}`." in refused
    assert await LLMModelChoice.all().count() == 0
    await open_chat(fake_discord, world.member, "still here")
    assert fake_openai.chat_requests[-1]["model"] == DEFAULT_MODEL

    # An admin cannot allow a model the endpoint does not have, either.
    unknown = await allow(fake_discord, world.admin, "no-such-model", 10_000)
    assert "no model named `no-such-model`" in unknown
    assert not await LLMAllowedModel.filter(name="no-such-model").exists()


async def test_each_model_has_its_own_daily_budget(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    fake_openai.models = (DEFAULT_MODEL, BIG)
    await start_llm()
    verify(probe, world.member)
    # One answer (about 900 tokens reserved: the prompt estimate and the 800-token cap) fits
    # 1,000 a day; a second one would not.
    await allow(fake_discord, world.admin, BIG, 1_000)
    await content(await fake_discord.slash(world.member, "model", {"name": BIG}))
    thread = await open_chat(fake_discord, world.member, "first")
    await fake_discord.send_message(world.member, thread, "second")
    refusal = await fake_discord.wait_for_message(
        thread, lambda m: "Today's budget for the model" in m["content"])
    assert f"`{BIG}` here (1,000 tokens)" in refusal["content"] and "/model" in (
        refusal["content"])
    assert len(fake_openai.chat_requests) == 1
    day = await LLMModelDay.get(model=BIG)
    assert day.reserved_tokens == 0 and 0 < day.used_tokens <= 1_000

    # The default model is not held by that budget.
    await content(await fake_discord.slash(world.member, "model", {"name": DEFAULT_MODEL}))
    await fake_discord.send_message(world.member, thread, "third")
    await fake_discord.wait_for_message(thread, lambda m: m["content"] == "You said: third")
    assert fake_openai.chat_requests[-1]["model"] == DEFAULT_MODEL


async def test_removing_a_model_sends_its_members_back_to_the_default(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    fake_openai.models = (DEFAULT_MODEL, BIG)
    await start_llm()
    verify(probe, world.member)
    await allow(fake_discord, world.admin, BIG, 50_000)
    await content(await fake_discord.slash(world.member, "model", {"name": BIG}))
    removed = await content(await fake_discord.slash(world.admin, "llm models remove",
                                                     {"name": BIG}))
    assert f"`{BIG}`" not in removed.split("\n", 2)[-1]
    await open_chat(fake_discord, world.member, "which model?")
    assert fake_openai.chat_requests[-1]["model"] == DEFAULT_MODEL
    assert await LLMModelChoice.all().count() == 0


async def test_a_members_model_choice_and_usage_are_exported_and_deleted_with_their_data(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    fake_openai.models = (DEFAULT_MODEL, BIG)
    bot = await start_llm()
    verify(probe, world.member)
    await allow(fake_discord, world.admin, BIG, 50_000)
    await content(await fake_discord.slash(world.member, "model", {"name": BIG}))
    await open_chat(fake_discord, world.member, "remember me")
    llm = bot.bot.plugins.plugins["llm"]
    exported = await llm.export_user_data(world.member.id)
    assert exported["model_choices"] == [{"guild_id": world.guild.id, "model": BIG}]
    assert exported["model_usage"][0]["model"] == BIG and exported["model_usage"][0]["tokens"]
    await llm.delete_user_data(world.member.id)
    assert not await LLMModelChoice.filter(user_id=world.member.id).exists()
    assert not await LLMMemberModelUsage.filter(user_id=world.member.id).exists()
    # The server's per-model counter stays: deleting it would refund the model's budget.
    assert (await LLMModelDay.get(model=BIG)).used_tokens > 0
