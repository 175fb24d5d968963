"""Lyrics of the playing track through the node's LavaLyrics plugin, end to end: pages for the
asker, clear answers when none are found, when the node lacks the plugin or when the lookup
takes too long, and a 21+ track's lyrics only for verified members."""

from __future__ import annotations

from bot.models import AuditLog
from growmies_testkit.fake_lavalink import LAVALYRICS_PLUGIN
from plugins.music.tests.e2e import AllowList, content, find_id, start_music

SONG = "Long Song"


def with_lyrics_plugin(fake) -> None:
    fake.plugins.append(dict(LAVALYRICS_PLUGIN))


async def listen(fake, fake_discord, world, title: str = SONG) -> None:
    fake.add_track(title, author="Band", length_ms=600_000)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": title})
    assert "Now playing" in content(await ix.response())


async def shown(fake_discord, ix) -> dict:
    """What the asker sees after the deferred answer: the message replacing "thinking…"."""
    response = await ix.response()
    assert ix.ephemeral and response["type"] == 5  # deferred, for the asker only
    return await ix.wait_original(lambda m: bool(m.get("content") or m.get("embeds")))


async def test_a_member_reads_the_lyrics_page_by_page(fake_lavalink, start_bot, world,
                                                     fake_discord):
    with_lyrics_plugin(fake_lavalink)
    lines = [(i * 4_000, f"Line number {i}") for i in range(30)]
    fake_lavalink.add_lyrics(SONG, lines, source="deezer", provider="Deezer")
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    ix = await fake_discord.slash(world.member, "music lyrics")
    page = await shown(fake_discord, ix)
    embed = page["embeds"][0]
    assert embed["title"] == f"Lyrics — {SONG}"
    assert embed["description"].splitlines()[0] == "`0:00` Line number 0"
    assert "Line number 24" in embed["description"]
    assert "Line number 25" not in embed["description"]
    assert embed["author"]["name"] == "deezer via Deezer"
    request = next(r for r in fake_lavalink.requests if r.path.endswith("/track/lyrics"))
    assert request.path.endswith(f"/players/{world.guild.id}/track/lyrics")
    assert request.query == {"skipTrackSource": "false"}
    nxt = await fake_discord.click(world.member, page, find_id(page, "pg.next"))
    second = (await nxt.response())["data"]["embeds"][0]
    assert second["description"].splitlines()[0] == "`1:40` Line number 25"


async def test_plain_text_lyrics_are_escaped(fake_lavalink, start_bot, world, fake_discord):
    with_lyrics_plugin(fake_lavalink)
    fake_lavalink.add_lyrics(SONG, text="Hello @everyone\n**not bold** <@123>\n")
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    page = await shown(fake_discord, await fake_discord.slash(world.member, "music lyrics"))
    description = page["embeds"][0]["description"]
    assert "@everyone" not in description.replace("@\u200beveryone", "")
    assert r"\*\*not bold\*\*" in description


async def test_no_lyrics_found_says_so(fake_lavalink, start_bot, world, fake_discord):
    with_lyrics_plugin(fake_lavalink)  # the plugin answers 204: no source has them
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    page = await shown(fake_discord, await fake_discord.slash(world.member, "music lyrics"))
    assert page["content"] == f"No lyrics found for **{SONG}**."


async def test_a_node_without_lavalyrics_is_explained(fake_lavalink, start_bot, world,
                                                      fake_discord):
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    page = await shown(fake_discord, await fake_discord.slash(world.member, "music lyrics"))
    assert page["content"].startswith(
        "Lyrics need the LavaLyrics plugin on the music server, and it doesn't have it.")
    assert not any("lyrics" in r.path for r in fake_lavalink.requests)


async def test_a_lyrics_lookup_that_takes_too_long_is_abandoned(fake_lavalink, start_bot, world,
                                                               fake_discord):
    with_lyrics_plugin(fake_lavalink)
    fake_lavalink.add_lyrics(SONG, [(0, "Too late")])
    fake_lavalink.lyrics_delay = 5.0  # the outside lyrics service hangs
    await start_music(start_bot, fake_lavalink, lyrics_timeout=0.5)
    await listen(fake_lavalink, fake_discord, world)
    page = await shown(fake_discord, await fake_discord.slash(world.member, "music lyrics"))
    assert page["content"] == ("The lyrics search took longer than 0.5 s, so I stopped "
                               "waiting. Try again in a moment.")


async def test_nothing_playing(fake_lavalink, start_bot, world, fake_discord):
    with_lyrics_plugin(fake_lavalink)
    await start_music(start_bot, fake_lavalink)
    page = await shown(fake_discord, await fake_discord.slash(world.member, "music lyrics"))
    assert page["content"] == "Nothing is playing. Use /play first, then ask for the lyrics."


async def test_lyrics_of_a_21_plus_track_only_for_verified_members(
    fake_lavalink, start_bot, world, fake_discord
):
    with_lyrics_plugin(fake_lavalink)
    fake_lavalink.add_lyrics("Kush Anthems", [(0, "Roll it up")])
    gate = AllowList()
    gate.verified.add(world.member.id)
    await start_music(start_bot, fake_lavalink, gate=gate)
    await listen(fake_lavalink, fake_discord, world, "Kush Anthems")
    other = await fake_discord.slash(world.other, "music lyrics")
    assert "cannabis content (21+)" in content(await other.response()) and other.ephemeral
    assert await AuditLog.filter(action="age_gate.denied", actor_id=world.other.id).count() == 1
    assert not any("lyrics" in r.path for r in fake_lavalink.requests)
    page = await shown(fake_discord, await fake_discord.slash(world.member, "music lyrics"))
    assert "Roll it up" in page["embeds"][0]["description"]


async def test_when_the_nodes_player_has_no_track_the_track_itself_is_looked_up(
    fake_lavalink, start_bot, world, fake_discord
):
    # E.g. just after a failover the node may not have started the track yet.
    with_lyrics_plugin(fake_lavalink)
    fake_lavalink.add_lyrics(SONG, [(0, "First line")])
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    fake_lavalink.fail_next_request("/v4/sessions/*/players/*/track/lyrics", 404,
                                    message="No track playing")
    page = await shown(fake_discord, await fake_discord.slash(world.member, "music lyrics"))
    assert "First line" in page["embeds"][0]["description"]
    lookup = next(r for r in fake_lavalink.requests if r.path == "/v4/lyrics")
    assert lookup.query["track"] == fake_lavalink.catalogue[0]["encoded"]


async def test_not_found_and_empty_answers_both_read_as_no_lyrics(fake_lavalink, start_bot,
                                                                   world, fake_discord):
    with_lyrics_plugin(fake_lavalink)
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    # 404 from the player endpoint, then 404 from the track lookup too.
    fake_lavalink.fail_next_request("/v4/sessions/*/players/*/track/lyrics", 404)
    fake_lavalink.fail_next_request("/v4/lyrics", 404)
    page = await shown(fake_discord, await fake_discord.slash(world.member, "music lyrics"))
    assert page["content"] == f"No lyrics found for **{SONG}**."
    # A source that answers with nothing in it.
    fake_lavalink.add_lyrics(SONG, [(0, "   ")], text="")
    page = await shown(fake_discord, await fake_discord.slash(world.member, "music lyrics"))
    assert page["content"] == f"No lyrics found for **{SONG}**."
