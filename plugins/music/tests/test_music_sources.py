"""Spotify, Apple Music and Deezer through the node's LavaSrc plugin, end to end: links and
spsearch:/amsearch:/dzsearch: searches play when the node offers the service; otherwise the
member learns what an admin has to configure, and nothing is asked of the node."""

from __future__ import annotations

import logging

from growmies_testkit.fake_lavalink import DEFAULT_SOURCE_MANAGERS, LAVASRC_PLUGIN
from plugins.music.tests.e2e import content, start_music

SPOTIFY_LINK = "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC"
APPLE_LINK = "https://music.apple.com/us/album/never-gonna-give-you-up/1558533900?i=1558534271"
DEEZER_LINK = "https://www.deezer.com/track/3135556"


def with_lavasrc(fake, *sources: str) -> None:
    fake.plugins.append(dict(LAVASRC_PLUGIN))
    fake.source_managers = [*DEFAULT_SOURCE_MANAGERS, *sources]


def loads(fake) -> list[str]:
    return [r.query.get("identifier", "") for r in fake.requests if r.path == "/v4/loadtracks"]


async def play(fake_discord, world, query: str):
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": query})
    return ix, content(await ix.response())


async def test_a_spotify_link_plays_through_lavasrc(fake_lavalink, start_bot, world,
                                                   fake_discord):
    with_lavasrc(fake_lavalink, "spotify")
    fake_lavalink.add_track(
        "Never Gonna Give You Up", author="Rick Astley", length_ms=213_000, source="spotify",
        identifier="4uLU6hMCjMI75M1A2tKUQC", uri=SPOTIFY_LINK, isrc="GBARL9300135",
        plugin_info={"albumName": "Whenever You Need Somebody", "isPreview": False,
                     "artistUrl": "https://open.spotify.com/artist/0gxyHStUsqpMadRV0Di1Qt"})
    await start_music(start_bot, fake_lavalink)
    _, text = await play(fake_discord, world, SPOTIFY_LINK)
    assert text == "Now playing **Never Gonna Give You Up — Rick Astley (3:33)**."
    assert loads(fake_lavalink) == [SPOTIFY_LINK]
    patch = await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and (r.json or {}).get("track"))
    assert fake_lavalink.decode(patch.json["track"]["encoded"])["info"]["sourceName"] == "spotify"


async def test_spsearch_amsearch_and_dzsearch_are_sent_as_typed(fake_lavalink, start_bot,
                                                              world, fake_discord):
    with_lavasrc(fake_lavalink, "spotify", "applemusic", "deezer")
    fake_lavalink.add_track("Blinding Lights", author="The Weeknd", source="spotify")
    await start_music(start_bot, fake_lavalink)
    for prefix in ("spsearch:", "amsearch:", "dzsearch:"):
        _, text = await play(fake_discord, world, f"{prefix}Blinding Lights")
        assert "Blinding Lights" in text
    assert loads(fake_lavalink) == [f"{p}Blinding Lights"
                                    for p in ("spsearch:", "amsearch:", "dzsearch:")]


async def test_a_server_with_its_own_spotify_source_plays_the_link_without_lavasrc(
    fake_lavalink, start_bot, world, fake_discord
):
    # NodeLink has Spotify, Deezer and Apple Music built in: its /v4/info lists `spotify` in
    # sourceManagers and no LavaSrc plugin. The link is the server's to resolve.
    fake_lavalink.source_managers = [*DEFAULT_SOURCE_MANAGERS, "spotify"]
    fake_lavalink.add_track("Never Gonna Give You Up", author="Rick Astley", length_ms=213_000,
                            source="spotify", uri=SPOTIFY_LINK)
    await start_music(start_bot, fake_lavalink)
    _, text = await play(fake_discord, world, SPOTIFY_LINK)
    assert text == "Now playing **Never Gonna Give You Up — Rick Astley (3:33)**."
    assert loads(fake_lavalink) == [SPOTIFY_LINK]


async def test_without_lavasrc_a_spotify_link_says_what_to_install(fake_lavalink, start_bot,
                                                                  world, fake_discord):
    await start_music(start_bot, fake_lavalink)
    ix, text = await play(fake_discord, world, SPOTIFY_LINK)
    assert ix.ephemeral
    assert text == (
        "Spotify links can't be played here yet: the LavaSrc plugin isn't installed on the "
        "music server. An admin adds it to lavalink/application.yml (see the music README), "
        "then restarts Lavalink. Until then, search by the song's name.")
    assert loads(fake_lavalink) == []


async def test_without_credentials_the_message_names_the_settings(fake_lavalink, start_bot,
                                                                 world, fake_discord):
    with_lavasrc(fake_lavalink)  # the plugin, but no service switched on
    await start_music(start_bot, fake_lavalink)
    _, text = await play(fake_discord, world, DEEZER_LINK)
    assert text.startswith("Deezer links can't be played here yet: Deezer isn't set up. An "
                           "admin sets MUSIC_DEEZER_MASTER_KEY and MUSIC_DEEZER_ARL in .env "
                           "and turns on `deezer` under plugins.lavasrc.sources")
    _, text = await play(fake_discord, world, "amsearch:never gonna")
    assert text.startswith("Apple Music searches can't be played here yet: Apple Music isn't "
                           "set up. An admin sets MUSIC_APPLE_MUSIC_MEDIA_TOKEN in .env")
    assert loads(fake_lavalink) == []


async def test_credentials_set_but_the_source_off_says_to_switch_it_on(
    fake_lavalink, start_bot, world, fake_discord, caplog
):
    with_lavasrc(fake_lavalink)
    with caplog.at_level(logging.DEBUG):
        await start_music(start_bot, fake_lavalink, spotify_client_id="app-id",
                          spotify_client_secret="s3cr3t-spotify")
        _, text = await play(fake_discord, world, SPOTIFY_LINK)
    assert text.startswith("Spotify links can't be played here yet: the music server's "
                           "LavaSrc has Spotify switched off. An admin turns on `spotify` "
                           "under plugins.lavasrc.sources in lavalink/application.yml")
    assert "s3cr3t-spotify" not in caplog.text


async def test_an_apple_music_link_without_the_service_on_the_fake_node_finds_nothing(
    fake_lavalink, start_bot, world, fake_discord
):
    # The fake node itself refuses a LavaSrc link whose source is off (as a real node finds
    # no matches): the bot never gets that far, but other clients of the test kit do.
    fake_lavalink.add_track("Song", source="applemusic", uri=APPLE_LINK)
    assert fake_lavalink._load(APPLE_LINK)["loadType"] == "empty"
    fake_lavalink.source_managers.append("applemusic")
    assert fake_lavalink._load(APPLE_LINK)["loadType"] == "track"
