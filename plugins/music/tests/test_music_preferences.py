"""Preferences, settings, autocomplete, auto-queue and idle leaving, end to end."""

from __future__ import annotations

from plugins.music.models import MusicGuildSettings, MusicMemberPreferences, MusicSession
from plugins.music.tests.e2e import AllowList, content, music, start_music


async def test_preferences_are_saved_and_shape_suggestions(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Chill Mix", author="Lofi Girl", length_ms=600_000)
    fake_lavalink.add_track("Chill Weed Session", author="Stoner Beats", length_ms=600_000)
    fake_lavalink.add_track("Chill Explicit Remix", author="Rapper", length_ms=600_000)
    gate = AllowList()
    gate.verified.add(world.member.id)  # 21+ suggestions need a verified member
    await start_music(start_bot, fake_lavalink, gate=gate)
    choices = await fake_discord.autocomplete(
        world.member, "play", {"query": "chill"}, focused="query"
    )
    names = [c["name"] for c in choices]
    # 21+ tracks only appear for members who opted in to cannabis content.
    assert names == ["Chill Mix — Lofi Girl (10:00)", "Chill Explicit Remix — Rapper (10:00)"]
    assert all(len(c["value"]) <= 100 for c in choices)

    ix = await fake_discord.slash(
        world.member,
        "music preferences",
        {
            "volume": 35,
            "explicit_filter": True,
            "cannabis_content": True,
            "blocked_sources": "SoundCloud, ",
        },
    )
    text = content(await ix.response())
    assert "Volume: 35" in text and "Blocked sources: soundcloud" in text and ix.ephemeral
    # Saved for this server (preferences are per server and member).
    prefs = await MusicMemberPreferences.get(guild_id=world.guild.id, user_id=world.member.id)
    assert (
        prefs.explicit_filter and prefs.cannabis_opt_in and prefs.blocked_sources == ["soundcloud"]
    )
    choices = await fake_discord.autocomplete(
        world.member, "play", {"query": "chill"}, focused="query"
    )
    assert [c["name"] for c in choices] == [
        "Chill Mix — Lofi Girl (10:00)",
        "Chill Weed Session — Stoner Beats (10:00)",
    ]
    # The preferred volume is used when this member starts the music.
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "Chill Mix"})).response()
    patch = await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and (r.json or {}).get("track")
    )
    assert patch.json["volume"] == 35
    assert (
        await fake_discord.autocomplete(world.member, "play", {"query": "c"}, focused="query") == []
    )


async def test_settings_need_manage_server_and_bound_the_queue(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    denied = await fake_discord.slash(world.member, "music settings", {"max_queue_size": 5})
    assert "Manage Server" in content(await denied.response())
    ok = await fake_discord.slash(
        world.admin,
        "music settings",
        {"max_queue_size": 500, "cannabis_source": "https://Weedradio.example/x", "24-7": True},
    )
    text = content(await ok.response())
    assert "Queue limit: 500" in text and "weedradio.example" in text and "24/7 mode: on" in text
    settings = await MusicGuildSettings.get(guild_id=world.guild.id)
    assert settings.always_on and settings.cannabis_sources == ["weedradio.example"]


async def test_auto_queue_then_idle_leaving(fake_lavalink, start_bot, world, fake_discord):
    fake_lavalink.time_scale = 50.0
    fake_lavalink.add_track("First Song", author="Band", length_ms=5_000)
    fake_lavalink.add_track("Band Deep Cut", author="Band", length_ms=5_000)
    running = await start_music(start_bot, fake_lavalink)
    plugin = music(running)
    plugin.playback.minute = 0.2
    await (await fake_discord.slash(world.admin, "music settings", {"idle_minutes": 1})).response()
    await (
        await fake_discord.slash(world.member, "music preferences", {"auto_queue": True})
    ).response()
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "First Song"})).response()
    # The queue is empty when First Song ends: auto-queue picks another by the same artist.
    await fake_lavalink.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == "Band Deep Cut",
        timeout=10,
    )
    left = await fake_discord.wait_for_message(
        world.channel.id,
        lambda m: "Left the voice channel" in (m.get("content") or ""),
        since=0,
        timeout=10,
    )
    assert "after 1 minute(s)" in left["content"]
    assert await MusicSession.all().count() == 0


async def test_24_7_mode_stays_in_the_channel(fake_lavalink, start_bot, world, fake_discord):
    fake_lavalink.time_scale = 50.0
    fake_lavalink.add_track("Only Song", author="Solo", length_ms=5_000)
    running = await start_music(start_bot, fake_lavalink)
    plugin = music(running)
    plugin.playback.minute = 0.01
    await (await fake_discord.slash(world.admin, "music settings", {"24-7": True})).response()
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "Only Song"})).response()
    await plugin.playback.wait_for(
        lambda: (
            world.guild.id in plugin.playback._idle and plugin.playback._idle[world.guild.id].done()
        ),
        timeout=10,
    )
    assert await MusicSession.filter(guild_id=world.guild.id).exists()
    assert world.guild.id in plugin.playback.players


async def test_privacy_export_and_delete(fake_lavalink, start_bot, world, fake_discord):
    fake_lavalink.add_track("Song A", length_ms=600_000)
    fake_lavalink.add_track("Song B", length_ms=600_000)
    running = await start_music(start_bot, fake_lavalink)
    await (
        await fake_discord.slash(
            world.member, "music preferences", {"favourite_genres": "Jazz, lofi"}
        )
    ).response()
    await fake_discord.voice_join(world.member, world.voice)
    for title in ("Song A", "Song B"):
        await (await fake_discord.slash(world.member, "play", {"query": title})).response()
    plugin = music(running)
    exported = await plugin.export_user_data(world.member.id)
    [here] = exported["preferences_per_server"]
    assert here["guild_id"] == world.guild.id and here["favourite_genres"] == ["jazz", "lofi"]
    assert [q["title"] for q in exported["queued_tracks"]] == ["Song B"]
    assert [p["title"] for p in exported["played_tracks"]] == ["Song A"]
    # Preferences here, the queued Song B and the played Song A in the history.
    assert await plugin.delete_user_data(world.member.id) == 3
    assert await plugin.export_user_data(world.member.id) == {
        "preferences": None,
        "queued_tracks": [],
        "transcripts_per_day": [],  # none made; made ones stay counted (see the README)
        "preferences_per_server": [],
        "played_tracks": [],
        "playlists": [],
        "meditation_sessions": [],
    }
    assert await plugin.queue.is_empty(world.guild.id)


async def test_playlists_respect_blocked_sources_and_meditation_mode_picks_genres(
    fake_lavalink, start_bot, world, fake_discord
):
    tracks = [
        fake_lavalink.add_track("Yt One", length_ms=600_000),
        fake_lavalink.add_track("Sc One", length_ms=600_000, source="soundcloud"),
        fake_lavalink.add_track("Yt Two", length_ms=600_000),
    ]
    playlist = fake_lavalink.add_playlist("Mixed", tracks)
    fake_lavalink.add_track("Rain Meditation", author="Calm", length_ms=600_000)
    running = await start_music(start_bot, fake_lavalink)
    await (
        await fake_discord.slash(
            world.member,
            "music preferences",
            {"blocked_sources": "soundcloud", "meditation_mode": True, "favourite_genres": "rain"},
        )
    ).response()
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": playlist["url"]})
    assert "Added 2 tracks from **Mixed**" in content(await ix.response())
    await (await fake_discord.slash(world.member, "stop")).response()

    plugin = music(running)
    plugin.meditation.minute = 60.0
    med = await fake_discord.slash(world.member, "meditate start", {"minutes": 10})
    assert "Meditation started" in content(await med.response())
    search = await fake_lavalink.wait_for_request(
        lambda r: r.path == "/v4/loadtracks" and "meditation" in r.query["identifier"]
    )
    assert search.query["identifier"] == "ytsearch:rain meditation"
