"""Podcasts: feeds parsed, episodes picked from a select menu and played through Lavalink's HTTP
source, 21+ feeds gated, transcripts posted in a thread (or an explanation without an endpoint)."""

from __future__ import annotations

import asyncio

import pytest

from bot.api import ADULT_NOTE, UserError
from bot.models import AuditLog
from plugins.music.models import MusicSession, MusicTranscriptUsage, PodcastTranscript
from plugins.music.podcasts import parse_feed
from plugins.music.tests.e2e import AllowList, content, custom_ids, music, start_music

RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Garden Talk</title><description>Growing tomatoes</description>
<item><title>Episode 2: Soil</title><pubDate>Tue, 24 Nov 2026</pubDate>
  <enclosure url="https://pods.example.com/ep2.mp3" type="audio/mpeg" length="1"/></item>
<item><title>Episode 1: Seeds</title>
  <enclosure url="/media/ep1.mp3" type="audio/mpeg" length="1"/></item>
<item><title>Show notes only</title></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Cannabis Hour</title>
<entry><title>Terpenes</title><updated>2026-11-20</updated>
  <link rel="enclosure" href="https://pods.example.com/terps.mp3"/></entry>
</feed>"""


class StubFetcher:
    """Serves fixed bodies by URL, like the network would."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.fetched: list[str] = []

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        self.fetched.append(url)
        if url not in self.pages:
            raise UserError("The feed answered HTTP 404.")
        return self.pages[url][:max_bytes]


def test_rss_and_atom_feeds_are_parsed():
    feed = parse_feed(RSS, "https://pods.example.com/feed.xml")
    assert feed.title == "Garden Talk"
    assert [(e.title, e.url) for e in feed.episodes] == [
        ("Episode 2: Soil", "https://pods.example.com/ep2.mp3"),
        ("Episode 1: Seeds", "https://pods.example.com/media/ep1.mp3"),
        ("Show notes only", ""),  # no audio: listed as unplayable, never offered
    ]
    assert [e.title for e in feed.playable] == ["Episode 2: Soil", "Episode 1: Seeds"]
    atom = parse_feed(ATOM, "https://pods.example.com/atom")
    assert atom.title == "Cannabis Hour" and atom.episodes[0].published == "2026-11-20"
    for bad in (b"not xml at all", b"<html><body>hi</body></html>"):
        with pytest.raises(UserError, match="isn't an RSS or Atom"):
            parse_feed(bad, "https://x.example")


async def test_pick_an_episode_play_it_and_transcribe_without_an_endpoint(
    fake_lavalink, start_bot, world, fake_discord
):
    running = await start_music(start_bot, fake_lavalink)
    plugin = music(running)
    plugin.podcasts.fetcher = StubFetcher({"https://pods.example.com/feed.xml": RSS})
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(
        world.member, "podcast", {"url": "https://pods.example.com/feed.xml"}
    )
    message = await ix.wait_original()
    assert message["embeds"][0]["title"] == "Garden Talk"
    select_id = custom_ids(message)[0]
    assert ":pod.pick:" in select_id
    pick = await fake_discord.select(world.member, message, select_id, ["0"])
    assert "Now playing **Episode 2: Soil" in content(await pick.response())
    patch = await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and (r.json or {}).get("track")
    )
    played = fake_lavalink.decode(patch.json["track"]["encoded"])
    assert played["info"]["uri"] == "https://pods.example.com/ep2.mp3"
    assert played["info"]["sourceName"] == "http"

    answer = await pick.wait_original()
    tx = await fake_discord.click(world.member, answer, custom_ids(answer)[0])
    text = content(await tx.response())
    assert "MUSIC_TRANSCRIBE_BASE_URL" in text and tx.ephemeral


async def start_with_transcripts(start_bot, fake_lavalink, fake_openai, **overrides):
    running = await start_music(
        start_bot, fake_lavalink, transcribe_base_url=fake_openai.base_url,
        transcribe_api_key=fake_openai.api_key, **overrides)
    music(running).podcasts.fetcher = StubFetcher({
        "https://pods.example.com/ep2.mp3": b"ID3 audio",
        "https://pods.example.com/ep3.mp3": b"ID3 more audio",
    })
    return running


def transcription_requests(fake_openai):
    return [r for r in fake_openai.requests if r.path == "/v1/audio/transcriptions"]


async def play_episode(fake_discord, member, url="https://pods.example.com/ep2.mp3"):
    ix = await fake_discord.slash(member, "podcast", {"url": url})
    return await ix.wait_original()


async def test_transcript_is_posted_as_a_file_in_a_thread(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    fake_openai.transcription("Welcome to the show about soil.")
    await start_with_transcripts(start_bot, fake_lavalink, fake_openai)
    await fake_discord.voice_join(world.member, world.voice)
    answer = await play_episode(fake_discord, world.member)
    tx = await fake_discord.click(world.member, answer, custom_ids(answer)[0])
    await tx.response()
    done = await tx.wait_followups(1, timeout=10)
    assert "transcript is in the thread" in fake_discord.text_of(done[0])
    thread_message = next(
        m
        for channel_id in list(world.guild.channels)
        for m in fake_discord.channel_messages(channel_id)
        if "Transcript of" in (m.get("content") or "")
    )
    assert fake_discord.attachment_bytes(thread_message) == b"Welcome to the show about soil."
    assert await AuditLog.filter(action="music.podcast_transcribed").count() == 1
    stored = await PodcastTranscript.get(url="https://pods.example.com/ep2.mp3")
    assert stored.status == "done" and stored.text == "Welcome to the show about soil."


async def test_transcribe_pressed_five_times_by_three_members_pays_once(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    fake_openai.transcription("One paid transcript.")
    await start_with_transcripts(start_bot, fake_lavalink, fake_openai)
    await fake_discord.voice_join(world.member, world.voice)
    answer = await play_episode(fake_discord, world.member)
    button = custom_ids(answer)[0]
    # The asker twice, an admin (staff) once, another member twice, all at once.
    presses = await asyncio.gather(*(
        fake_discord.click(who, answer, button)
        for who in (world.member, world.member, world.admin, world.other, world.other)))
    replies = []
    for press in presses:
        first = await press.response()
        if first["type"] == 4:  # refused at once
            replies.append((press, content(first)))
        else:
            replies.append((press, fake_discord.text_of((await press.wait_followups(1))[-1])))
    assert len(transcription_requests(fake_openai)) == 1
    refused = [text for press, text in replies[3:]]
    assert all("Only the member who played this episode, or staff" in t for t in refused)
    assert all(press.ephemeral for press, _ in replies[3:])
    answered = [text for _, text in replies[:3]]
    # One press made the thread; the others got the same transcript as a file of their own.
    assert sum("thread under this message" in t for t in answered) == 1
    assert sum("Transcript of" in t for t in answered) == 2
    later = await fake_discord.click(world.dj, answer, button)
    await later.response()
    assert len(transcription_requests(fake_openai)) == 1
    usage = {(u.user_id, u.count) for u in await MusicTranscriptUsage.all()}
    assert usage == {(world.member.id, 1), (0, 1)}  # the one paid call, reserved once


async def test_the_daily_transcript_budgets_refuse_cleanly(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    await start_with_transcripts(start_bot, fake_lavalink, fake_openai)
    settings = await fake_discord.slash(
        world.admin, "music settings", {"transcripts_per_member": 1, "transcripts_per_server": 1})
    assert "1 per member, 1 for the server" in content(await settings.response())
    await fake_discord.voice_join(world.member, world.voice)
    first = await play_episode(fake_discord, world.member)
    second = await play_episode(fake_discord, world.member, "https://pods.example.com/ep3.mp3")
    ok = await fake_discord.click(world.member, first, custom_ids(first)[0])
    await ok.response()
    await ok.wait_followups(1, timeout=10)
    refused = await fake_discord.click(world.member, second, custom_ids(second)[0])
    await refused.response()
    [note] = await refused.wait_followups(1)
    assert "used your 1 transcripts for today" in fake_discord.text_of(note)
    # Staff have their own member budget, but the server's is spent.
    staff = await fake_discord.click(world.admin, second, custom_ids(second)[0])
    await staff.response()
    [note] = await staff.wait_followups(1)
    assert "This server has used its 1 transcripts" in fake_discord.text_of(note)
    assert len(transcription_requests(fake_openai)) == 1
    assert await PodcastTranscript.filter(url="https://pods.example.com/ep3.mp3").count() == 0


async def test_a_failed_transcription_gives_the_budget_back(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    fake_openai.transcription_error(400)
    await start_with_transcripts(start_bot, fake_lavalink, fake_openai)
    await fake_discord.voice_join(world.member, world.voice)
    answer = await play_episode(fake_discord, world.member)
    tx = await fake_discord.click(world.member, answer, custom_ids(answer)[0])
    await tx.response()
    [note] = await tx.wait_followups(1, timeout=10)
    assert "transcription service failed" in fake_discord.text_of(note)
    assert {u.count for u in await MusicTranscriptUsage.all()} == {0}
    assert await PodcastTranscript.all().count() == 0
    retry = await fake_discord.click(world.member, answer, custom_ids(answer)[0])
    await retry.response()
    await retry.wait_followups(1, timeout=10)
    assert (await PodcastTranscript.get(url="https://pods.example.com/ep2.mp3")).status == "done"


async def test_cannabis_feed_needs_verification(fake_lavalink, start_bot, world, fake_discord):
    gate = AllowList()
    running = await start_music(start_bot, fake_lavalink, gate=gate)
    music(running).podcasts.fetcher = StubFetcher({"https://pods.example.com/atom": ATOM})
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "podcast", {"url": "https://pods.example.com/atom"})
    assert "cannabis content (21+)" in content(await ix.response()) and ix.ephemeral

    gate.verified.add(world.member.id)
    ok = await fake_discord.slash(world.member, "podcast", {"url": "https://pods.example.com/atom"})
    message = await ok.wait_original()
    # The episode list names 21+ content: outside a 21+-only channel only the member sees it,
    # with the note saying why.
    assert ok.ephemeral and (message.get("content") or "").startswith(ADULT_NOTE)
    # The picker is itself 21+: another, unverified member cannot use it.
    select_id = custom_ids(message)[0]
    other = await fake_discord.select(world.other, message, select_id, ["0"])
    assert "isn't yours" in content(await other.response()) or "21+" in content(
        await other.response()
    )
    pick = await fake_discord.select(world.member, message, select_id, ["0"])
    assert "Now playing **Terpenes" in content(await pick.response())
    session = await MusicSession.get(guild_id=world.guild.id)
    assert session.current["cannabis"] is True


async def test_bad_podcast_links_fail_cleanly(fake_lavalink, start_bot, world, fake_discord):
    running = await start_music(start_bot, fake_lavalink)
    music(running).podcasts.fetcher = StubFetcher({"https://pods.example.com/page": b"<html/>"})
    for url, says in (
        ("ftp://pods.example.com/feed", "Only http and https"),
        ("http://10.0.0.8/feed.xml", "private or local"),
        ("just words", "Give a podcast feed"),
        ("https://pods.example.com/page", "isn't an RSS or Atom"),
        ("https://pods.example.com/missing", "HTTP 404"),
    ):
        ix = await fake_discord.slash(world.member, "podcast", {"url": url})
        assert says in content(await ix.response()), url
