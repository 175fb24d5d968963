"""Podcast transcripts spend the server's AI budget: with the llm plugin on, a transcription is
reserved against the member's and the server's token budgets (through the core's
services.paid_usage) before the paid call, settled with the length the endpoint billed, shown in
/llm usage as its own line, and given back when the call fails. Without the llm plugin (or with
it off here) the music plugin's own daily counts are the limit; they stay a cap with it on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.models import AuditLog
from plugins.llm.models import LLMGuildUsage, LLMPaidWork, LLMUsage
from plugins.music.models import MusicTranscriptUsage, PodcastTranscript
from plugins.music.tests import test_music_podcast_feeds as feeds
from plugins.music.tests.e2e import content, custom_ids, music, start_music
from plugins.music.tests.test_music_podcasts import StubFetcher
from tests.probe_plugin import registry_with

EP2 = "https://pods.example.com/ep2.mp3"
EP3 = "https://pods.example.com/ep3.mp3"
FEED = "https://pods.example.com/feed.xml"
# A feed saying its episode runs 12 minutes (the reservation's length before the call).
RSS = f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
<title>Garden Talk</title><description>Growing tomatoes</description>
<item><title>Episode 3: Compost</title><itunes:duration>12:00</itunes:duration>
  <enclosure url="{EP3}" type="audio/mpeg" length="1"/></item>
</channel></rss>""".encode()
# The feed tests' local HTTP server for feeds and audio (127.0.0.1 standing in for a public host).
feed_server = feeds.feed_server


async def start(start_bot: Any, fake_lavalink: Any, fake_openai: Any, **overrides: Any) -> Any:
    running = await start_music(
        start_bot, fake_lavalink, transcribe_base_url=fake_openai.base_url,
        transcribe_api_key=fake_openai.api_key, **overrides)
    music(running).podcasts.fetcher = StubFetcher({
        EP2: b"ID3 audio", EP3: b"ID3 more audio", FEED: RSS})
    return running


def paid_calls(fake_openai: Any) -> int:
    return len([r for r in fake_openai.requests if r.path == "/v1/audio/transcriptions"])


async def press_transcribe(fake_discord: Any, member: Any, url: str = EP2) -> str:
    """Play `url` (an episode link) and press its Transcribe button; the member's answer."""
    ix = await fake_discord.slash(member, "podcast", {"url": url})
    answer = await ix.wait_original()
    return await press(fake_discord, member, answer)


async def press(fake_discord: Any, member: Any, answer: dict[str, Any]) -> str:
    tx = await fake_discord.click(member, answer, custom_ids(answer)[0])
    first = await tx.response()
    if first["type"] == 4:
        return content(first)
    return str(fake_discord.text_of((await tx.wait_followups(1, timeout=10))[-1]))


def delivered(text: str) -> bool:
    """The transcript reached the member: in a thread, or as their own file."""
    return "transcript is in the thread" in text or text.startswith("Transcript of")


async def server_month(guild_id: int) -> LLMGuildUsage | None:
    month = datetime.now(UTC).date().replace(day=1)
    return await LLMGuildUsage.get_or_none(guild_id=guild_id, month=month)


async def test_a_transcription_spends_the_ai_budget_and_shows_in_llm_usage(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    running = await start(start_bot, fake_lavalink, fake_openai)
    assert running.services.paid_usage.provider_plugin == "llm"
    fake_openai.transcription_seconds = 90.0  # whisper-1 bills the audio's length
    await fake_discord.voice_join(world.member, world.voice)
    assert delivered(await press_transcribe(fake_discord, world.member))
    assert paid_calls(fake_openai) == 1

    # 90 s at 1,000 tokens a minute: on the server's month, nothing held; the member's own
    # day is untouched (a transcript serves everyone), the work is counted as theirs.
    spent = await server_month(world.guild.id)
    assert spent is not None and (spent.used_tokens, spent.reserved_tokens) == (1_500, 0)
    assert await LLMUsage.get_or_none(guild_id=world.guild.id, user_id=world.member.id) is None
    work = await LLMPaidWork.get(guild_id=world.guild.id, user_id=world.member.id)
    assert (work.what, work.tokens, work.uses) == ("podcast transcripts", 1_500, 1)
    audit = await AuditLog.get(action="llm.paid_usage")
    assert audit.actor_id == world.member.id
    assert (audit.details["outcome"], audit.details["tokens"]) == ("used", 1_500)

    usage = await fake_discord.slash(world.member, "llm usage")
    text = content(await usage.response())
    assert "Today: 0 / 20,000 tokens (0 requests)" in text
    assert "Podcast transcripts this month: 1,500 tokens for 1" in text
    admin = await fake_discord.slash(world.admin, "llm usage")
    page = fake_discord.text_of(await admin.wait_original())
    assert "Server this month:** 1,500 / 2,000,000 tokens" in page
    assert "**Other paid work**\nPodcast transcripts this month: 1,500 tokens for 1" in page

    # The stored transcript is shared: another press costs nothing more.
    await fake_discord.voice_join(world.other, world.voice)
    assert delivered(await press_transcribe(fake_discord, world.other))
    assert paid_calls(fake_openai) == 1
    assert (await server_month(world.guild.id)).used_tokens == 1_500  # type: ignore[union-attr]

    # /privacy: the member's paid-work line is theirs to export and delete; the budget's
    # counters stay (a deletion never refunds a budget).
    exported = await running.services.privacy.export(world.member.id)
    assert exported["llm"]["paid_work"][0]["tokens"] == 1_500
    await running.services.privacy.delete(world.member.id)
    assert await LLMPaidWork.filter(user_id=world.member.id).count() == 0
    assert (await server_month(world.guild.id)).used_tokens == 1_500  # type: ignore[union-attr]


async def test_a_spent_server_budget_refuses_before_the_paid_call(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    await start(start_bot, fake_lavalink, fake_openai)
    month = datetime.now(UTC).date().replace(day=1)
    await LLMGuildUsage.create(guild_id=world.guild.id, month=month, used_tokens=2_000_000)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "podcast", {"url": FEED})
    menu = await ix.wait_original()
    pick = await fake_discord.select(world.member, menu, custom_ids(menu)[0], ["0"])
    answer = await pick.wait_original()

    text = await press(fake_discord, world.member, answer)
    assert "This episode (about 12 min of audio) can't be transcribed now." in text
    assert "This server's monthly AI budget doesn't have the 12,000 tokens" in text
    assert "/llm config" in text
    assert paid_calls(fake_openai) == 0
    assert await PodcastTranscript.all().count() == 0
    # Nothing held anywhere, and the member's daily count given back.
    assert (await server_month(world.guild.id)).reserved_tokens == 0  # type: ignore[union-attr]
    assert {u.count for u in await MusicTranscriptUsage.all()} == {0}
    refused = await AuditLog.get(action="llm.paid_usage")
    assert refused.details["outcome"] == "refused"
    assert refused.details["reason"] == "budget_server"


async def test_a_members_spent_chat_day_does_not_block_a_shared_transcript(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    """A transcript serves everyone, so it is charged to the server's month only; the member
    is limited by the music plugin's transcripts per member per day instead."""
    await start(start_bot, fake_lavalink, fake_openai)
    await LLMUsage.create(guild_id=world.guild.id, user_id=world.member.id,
                          day=datetime.now(UTC).date(), prompt_tokens=20_000)
    await fake_discord.voice_join(world.member, world.voice)
    assert delivered(await press_transcribe(fake_discord, world.member))
    assert paid_calls(fake_openai) == 1
    mine = await LLMUsage.get(guild_id=world.guild.id, user_id=world.member.id)
    assert mine.prompt_tokens == 20_000
    assert (await server_month(world.guild.id)).used_tokens > 0  # type: ignore[union-attr]


async def test_a_failed_transcription_releases_the_reservation(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    fake_openai.transcription_error(400)
    await start(start_bot, fake_lavalink, fake_openai)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "podcast", {"url": EP2})
    answer = await ix.wait_original()
    assert "transcription service failed" in await press(fake_discord, world.member, answer)
    held = await server_month(world.guild.id)
    assert held is not None and (held.used_tokens, held.reserved_tokens) == (0, 0)
    assert await LLMUsage.get_or_none(guild_id=world.guild.id, user_id=world.member.id) is None
    assert await LLMPaidWork.all().count() == 0
    assert [a.details["outcome"] for a in await AuditLog.filter(action="llm.paid_usage")] == [
        "released"]

    # Pressed again, it goes through and is charged once (no `usage`: the estimate, 1 s).
    assert delivered(await press(fake_discord, world.member, answer))
    assert (await server_month(world.guild.id)).used_tokens == 17  # type: ignore[union-attr]


async def test_without_the_llm_plugin_the_daily_counts_are_the_limit(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    running = await start(start_bot, fake_lavalink, fake_openai,
                          registry=registry_with(allow=["music"]))
    assert running.services.paid_usage.provider_plugin is None
    await fake_discord.slash(world.admin, "music settings", {"transcripts_per_member": 1})
    await fake_discord.voice_join(world.member, world.voice)
    assert delivered(await press_transcribe(fake_discord, world.member))
    text = await press_transcribe(fake_discord, world.member, EP3)
    assert "used your 1 transcripts for today" in text
    assert paid_calls(fake_openai) == 1


async def test_with_the_llm_plugin_off_here_the_daily_counts_still_cap(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    running = await start(start_bot, fake_lavalink, fake_openai)
    await running.services.toggles.set(world.guild.id, "llm", False, actor_id=world.admin.id)
    await fake_discord.slash(world.admin, "music settings", {"transcripts_per_member": 1})
    await fake_discord.voice_join(world.member, world.voice)
    assert delivered(await press_transcribe(fake_discord, world.member))
    assert await server_month(world.guild.id) is None  # unmetered: no AI budget touched
    assert "used your 1 transcripts for today" in await press_transcribe(
        fake_discord, world.member, EP3)
    assert paid_calls(fake_openai) == 1


async def test_automatic_transcription_spends_the_servers_budget_alone(
    fake_lavalink, fake_openai, start_bot, world, fake_discord, feed_server
):
    feed_url = feed_server.url("/show.xml")
    feed_server.pages["/show.xml"] = feeds.rss("Daily Garden", [("Back catalogue", "/old.mp3")])
    running = await feeds.start_with_feeds(
        start_bot, fake_lavalink, feed_server, transcribe_base_url=fake_openai.base_url,
        transcribe_api_key=fake_openai.api_key)
    plugin = music(running)
    on = await fake_discord.slash(world.admin, "podcasts auto-transcribe",
                                  {"feed": feed_url, "enabled": True})
    await on.response()
    assert await plugin.podcast_library.poll() == 0
    # Room in the server's month for one of two new 45-minute episodes.
    month = datetime.now(UTC).date().replace(day=1)
    await LLMGuildUsage.create(guild_id=world.guild.id, month=month, used_tokens=1_950_000)
    feed_server.pages["/show.xml"] = feeds.rss(
        "Daily Garden", [("New 1", "/new1.mp3"), ("New 2", "/new2.mp3"),
                         ("Back catalogue", "/old.mp3")])
    feed_server.pages["/new1.mp3"] = feed_server.pages["/new2.mp3"] = b"ID3 audio"
    fake_openai.transcription_seconds = 2_700.0
    assert await plugin.podcast_library.poll() == 1
    assert await plugin.podcast_library.poll() == 0  # the other one still doesn't fit
    assert paid_calls(fake_openai) == 1

    spent = await server_month(world.guild.id)
    assert spent is not None and (spent.used_tokens, spent.reserved_tokens) == (1_995_000, 0)
    assert await LLMUsage.all().count() == 0  # no member's day was touched
    work = await LLMPaidWork.get()
    assert (work.user_id, work.what, work.tokens, work.uses) == (
        0, "podcast transcripts", 45_000, 1)
    outcomes = [(a.actor_id, a.details["outcome"])
                for a in await AuditLog.filter(action="llm.paid_usage").order_by("id")]
    assert outcomes == [(None, "used"), (None, "refused"), (None, "refused")]
    admin = await fake_discord.slash(world.admin, "llm usage")
    page = fake_discord.text_of(await admin.wait_original())
    assert "Server this month:** 1,995,000 / 2,000,000 tokens" in page
    assert "Podcast transcripts this month: 45,000 tokens for 1" in page
