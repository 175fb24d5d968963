"""Podcasts: feeds parsed, episodes picked from a select menu and played through Lavalink's HTTP
source, 21+ feeds gated, transcripts posted in a thread (or an explanation without an endpoint)."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.models import AuditLog
from plugins.music.models import MusicSession
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
    ]
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
    assert "OPENAI_BASE_URL" in text and tx.ephemeral


async def test_transcript_is_posted_as_a_file_in_a_thread(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    fake_openai.transcription("Welcome to the show about soil.")
    running = await start_music(
        start_bot,
        fake_lavalink,
        openai_base_url=fake_openai.base_url,
        openai_api_key=fake_openai.api_key,
        openai_model="fake-model",
    )
    plugin = music(running)
    plugin.podcasts.fetcher = StubFetcher({"https://pods.example.com/ep2.mp3": b"ID3 audio"})
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(
        world.member, "podcast", {"url": "https://pods.example.com/ep2.mp3"}
    )
    answer = await ix.wait_original()
    tx = await fake_discord.click(world.other, answer, custom_ids(answer)[0])
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
