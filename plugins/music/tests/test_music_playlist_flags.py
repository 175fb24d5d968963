"""A saved playlist keeps each track's explicit flag as its source gave it, so the explicit
filter judges a playlist replay as it judges /play: by the source's flag, not only the title."""

from __future__ import annotations

from plugins.music.models import MusicPlaylistTrack, MusicQueueEntry
from plugins.music.tests.e2e import content, start_music

LIST_URL = "https://www.youtube.com/playlist?list=PLsunday"


async def test_a_saved_track_its_source_flags_explicit_is_filtered_when_the_playlist_plays(
    fake_lavalink, start_bot, world, fake_discord
):
    rude = fake_lavalink.add_track("Sunny Afternoon", author="Band",
                                   plugin_info={"isExplicit": True})
    clean = fake_lavalink.add_track("Quiet Morning", author="Band")
    fake_lavalink.add_playlist("Sunday", [rude, clean], url=LIST_URL)
    await start_music(start_bot, fake_lavalink)
    saved = await fake_discord.slash(world.member, "playlist import", {"link": LIST_URL})
    assert "Imported **Sunday** with 2 tracks" in str(
        (await saved.wait_original(timeout=20)).get("content"))
    rows = await MusicPlaylistTrack.all().order_by("position")
    assert [(r.title, r.explicit) for r in rows] == [("Sunny Afternoon", True),
                                                     ("Quiet Morning", False)]

    # Another member, whose explicit filter is on here, plays the shared playlist: the
    # flagged track (clean title) is left out, as /play would leave it out.
    await (await fake_discord.slash(world.member, "playlist share",
                                    {"playlist": "Sunday", "shared": True})).response()
    prefs = await fake_discord.slash(world.other, "music preferences", {"explicit_filter": True})
    await prefs.response()
    await fake_discord.voice_join(world.other, world.voice)
    played = await fake_discord.slash(world.other, "playlist play", {"playlist": "Sunday"})
    assert content(await played.response()).startswith("Added 1 tracks from **Sunday**")
    await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and (r.json or {}).get("track"))
    patched = [r.json["track"]["encoded"] for r in fake_lavalink.requests
               if r.method == "PATCH" and (r.json or {}).get("track", {}).get("encoded")]
    assert patched == [clean["encoded"]]
    assert await MusicQueueEntry.all().count() == 0
