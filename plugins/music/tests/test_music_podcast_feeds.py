"""Podcast feeds from a real (local) HTTP server: read with feedparser (RSS 1.0/2.0, Atom,
iTunes durations, declared encodings), stored with their episodes; episodes without audio are
listed as unplayable; XML bombs, external entities and malformed feeds fail cleanly; followed
feeds get new episodes transcribed once, within the poll's bounds; transcripts read in pages."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from aiohttp import web

from bot.models import AuditLog
from plugins.music.feeds import parse_feed
from plugins.music.models import (
    MusicSession,
    MusicTranscriptUsage,
    PodcastEpisode,
    PodcastFeed,
    PodcastTranscript,
)
from plugins.music.podcast_library import MAX_TRANSCRIPTS_PER_POLL
from plugins.music.podcasts import HttpFetcher
from plugins.music.tests.e2e import AllowList, content, custom_ids, music, start_music
from plugins.music.tests.test_music_fetching import (
    ScriptedResolver,
    loopback_stands_in_for_public,
)
from plugins.music.transcripts import episode_key

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><enclosure url="/a.mp3" type="audio/mpeg"/></item>
</channel></rss>"""


def rss(title: str, episodes: list[tuple[str, str | None]], encoding: str = "utf-8") -> bytes:
    items = "".join(
        f"<item><title>{t}</title><guid>{t}</guid><itunes:duration>45:10</itunes:duration>"
        + (f'<enclosure url="{url}" type="audio/mpeg" length="1"/>' if url else "")
        + "</item>" for t, url in episodes)
    return (f'<?xml version="1.0" encoding="{encoding}"?>'
            '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
            f"<channel><title>{title}</title><description>Gardening talk</description>"
            f"{items}</channel></rss>").encode(encoding)


class FeedServer:
    """Serves feeds and audio on 127.0.0.1 (standing in for a public host); `hits` lists the
    paths asked for. Tests change `pages` to publish new episodes."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.hits: list[str] = []
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://pods.example.com:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        body = self.pages.get(request.path)
        return web.Response(body=body) if body is not None else web.Response(status=404)


@pytest.fixture
async def feed_server():
    server = FeedServer()
    app = web.Application()
    app.router.add_get("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started above, so the server is set
    yield server
    await runner.cleanup()


async def start_with_feeds(start_bot, fake_lavalink, feed_server, **overrides):
    running = await start_music(start_bot, fake_lavalink, **overrides)
    music(running).podcasts.fetcher = HttpFetcher(ScriptedResolver(["127.0.0.1"]),
                                                  allow=loopback_stands_in_for_public)
    return running


def test_feed_formats_durations_and_encodings():
    latin = rss("Caf\u00e9 Garden", [("\u00c9pisode 1", "/1.mp3")], encoding="iso-8859-1")
    feed = parse_feed(latin, "https://pods.example.com/feed")
    assert feed.title == "Caf\u00e9 Garden" and feed.episodes[0].title == "\u00c9pisode 1"
    assert feed.episodes[0].duration_s == 45 * 60 + 10
    assert feed.episodes[0].url == "https://pods.example.com/1.mp3"
    rdf = parse_feed(b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:enc="http://purl.oclc.org/net/rss_2.0/enc#">
<channel rdf:about="https://pods.example.com/"><title>RSS One</title><description>d</description>
</channel><item rdf:about="https://pods.example.com/1"><title>Old style</title></item></rdf:RDF>""",
                     "https://pods.example.com/rdf")
    assert rdf.title == "RSS One" and [e.title for e in rdf.episodes] == ["Old style"]
    assert rdf.playable == []


async def test_an_episode_without_audio_is_listed_as_unplayable(
    fake_lavalink, start_bot, world, fake_discord, feed_server
):
    feed_server.pages["/garden.xml"] = rss("Garden Talk", [("Soil", "/soil.mp3"),
                                                         ("Show notes only", None)])
    feed_server.pages["/notes.xml"] = rss("Notes Only", [("Just words", None)])
    await start_with_feeds(start_bot, fake_lavalink, feed_server)
    await fake_discord.voice_join(world.member, world.voice)

    ix = await fake_discord.slash(world.member, "podcast", {"url": feed_server.url("/garden.xml")})
    message = await ix.wait_original()
    listing = fake_discord.text_of(message)
    assert "Soil (45:10)" in listing
    assert "Show notes only (45:10) — *no audio, unplayable*" in listing
    menu = message["components"][0]["components"][0]
    assert [o["label"] for o in menu["options"]] == ["Soil"]  # only what can play is offered
    feed = await PodcastFeed.get(url=feed_server.url("/garden.xml"))
    assert feed.title == "Garden Talk"
    assert {(e.title, e.url) for e in await PodcastEpisode.filter(feed_id=feed.id)} == {
        ("Soil", feed_server.url("/soil.mp3")), ("Show notes only", "")}

    pick = await fake_discord.select(world.member, message, custom_ids(message)[0], ["0"])
    assert "Now playing **Soil" in content(await pick.response())
    assert (await MusicSession.get(guild_id=world.guild.id)).kind == "educational"

    none = await fake_discord.slash(world.member, "podcast", {"url": feed_server.url("/notes.xml")})
    said = content(await none.response())
    assert "**Notes Only** has no playable episodes" in said and "none with an audio file" in said
    assert none.ephemeral


@pytest.fixture
def local_secret(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("local-file-secret")
    return path


async def test_xml_bombs_and_external_entities_are_defused(
    fake_lavalink, start_bot, world, fake_discord, feed_server, local_secret
):
    feed_server.pages["/bomb.xml"] = BILLION_LAUGHS
    feed_server.pages["/secret"] = b"internal-secret-text"
    feed_server.pages["/xxe.xml"] = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{feed_server.url("/secret")}">'
        f'<!ENTITY local SYSTEM "file://{local_secret}">]>'
        '<rss version="2.0"><channel><title>Leaky &xxe; &local;</title>'
        '<item><title>Ep</title><enclosure url="/ep.mp3" type="audio/mpeg"/></item>'
        "</channel></rss>").encode()
    await start_with_feeds(start_bot, fake_lavalink, feed_server)

    started = time.monotonic()
    bomb = await fake_discord.slash(world.member, "podcast", {"url": feed_server.url("/bomb.xml")})
    said = content(await bomb.response())
    assert "declares XML entities" in said and bomb.ephemeral
    assert time.monotonic() - started < 5  # refused, not expanded
    assert await PodcastFeed.all().count() == 0

    leaky = await fake_discord.slash(world.member, "podcast", {"url": feed_server.url("/xxe.xml")})
    message = await leaky.wait_original()
    assert "/secret" not in feed_server.hits  # the entity was never fetched
    assert "internal-secret-text" not in fake_discord.text_of(message)
    assert "local-file-secret" not in fake_discord.text_of(message)


async def test_malformed_feeds_fail_cleanly_or_keep_what_is_whole(
    fake_lavalink, start_bot, world, fake_discord, feed_server
):
    feed_server.pages["/garbled.xml"] = b'<?xml version="1.0"?><rss version="2.0"><chan\x00nel'
    feed_server.pages["/cut.xml"] = (
        b'<rss version="2.0"><channel><title>Cut Short</title>'
        b'<item><title>Whole</title><enclosure url="/whole.mp3" type="audio/mpeg"/></item>'
        b"<item><title>Broken<enclosure url=")
    await start_with_feeds(start_bot, fake_lavalink, feed_server)
    await fake_discord.voice_join(world.member, world.voice)

    garbled = await fake_discord.slash(world.member, "podcast",
                                       {"url": feed_server.url("/garbled.xml")})
    assert "isn't an RSS or Atom podcast feed" in content(await garbled.response())
    cut = await fake_discord.slash(world.member, "podcast", {"url": feed_server.url("/cut.xml")})
    message = await cut.wait_original()
    assert "Whole" in fake_discord.text_of(message)
    menu = message["components"][0]["components"][0]
    assert [o["label"] for o in menu["options"]] == ["Whole"]


async def test_a_followed_feeds_new_episodes_are_transcribed_once_within_bounds(
    fake_lavalink, fake_openai, start_bot, world, fake_discord, feed_server
):
    feed_url = feed_server.url("/show.xml")
    feed_server.pages["/show.xml"] = rss("Daily Garden", [("Back catalogue", "/old.mp3")])
    running = await start_with_feeds(
        start_bot, fake_lavalink, feed_server, transcribe_base_url=fake_openai.base_url,
        transcribe_api_key=fake_openai.api_key)
    plugin = music(running)

    refused = await fake_discord.slash(world.member, "podcasts auto-transcribe",
                                       {"feed": feed_url, "enabled": True})
    assert "Manage Server" in content(await refused.response()) and refused.ephemeral
    on = await fake_discord.slash(world.admin, "podcasts auto-transcribe",
                                  {"feed": feed_url, "enabled": True})
    assert "New episodes of **Daily Garden** will be transcribed" in content(await on.response())
    assert await AuditLog.filter(action="music.podcast_auto_transcribe").count() == 1
    assert await plugin.podcast_library.poll() == 0  # the back catalogue is not transcribed

    # Seven new episodes appear: a poll pays for at most five, the next for the rest.
    new = [(f"New {n}", f"/new{n}.mp3") for n in range(7)]
    feed_server.pages["/show.xml"] = rss("Daily Garden", [*new, ("Back catalogue", "/old.mp3")])
    for _title, path in new:
        feed_server.pages[path] = b"ID3 audio " + path.encode()
    long_text = " ".join(f"word{n}" for n in range(700))  # about 5,500 characters
    fake_openai.default_transcription = long_text
    assert await plugin.podcast_library.poll() == MAX_TRANSCRIPTS_PER_POLL
    assert await plugin.podcast_library.poll() == 2
    assert await plugin.podcast_library.poll() == 0
    calls = [r for r in fake_openai.requests if r.path == "/v1/audio/transcriptions"]
    assert len(calls) == 7 and "/old.mp3" not in feed_server.hits
    assert await PodcastTranscript.filter(status="done").count() == 7
    # Counted against the server's daily budget only (no member pressed anything).
    assert {(u.user_id, u.count) for u in await MusicTranscriptUsage.all()} == {(0, 7)}

    # Any member finds a transcribed episode by name and reads it in pages, with the file.
    choices = await fake_discord.autocomplete(world.member, "podcasts transcript",
                                              {"episode": "new 3"}, focused="episode")
    assert [c["name"] for c in choices] == ["New 3"]
    ix = await fake_discord.slash(world.member, "podcasts transcript",
                                  {"episode": choices[0]["value"]})
    page = await ix.wait_original()
    assert "**New 3**" in fake_discord.text_of(page) and "word0 word1" in fake_discord.text_of(page)
    assert "word699" not in fake_discord.text_of(page)
    nxt = next(c for c in custom_ids(page) if ":pg.last:" in c)
    last = await fake_discord.click(world.member, page, nxt)
    assert "word699" in fake_discord.text_of((await last.response())["data"])
    [file_message] = await ix.wait_followups(1)
    assert fake_discord.attachment_bytes(file_message) == long_text.encode()

    off = await fake_discord.slash(world.admin, "podcasts auto-transcribe",
                                   {"feed": feed_url, "enabled": False})
    assert "is off" in content(await off.response())
    feed_server.pages["/show.xml"] = rss("Daily Garden", [("Later", "/later.mp3"), *new])
    assert await plugin.podcast_library.poll() == 0


async def test_a_21_plus_transcript_is_for_verified_members_only(
    fake_lavalink, start_bot, world, fake_discord
):
    gate = AllowList()
    await start_music(start_bot, fake_lavalink, gate=gate)
    feed = await PodcastFeed.create(key="k", url="https://pods.example.com/420.xml",
                                    title="Cannabis Hour", fetched_at=datetime.now(UTC))
    episode = await PodcastEpisode.create(feed_id=feed.id, key="e", title="Terpenes",
                                          url="https://pods.example.com/terps.mp3")
    await PodcastTranscript.create(key=episode_key(episode.url), url=episode.url, status="done",
                                   text="All about terpenes.", claimed_at=datetime.now(UTC))

    async def suggested(member) -> list[str]:
        return [c["name"] for c in await fake_discord.autocomplete(
            member, "podcasts transcript", {"episode": "terp"}, focused="episode")]

    assert await suggested(world.member) == []  # not even the title
    denied = await fake_discord.slash(world.member, "podcasts transcript",
                                      {"episode": str(episode.id)})
    assert "cannabis content (21+)" in content(await denied.response()) and denied.ephemeral

    gate.verified.add(world.member.id)
    assert await suggested(world.member) == ["Terpenes"]
    ok = await fake_discord.slash(world.member, "podcasts transcript",
                                  {"episode": str(episode.id)})
    page = await ok.wait_original()
    # Not a 21+-only channel: the pages and the file are for the member alone.
    assert ok.ephemeral and "All about terpenes." in fake_discord.text_of(page)
    [file_message] = await ok.wait_followups(1)
    assert fake_discord.attachment_bytes(file_message) == b"All about terpenes."
