"""Meditation sessions end to end: timed, faded out, XP for those who stayed, 21+ when flagged."""

from __future__ import annotations

from bot.models import AuditLog
from plugins.music.models import MeditationSession, MusicSession
from plugins.music.tests.e2e import AllowList, content, music, start_music


class XpRecorder:
    def __init__(self) -> None:
        self.awards: list[tuple[int, int, int, str]] = []

    async def award(self, guild_id: int, user_id: int, amount: int, reason: str) -> int:
        self.awards.append((guild_id, user_id, amount, reason))
        return amount


async def test_session_fades_out_leaves_and_rewards_those_who_stayed(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Calm Waves", author="Ocean", length_ms=3_600_000)
    running = await start_music(start_bot, fake_lavalink)
    xp = XpRecorder()
    running.services.xp.provide("music", xp)
    plugin = music(running)
    plugin.meditation.minute = 0.5  # a "minute" of half a second
    plugin.meditation.fade_fraction = 0.4
    for member in (world.member, world.other):
        await fake_discord.voice_join(member, world.voice)
    ix = await fake_discord.slash(world.member, "meditate start", {"minutes": 2, "query": "calm"})
    assert "Meditation started: 2 min" in content(await ix.response())
    session = plugin.meditation.sessions[world.guild.id]
    await fake_discord.voice_leave(world.other)  # leaves early: no XP
    await session.finished.wait()

    volumes = [r.json["volume"] for r in fake_lavalink.requests
               if r.method == "PATCH" and set(r.json or {}) == {"volume"}]
    assert volumes == sorted(volumes, reverse=True) and volumes[-1] == 0 and len(volumes) == 5
    assert xp.awards == [(world.guild.id, world.member.id, 4, "music.meditation")]
    assert await MusicSession.all().count() == 0
    bot_state = fake_discord.voice_states.get((world.guild.id, fake_discord.bot_user_id))
    assert bot_state is None or bot_state.get("channel_id") is None
    done = await AuditLog.filter(action="music.meditation_completed").first()
    assert done is not None and done.details == {"stayed": 1}
    row = await MeditationSession.get(guild_id=world.guild.id)  # the persisted session
    assert (row.started_by, row.minutes, row.completed, row.xp_granted, row.stayed) == (
        world.member.id, 2, True, 4, 1)
    assert row.ended_at is not None and row.ended_at >= row.ends_at
    ended = await fake_discord.wait_for_message(
        world.channel.id, lambda m: "session has ended" in m.get("content", ""), since=0)
    assert "1 member(s) stayed" in ended["content"]


async def test_cannabis_meditation_needs_verification(fake_lavalink, start_bot, world,
                                                      fake_discord):
    fake_lavalink.add_track("Kush Meditation", author="Stoner Calm", length_ms=600_000)
    gate = AllowList()
    await start_music(start_bot, fake_lavalink, gate=gate)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "meditate start", {"minutes": 5, "query": "kush"})
    assert "cannabis content (21+)" in content(await ix.response()) and ix.ephemeral
    assert await MusicSession.all().count() == 0
    bad = await fake_discord.slash(world.member, "meditate start", {"minutes": 5, "query": "   "})
    assert ix.ephemeral and content(await bad.response())
