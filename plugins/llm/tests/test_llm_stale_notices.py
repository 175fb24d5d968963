"""Reviewers are told about stale knowledge without asking: once a day the entries that went
past LLM_KB_STALE_DAYS since the last notice are listed in the server's review channel
(`/kb notices`), each once per staleness period, at most MAX_PER_NOTICE a day, with titles
only where verified 21+ members alone can read — through the fake Discord and the real bot
(the real compliance plugin judges the 21+ channel). The daily task's run is called with the
day it runs for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.models import AuditLog
from growmies_testkit.fake_discord.permissions import Permission
from plugins.llm.models import CannabisKnowledgeBase
from plugins.llm.stale_notices import MAX_PER_NOTICE
from plugins.llm.tests.test_llm_adult_channel import a_21_plus_lounge, content
from plugins.llm.tests.test_llm_discord import probe, start_llm, verify
from tests.probe_plugin import registry_with

__all__ = ["probe", "start_llm"]  # fixtures used by name below

NOW = datetime.now(UTC)


async def entry(guild_id: int, title: str, *, verified_days_ago: int,
                status: str = "approved") -> CannabisKnowledgeBase:
    row = await CannabisKnowledgeBase.create(
        guild_id=guild_id, category="legal", title=title, content=f"{title}.", status=status)
    await CannabisKnowledgeBase.filter(id=row.id).update(
        last_verified_at=NOW - timedelta(days=verified_days_ago))
    return await CannabisKnowledgeBase.get(id=row.id)


def from_bot(channel: Any, since: int) -> list[dict[str, Any]]:
    return [m for m in channel.messages[since:] if m["author"].get("bot")]


async def stopped_notices(running: Any) -> Any:
    """The plugin's daily task, stopped after its start-up run: the test runs it by hand."""
    notices = running.bot.plugins.plugins["llm"].stale_notices
    assert notices.task.running and notices.task.interval == 24 * 3600
    await notices.task.stop()
    return notices


async def test_newly_stale_entries_are_listed_once_in_the_21_plus_review_channel(
        start_bot, world, fake_discord, fake_openai) -> None:
    running = await start_bot(registry=registry_with(allow=["compliance", "llm"]),
                              plugin_settings={"llm": {
                                  "base_url": fake_openai.base_url, "model": "growmies-test-model",
                                  "api_key": fake_openai.api_key, "kb_stale_days": 30}})
    notices = await stopped_notices(running)
    lounge = await a_21_plus_lounge(fake_discord, world)
    await (await fake_discord.slash(world.admin, "verify")).response()
    await content(await fake_discord.submit_modal(world.admin, "compliance:dob",
                                                  {"dob": "1980-01-01", "attest": "yes"}))
    guild = world.guild.id
    overdue = await entry(guild, "Hoboken consumption lounges", verified_days_ago=40)
    recent = await entry(guild, "Delivery rules", verified_days_ago=10)
    await entry(guild, "A pending draft", verified_days_ago=400, status="pending")
    await entry(guild + 1, "Another server's entry", verified_days_ago=400)

    said = await content(await fake_discord.slash(world.admin, "kb notices",
                                                  {"channel": lounge}))
    assert f"<#{lounge.id}>, with their titles" in said
    assert (await AuditLog.get(action="llm.config_changed")).details == {
        "kb_review_channel_id": lounge.id}

    since = len(lounge.messages)
    assert await notices.run(NOW) == 1
    (notice,) = from_bot(lounge, since)
    assert "1 knowledge entry went unverified for 30 days" in notice["content"]
    assert f"[KB {overdue.id}] Hoboken consumption lounges — last verified " \
        f"{(NOW - timedelta(days=40)).date().isoformat()}" in notice["content"]
    assert "Delivery rules" not in notice["content"] and "pending" not in notice["content"]
    assert "Another server" not in notice["content"]
    assert notice["allowed_mentions"] == {"parse": []} and notice["mentions"] == []

    # The next day: nothing new went stale, so nothing is posted.
    since = len(lounge.messages)
    assert await notices.run(NOW + timedelta(days=1)) == 0
    assert from_bot(lounge, since) == []
    # Twenty-five days on, the other entry is overdue too: only it is named.
    assert await notices.run(NOW + timedelta(days=25)) == 1
    (notice,) = from_bot(lounge, since)
    assert f"[KB {recent.id}] Delivery rules" in notice["content"]
    assert "Hoboken" not in notice["content"]

    # A reviewer verifies the first one: a new staleness period, named again once it ends.
    await content(await fake_discord.slash(world.admin, "kb verify",
                                           {"entry_id": overdue.id}))
    since = len(lounge.messages)
    assert await notices.run(NOW + timedelta(days=29)) == 0
    assert await notices.run(NOW + timedelta(days=31)) == 1
    (notice,) = from_bot(lounge, since)
    assert f"[KB {overdue.id}] Hoboken consumption lounges" in notice["content"]
    assert "Delivery rules" not in notice["content"]


async def test_notices_are_limited_a_day_and_name_no_titles_outside_21_plus_places(
        start_llm, world, fake_discord, probe) -> None:
    running = await start_llm(kb_stale_days=30)
    notices = await stopped_notices(running)
    verify(probe, world.admin)
    guild = world.guild.id
    ids = [(await entry(guild, f"Stale rule number {n}", verified_days_ago=40 + n)).id
           for n in range(MAX_PER_NOTICE + 5)]
    # No review channel: nothing is posted anywhere, nothing is marked.
    assert await notices.run(NOW) == 0
    assert not await CannabisKnowledgeBase.filter(stale_noticed_at__isnull=False).exists()
    said = await content(await fake_discord.slash(world.admin, "kb notices"))
    assert "No daily notice" in said

    # A channel the bot can't post in is refused, not saved to fail quietly every day.
    hidden = world.guild.add_text_channel("hidden")
    world.guild.set_permission_overwrite(hidden, world.guild.bot_member,
                                         deny=int(Permission.VIEW_CHANNEL))
    await fake_discord.settle()
    said = await content(await fake_discord.slash(world.admin, "kb notices",
                                                  {"channel": hidden}))
    assert f"Not saved: I can't post in <#{hidden.id}>" in said
    assert "No daily notice" in await content(await fake_discord.slash(world.admin,
                                                                       "kb notices"))

    said = await content(await fake_discord.slash(world.admin, "kb notices",
                                                  {"channel": world.channel}))
    assert "by number only" in said
    since = len(world.channel.messages)
    assert await notices.run(NOW) == MAX_PER_NOTICE
    (first,) = from_bot(world.channel, since)
    assert "20 knowledge entries went unverified for 30 days" in first["content"]
    assert "Stale rule" not in first["content"]  # open to members who are not verified 21+
    # The longest-unverified first; the rest come in the next notices.
    oldest = sorted(ids, reverse=True)[:MAX_PER_NOTICE]
    assert all(f"[KB {i}]" in first["content"] for i in oldest)
    assert "…and 5 more in the next notices." in first["content"]
    assert len(first["content"]) <= 2000

    since = len(world.channel.messages)
    assert await notices.run(NOW + timedelta(days=1)) == 5
    (second,) = from_bot(world.channel, since)
    assert "5 knowledge entries" in second["content"] and "more in the next" not in (
        second["content"])
    assert all(f"[KB {i}]" in second["content"] for i in set(ids) - set(oldest))
    assert await notices.run(NOW + timedelta(days=2)) == 0

    said = await content(await fake_discord.slash(world.admin, "kb notices", {"off": True}))
    assert "No daily notice" in said
