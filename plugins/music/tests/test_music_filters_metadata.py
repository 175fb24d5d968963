"""The explicit filter and blocked sources, end to end: the source's own explicit flag
(Lavalink pluginInfo) as well as the title, on a single /play, playlists, auto-queue,
/previous and /history replay, with preferences kept per server."""

from __future__ import annotations

from plugins.music.models import MusicMemberPreferences, MusicQueueEntry, UserMusicPreferences
from plugins.music.tests.e2e import content, find_id, music, start_music


def track_patches(fake_lavalink) -> list[str]:
    return [r.json["track"]["encoded"] for r in fake_lavalink.requests
            if r.method == "PATCH" and (r.json or {}).get("track", {}).get("encoded")]


async def set_prefs(fake_discord, member, channel=None, **prefs) -> str:
    kwargs = {"channel": channel} if channel is not None else {}
    ix = await fake_discord.slash(member, "music preferences", prefs, **kwargs)
    return content(await ix.response())


async def test_a_track_its_source_flags_explicit_is_refused_despite_a_clean_title(
    fake_lavalink, start_bot, world, fake_discord
):
    flagged = fake_lavalink.add_track("Sunny Afternoon", author="Band",
                                      plugin_info={"isExplicit": True})
    await start_music(start_bot, fake_lavalink)
    await set_prefs(fake_discord, world.member, explicit_filter=True)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": flagged["info"]["uri"]})
    text = content(await ix.response())
    assert "marked explicit and your explicit filter is on in this server" in text
    assert ix.ephemeral and track_patches(fake_lavalink) == []
    # Someone without the filter plays it.
    await fake_discord.voice_join(world.other, world.voice)
    ok = await fake_discord.slash(world.other, "play", {"query": flagged["info"]["uri"]})
    assert content(await ok.response()).startswith("Now playing **Sunny Afternoon")


async def test_words_play_the_first_result_the_filters_let_through(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Night Drive", author="Synth", plugin_info={"explicit": True})
    fake_lavalink.add_track("Night Drive (Radio Edit)", author="Synth")
    # A flag that is no boolean is no flag: the title decides (clean here).
    fake_lavalink.add_track("Night Drive Live", author="Synth",
                            plugin_info={"isExplicit": "maybe"})
    await start_music(start_bot, fake_lavalink)
    await set_prefs(fake_discord, world.member, explicit_filter=True)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": "night drive"})
    assert content(await ix.response()).startswith("Now playing **Night Drive (Radio Edit)")
    choices = await fake_discord.autocomplete(world.member, "play", {"query": "night drive"},
                                              focused="query")
    assert [c["name"].split(" — ")[0] for c in choices] == ["Night Drive (Radio Edit)",
                                                            "Night Drive Live"]


async def test_a_blocked_source_is_refused_on_a_single_play_and_dropped_from_playlists(
    fake_lavalink, start_bot, world, fake_discord
):
    sc = fake_lavalink.add_track("Cloud Song", author="Someone", source="soundcloud")
    yt = fake_lavalink.add_track("Tube Song", author="Someone")
    rude = fake_lavalink.add_track("Tube Rude", author="Someone",
                                   plugin_info={"isExplicit": True})
    playlist = fake_lavalink.add_playlist("Mixed Bag", [sc, yt, rude])
    await start_music(start_bot, fake_lavalink)
    text = await set_prefs(fake_discord, world.member, blocked_sources="soundcloud",
                           explicit_filter=True)
    assert "Blocked sources: soundcloud" in text
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": sc["info"]["uri"]})
    assert "Tracks from soundcloud are blocked by your preferences" in content(
        await ix.response())
    assert ix.ephemeral and track_patches(fake_lavalink) == []
    ok = await fake_discord.slash(world.member, "play", {"query": playlist["url"]})
    assert content(await ok.response()).startswith("Added 1 tracks from **Mixed Bag**")
    assert track_patches(fake_lavalink) == [yt["encoded"]]
    assert await MusicQueueEntry.all().count() == 0


async def test_preferences_belong_to_one_server(fake_lavalink, start_bot, world, fake_discord):
    flagged = fake_lavalink.add_track("Sunny Afternoon", author="Band",
                                      plugin_info={"isExplicit": True})
    await start_music(start_bot, fake_lavalink)
    elsewhere = fake_discord.create_guild("Elsewhere")
    there = elsewhere.add_member(world.member.user)
    await fake_discord.settle()
    await set_prefs(fake_discord, world.member, explicit_filter=True, volume=20)
    shown = await set_prefs(fake_discord, there, channel=elsewhere.text_channel)
    assert "Explicit filter: off" in shown and "Volume: server default" in shown
    await fake_discord.voice_join(there, elsewhere.voice_channel)
    ok = await fake_discord.slash(there, "play", {"query": flagged["info"]["uri"]},
                                  channel=elsewhere.text_channel)
    assert content(await ok.response()).startswith("Now playing **Sunny Afternoon")
    await fake_discord.voice_join(world.member, world.voice)
    refused = await fake_discord.slash(world.member, "play", {"query": flagged["info"]["uri"]})
    assert "explicit filter is on in this server" in content(await refused.response())
    rows = await MusicMemberPreferences.filter(user_id=world.member.id).values(
        "guild_id", "explicit_filter")
    assert rows == [{"guild_id": world.guild.id, "explicit_filter": True}]


async def test_preferences_saved_before_servers_apply_until_changed_here(
    fake_lavalink, start_bot, world, fake_discord
):
    flagged = fake_lavalink.add_track("Sunny Afternoon", author="Band",
                                      plugin_info={"isExplicit": True})
    await start_music(start_bot, fake_lavalink)
    # A member's preferences from before they were kept per server.
    await UserMusicPreferences.create(user_id=world.member.id, explicit_filter=True,
                                      volume=30, blocked_sources=["bandcamp"])
    await fake_discord.voice_join(world.member, world.voice)
    refused = await fake_discord.slash(world.member, "play", {"query": flagged["info"]["uri"]})
    assert "explicit filter is on" in content(await refused.response())
    text = await set_prefs(fake_discord, world.member, auto_queue=True)
    assert "Volume: 30" in text and "Explicit filter: on" in text
    row = await MusicMemberPreferences.get(guild_id=world.guild.id, user_id=world.member.id)
    assert (row.volume, row.explicit_filter, row.blocked_sources, row.auto_queue) == (
        30, True, ["bandcamp"], True)
    legacy = await UserMusicPreferences.get(user_id=world.member.id)
    assert legacy.auto_queue is False  # the old row is only the starting point


async def test_auto_queue_passes_over_a_related_track_flagged_explicit(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.time_scale = 50.0
    fake_lavalink.add_track("First Song", author="Band", length_ms=5_000)
    fake_lavalink.add_track("Band Hit", author="Band", length_ms=600_000,
                            plugin_info={"isExplicit": True})
    fake_lavalink.add_track("Band Ballad", author="Band", length_ms=600_000)
    await start_music(start_bot, fake_lavalink)
    await set_prefs(fake_discord, world.member, auto_queue=True, explicit_filter=True)
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "First Song"})).response()
    await fake_lavalink.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent"
        and e["track"]["info"]["title"] == "Band Ballad", timeout=10)
    assert not any(e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == "Band Hit"
                   for e in fake_lavalink.sent_events)


async def test_previous_and_history_replay_follow_the_filter_turned_on_since(
    fake_lavalink, start_bot, world, fake_discord
):
    flagged = fake_lavalink.add_track("Sunny Afternoon", author="Band",
                                      plugin_info={"isExplicit": True})
    fake_lavalink.add_track("Clean Tune", author="Band")
    running = await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play",
                                    {"query": flagged["info"]["uri"]})).response()
    await (await fake_discord.slash(world.member, "play", {"query": "Clean Tune"})).response()
    await (await fake_discord.slash(world.member, "skip")).response()
    # The flag travelled with the track through the queue into the history.
    assert [e.explicit for e in await music(running).history.page(world.guild.id, 0, 5)] == [
        False, True]
    await set_prefs(fake_discord, world.member, explicit_filter=True)
    back = await fake_discord.slash(world.member, "previous")
    assert "marked explicit" in content(await back.response()) and back.ephemeral
    ix = await fake_discord.slash(world.member, "history")
    await ix.wait_original()
    [chooser] = await ix.wait_followups(1)
    entry = (await music(running).history.page(world.guild.id, 1, 1))[0]
    picked = await fake_discord.select(world.member, chooser, find_id(chooser, "sl.pick"),
                                       [str(entry.id)], strict=True)
    assert "marked explicit" in content(await picked.response()) and picked.ephemeral
    assert await MusicQueueEntry.all().count() == 0
