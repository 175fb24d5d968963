"""XP rules, the MEE6 curve, batched writes, caps and the leaderboard page source."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import Tortoise

from bot.api import GuildConfig
from plugins.compliance.levels import level_for, progress_for, reward_roles, tier_for, total_xp_for
from plugins.compliance.models import GuildSettings, MemberRecord
from plugins.compliance.pages import LeaderboardPages
from plugins.compliance.xp import XpEngine

GUILD, CHANNEL = 10, 20


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def engine(db, clock):
    levelled: list = []

    async def on_level_up(events):
        levelled.extend(events)

    xp = XpEngine(GuildConfig(GuildSettings), clock=clock, rng=random.Random(7),
                  on_level_up=on_level_up)
    xp.levelled = levelled  # type: ignore[attr-defined]  # the tests' handle on it
    return xp


def test_level_curve_matches_mee6():
    # MEE6: 100, 155, 220, 295... XP per level; totals 0, 100, 255, 475, 770.
    assert [total_xp_for(n) for n in range(5)] == [0, 100, 255, 475, 770]
    assert level_for(99) == 0 and level_for(100) == 1 and level_for(254) == 1
    assert level_for(255) == 2
    assert progress_for(300).into_level == 45 and progress_for(300).needed == 220
    assert [tier_for(n) for n in (0, 4, 5, 10, 20, 35, 50, 99)] == [
        "Seedling", "Seedling", "Sprout", "Vegetative", "Flowering", "Harvest", "Connoisseur",
        "Connoisseur"]


def test_role_rewards_stack_or_replace():
    rewards = {"5": 501, "10": 510, "20": 520}
    assert reward_roles(rewards, 12, stack=True) == ({501, 510}, set())
    assert reward_roles(rewards, 12, stack=False) == ({510}, {501})
    assert reward_roles(rewards, 25, stack=False) == ({520}, {501, 510})
    assert reward_roles(rewards, 3, stack=True) == (set(), set())


async def test_message_xp_respects_cooldown_bots_dms_and_exclusions(engine, clock):
    assert await engine.on_message(None, 1, CHANNEL, [], is_bot=False) == 0
    assert await engine.on_message(GUILD, 1, CHANNEL, [], is_bot=True) == 0
    first = await engine.on_message(GUILD, 1, CHANNEL, [], is_bot=False)
    assert 15 <= first <= 25
    assert await engine.on_message(GUILD, 1, CHANNEL, [], is_bot=False) == 0
    clock.now += timedelta(seconds=59)
    assert await engine.on_message(GUILD, 1, CHANNEL, [], is_bot=False) == 0
    clock.now += timedelta(seconds=1)
    second = await engine.on_message(GUILD, 1, CHANNEL, [], is_bot=False)
    assert second > 0
    await engine.settings.update(GUILD, excluded_channel_ids=[99], excluded_role_ids=[77])
    clock.now += timedelta(minutes=5)
    assert await engine.on_message(GUILD, 2, 99, [], is_bot=False) == 0
    assert await engine.on_message(GUILD, 2, CHANNEL, [5, 77], is_bot=False) == 0
    # A thread inside an excluded channel is excluded too.
    assert await engine.on_message(GUILD, 2, 1234, [], is_bot=False, parent_channel_id=99) == 0
    await engine.flush()
    row = await MemberRecord.get(guild_id=GUILD, user_id=1)
    assert (row.xp, row.message_count) == (first + second, 2)
    assert not await MemberRecord.filter(user_id=2).exists()


async def test_burst_is_written_in_one_transaction_with_few_statements(engine, clock):
    conn = Tortoise.get_connection("default")
    seen: list[str] = []
    cls = type(conn)
    original = cls.execute_query

    async def counting(self, query, values=None):
        seen.append(query)
        return await original(self, query, values)

    for user in range(300):
        await engine.on_message(GUILD, user, CHANNEL, [], is_bot=False)
    assert await MemberRecord.all().count() == 0, "nothing is written per message"
    cls.execute_query = counting  # type: ignore[method-assign]  # count queries
    try:
        await engine.flush()
    finally:
        cls.execute_query = original  # type: ignore[method-assign]  # restore
    assert await MemberRecord.filter(guild_id=GUILD).count() == 300
    # One upsert for all 300 members (no level-ups: 25 XP is below level 1).
    assert len([q for q in seen if "INSERT" in q]) == 1
    assert len(seen) <= 3


async def test_level_up_is_reported_once_with_new_level_and_tier(engine, clock):
    await engine.add(GUILD, 5, 99, channel_id=CHANNEL)
    await engine.flush()
    assert engine.levelled == []
    await engine.add(GUILD, 5, 1, channel_id=CHANNEL)
    await engine.flush()
    assert [(e.user_id, e.old_level, e.new_level, e.tier, e.channel_id)
            for e in engine.levelled] == [(5, 0, 1, "Seedling", CHANNEL)]
    await engine.add(GUILD, 5, total_xp_for(5) - 100)
    await engine.flush()
    assert engine.levelled[-1].new_level == 5 and engine.levelled[-1].tier == "Sprout"
    row = await MemberRecord.get(guild_id=GUILD, user_id=5)
    assert (row.level, row.tier) == (5, "Sprout")


async def test_failed_flush_keeps_the_xp_for_the_next_one(engine):
    await engine.add(GUILD, 8, 40)
    conn = Tortoise.get_connection("default")
    cls = type(conn)
    original = cls.execute_query

    async def broken(self, query, values=None):
        raise ConnectionError("database down")

    cls.execute_query = broken  # type: ignore[method-assign]  # database down
    try:
        assert await engine.flush() == []
    finally:
        cls.execute_query = original  # type: ignore[method-assign]  # restore
    await engine.add(GUILD, 8, 2)
    await engine.flush()
    assert (await MemberRecord.get(guild_id=GUILD, user_id=8)).xp == 42


async def test_other_plugins_awards_are_capped_per_reason_per_day(engine, clock):
    await engine.settings.update(GUILD, daily_cap_per_reason=100)
    assert await engine.award(GUILD, 9, 60, "music.listen") == 60
    assert await engine.award(GUILD, 9, 60, "music.listen") == 40
    assert await engine.award(GUILD, 9, 60, "music.listen") == 0
    assert await engine.award(GUILD, 9, 30, "ui.quiz") == 30
    clock.now += timedelta(days=1)
    assert await engine.award(GUILD, 9, 10, "music.listen") == 10
    await engine.flush()
    assert (await MemberRecord.get(guild_id=GUILD, user_id=9)).xp == 140


async def test_size_trigger_flushes_without_waiting_for_the_timer(db, clock):
    engine = XpEngine(GuildConfig(GuildSettings), clock=clock, max_pending=50)
    for user in range(49):
        await engine.add(GUILD, user, 10)
    assert await MemberRecord.all().count() == 0
    await engine.add(GUILD, 49, 10)
    assert engine._spawned, "the batch was handed to a background flush"
    await engine.drain()
    assert await MemberRecord.all().count() == 50


async def test_awarding_waits_for_the_database_only_past_the_backpressure_limit(db, clock):
    engine = XpEngine(GuildConfig(GuildSettings), clock=clock, max_pending=10)
    async with engine.flush_lock:  # a slow flush is in progress
        for user in range(39):
            await engine.add(GUILD, user, 1)
        assert engine.pending_members == 39 and not engine._spawned
        adding = asyncio.create_task(engine.add(GUILD, 39, 1))
        await asyncio.sleep(0)  # one loop turn (not a timed wait): it runs up to the lock
        assert not adding.done(), "the 40th member waits for the slow flush"
    await adding
    await engine.drain()
    assert await MemberRecord.all().count() == 40


async def test_stop_flushes_what_is_left(db, clock):
    engine = XpEngine(GuildConfig(GuildSettings), clock=clock, flush_interval=3600)
    engine.start()
    await engine.add(GUILD, 1, 33)
    await engine.stop()
    assert (await MemberRecord.get(guild_id=GUILD, user_id=1)).xp == 33


async def test_leaderboard_pages_read_only_the_requested_page(engine):
    for user in range(1, 26):
        await engine.add(GUILD, user, user * 10)
    await engine.add(GUILD + 1, 999, 10_000)
    await engine.flush()
    pages = LeaderboardPages()
    params = {"guild_id": GUILD}
    assert await pages.page_count(params) == 3
    first = await pages.rows(params, 0)
    assert [u for u, _ in first] == list(range(25, 15, -1))
    last = await pages.rows(params, 2)
    assert [u for u, _ in last] == [5, 4, 3, 2, 1]
    rendered = await pages.render(params, 0)
    assert rendered.embed.description.startswith("**#1** <@25> — level 1 · 250 XP")


async def test_many_level_ups_in_one_flush_cost_one_update(engine):
    conn = Tortoise.get_connection("default")
    cls = type(conn)
    original = cls.execute_query
    seen: list[str] = []

    async def counting(self, query, values=None):
        seen.append(query)
        return await original(self, query, values)

    for user in range(1, 201):
        await engine.add(GUILD, user, 300 if user % 2 else 50, channel_id=CHANNEL)
    cls.execute_query = counting  # type: ignore[method-assign]  # count queries
    try:
        await engine.flush()
    finally:
        cls.execute_query = original  # type: ignore[method-assign]  # restore
    assert len(seen) == 2  # one upsert, one level update for the 100 who levelled up
    assert len(engine.levelled) == 100 and {e.new_level for e in engine.levelled} == {2}
    levels = dict(await MemberRecord.filter(guild_id=GUILD).values_list("user_id", "level"))
    assert levels[1] == 2 and levels[2] == 0 and levels[199] == 2


def test_rank_card_is_a_png_and_the_text_fallback_says_the_same():
    from plugins.compliance.rank_card import RankInfo, rank_text, render_rank_card

    info = RankInfo("bob-member", 3, "Seedling", 600, 125, 295, 4)
    assert render_rank_card(info).startswith(b"\x89PNG")
    assert render_rank_card(info, avatar_png=b"not an image").startswith(b"\x89PNG")
    text = rank_text(info)
    assert text.startswith("**bob-member** — level 3 (Seedling), rank #4")
    assert "████░░░░░░ 125/295 XP · 600 total" in text
