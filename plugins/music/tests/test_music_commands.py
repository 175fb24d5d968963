"""End to end: members use the music commands through the fake Discord, the real bot plays
through real wavelink on FakeLavalink."""

from __future__ import annotations

import asyncio
import re

from structlog.testing import capture_logs

from bot.models import AuditLog
from plugins.music.models import MusicQueueEntry, MusicSession
from plugins.music.tests.e2e import AllowList, content, find_id, music, start_music


async def test_without_a_node_music_says_it_is_not_set_up(start_bot, world, fake_discord,
                                                           caplog):
    await start_bot()  # no LAVALINK_NODES: the bot still starts, and says so in the log
    assert any(r.levelname == "WARNING" and "music.no_lavalink_nodes" in str(r.msg)
               for r in caplog.records)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": "lofi"})
    response = await ix.response()
    assert content(response) == ("Music is not set up on this bot: no Lavalink node is "
                                 "configured.")
    assert ix.ephemeral


async def test_lavalink_down_says_the_music_server_is_unreachable(fake_lavalink, start_bot,
                                                                  world, fake_discord):
    await start_music(start_bot, fake_lavalink)
    await fake_lavalink.kill()  # the node process dies; the bot keeps running
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": "lofi"})
    assert content(await ix.response()) == (
        "The music server is unreachable right now; nothing was changed. Try again in a minute.")
    assert ix.ephemeral


async def test_play_joins_self_deafened_and_plays(fake_lavalink, start_bot, world, fake_discord):
    fake_lavalink.add_track("Lofi Beats", author="Chill", length_ms=600_000)
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": "lofi"})
    assert content(await ix.response()) == "Now playing **Lofi Beats — Chill (10:00)**."
    patch = await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and (r.json or {}).get("track")
    )
    assert patch.json["volume"] == 60  # DEFAULT_VOLUME
    bot_state = fake_discord.voice_states[(world.guild.id, fake_discord.bot_user_id)]
    assert bot_state["self_deaf"] is True and int(bot_state["channel_id"]) == world.voice.id


async def test_play_outside_voice_and_empty_search_fail_cleanly(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    ix = await fake_discord.slash(world.member, "play", {"query": "lofi"})
    assert "Join a voice channel" in content(await ix.response()) and ix.ephemeral
    await fake_discord.voice_join(world.member, world.voice)
    for query, says in (
        ("   ", "Type a song name"),
        ("nothing like this", "Nothing found"),
        ("file:///etc/passwd", "Only http and https"),
        ("http://169.254.169.254/latest", "private or local"),
    ):
        ix = await fake_discord.slash(world.member, "play", {"query": query})
        assert says in content(await ix.response()), query
        assert ix.ephemeral
    assert await MusicQueueEntry.all().count() == 0


async def test_node_errors_on_search_are_explained(fake_lavalink, start_bot, world, fake_discord):
    fake_lavalink.add_track("Lofi Beats")
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    for status in (400, 500):
        fake_lavalink.fail_next_load(status)
        ix = await fake_discord.slash(world.member, "play", {"query": "lofi"})
        assert f"answered with an error ({status})" in content(await ix.response())


async def test_a_load_failure_naming_an_internal_host_is_not_shown(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.fail_load("broken", message="Connection refused: lavalink-secret.internal:2333",
                            cause="java.net.ConnectException: lavalink-secret.internal:2333")
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    with capture_logs() as logs:
        ix = await fake_discord.slash(world.member, "play", {"query": "broken"})
        text = content(await ix.response())
    ref = re.fullmatch(r"That track could not be loaded\. \(ref (\w{6})\)", text)
    assert ref is not None and ix.ephemeral, text
    logged = next(e for e in logs if e["event"] == "music.load_failed")
    assert logged["ref"] == ref[1] and "lavalink-secret.internal" in logged["error"]
    assert all("lavalink-secret" not in fake_discord.text_of(m)
               for m in fake_discord.channel_messages(world.channel.id))


async def test_big_playlist_into_a_nearly_full_queue_adds_what_fits(
    fake_lavalink, start_bot, world, fake_discord
):
    tracks = [fake_lavalink.add_track(f"Song {i}", length_ms=600_000) for i in range(5000)]
    playlist = fake_lavalink.add_playlist(
        "Huge", tracks, url="https://www.youtube.com/playlist?list=PLhuge"
    )
    await start_music(start_bot, fake_lavalink, max_queue_size=10)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": playlist["url"]})
    text = content(await ix.response())
    assert "Added 10 tracks from **Huge**" in text and "4990 of 5000 didn't fit" in text
    # One started playing, the other nine wait.
    assert await MusicQueueEntry.all().count() == 9


async def test_two_members_playing_at_once_are_both_queued(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("First", length_ms=600_000)
    fake_lavalink.add_track("Second", length_ms=600_000)
    fake_lavalink.add_track("Third", length_ms=600_000)
    await start_music(start_bot, fake_lavalink)
    for member in (world.member, world.other, world.dj):
        await fake_discord.voice_join(member, world.voice)
    first = await fake_discord.slash(world.dj, "play", {"query": "First"})
    await first.response()
    a, b = await asyncio.gather(
        fake_discord.slash(world.member, "play", {"query": "Second"}),
        fake_discord.slash(world.other, "play", {"query": "Third"}),
    )
    await asyncio.gather(a.response(), b.response())
    queued = [e.title for e in await MusicQueueEntry.all().order_by("position")]
    assert sorted(queued) == ["Second", "Third"]
    assert {e.requester_id for e in await MusicQueueEntry.all()} == {
        world.member.id,
        world.other.id,
    }


async def test_bounds_on_volume_and_seek(fake_lavalink, start_bot, world, fake_discord):
    fake_lavalink.add_track("Song", length_ms=180_000)
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "Song"})).response()
    for options, says in (({"time": "4:00"}, "past the end"), ({"time": "-5"}, "Give a time")):
        ix = await fake_discord.slash(world.member, "seek", options)
        assert says in content(await ix.response())
    ok = await fake_discord.slash(world.member, "seek", {"time": "1:30"})
    assert content(await ok.response()) == "Jumped to 1:30."
    await fake_lavalink.wait_for_request(lambda r: (r.json or {}).get("position") == 90_000)
    ix = await fake_discord.slash(world.member, "volume", {"level": 80})
    assert content(await ix.response()) == "Volume set to 80."
    await fake_lavalink.wait_for_request(lambda r: (r.json or {}).get("volume") == 80)


async def test_cannabis_track_needs_a_verified_member(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Strain Talk Weekly", author="Kush Radio", length_ms=600_000)
    gate = AllowList()
    await start_music(start_bot, fake_lavalink, gate=gate)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": "strain talk"})
    text = content(await ix.response())
    assert "cannabis content (21+)" in text and "/verify" in text and ix.ephemeral
    assert await MusicQueueEntry.all().count() == 0 and await MusicSession.all().count() == 0
    denied = await AuditLog.filter(action="age_gate.denied", actor_id=world.member.id).first()
    assert denied is not None and denied.target == "music.cannabis"

    gate.verified.add(world.member.id)
    ok = await fake_discord.slash(world.member, "play", {"query": "strain talk"})
    assert "Now playing **Strain Talk Weekly" in content(await ok.response())
    assert await AuditLog.filter(action="music.cannabis_queued").count() == 1


async def play_three(fake_lavalink, fake_discord, world):
    for title in ("One", "Two", "Three", "Four"):
        fake_lavalink.add_track(title, author="Band", length_ms=600_000)
    for member in (world.member, world.other, world.dj):
        await fake_discord.voice_join(member, world.voice)
    for title in ("One", "Two", "Three", "Four"):
        ix = await fake_discord.slash(world.member, "play", {"query": title})
        await ix.response()


async def test_queue_show_remove_move_shuffle_clear(fake_lavalink, start_bot, world, fake_discord):
    await start_music(start_bot, fake_lavalink)
    await play_three(fake_lavalink, fake_discord, world)
    show = await fake_discord.slash(world.member, "queue show")
    page = fake_discord.text_of(await show.wait_original())
    assert "Queue — 3 tracks" in page and "`1.` Two — Band" in page and "Now:** One" in page
    moved = await fake_discord.slash(world.member, "queue move", {"from": 3, "to": 1})
    assert content(await moved.response()) == "Moved **Four** to position 1."
    bad = await fake_discord.slash(world.member, "queue move", {"from": 9, "to": 1})
    assert "Positions go from 1 to 3" in content(await bad.response())
    not_theirs = await fake_discord.slash(world.other, "queue remove", {"position": 1})
    assert "Only DJs" in content(await not_theirs.response())
    removed = await fake_discord.slash(world.member, "queue remove", {"position": 1})
    assert content(await removed.response()) == "Removed **Four**."
    assert [e.title for e in await MusicQueueEntry.all().order_by("position")] == ["Two", "Three"]
    shuffled = await fake_discord.slash(world.member, "queue shuffle")
    assert content(await shuffled.response()) == "Shuffled 2 tracks."
    settings = await fake_discord.slash(world.admin, "music settings", {"dj_role": world.dj_role})
    assert f"DJ role: <@&{world.dj_role.id}>" in content(await settings.response())
    refused = await fake_discord.slash(world.member, "queue clear")
    assert "Only DJs" in content(await refused.response())
    cleared = await fake_discord.slash(world.dj, "queue clear")
    assert content(await cleared.response()) == "Cleared 2 tracks."
    # A group with subcommands is not runnable by itself: Discord only offers its leaves.
    command = next(
        c
        for c in fake_discord.commands(world.guild.id) or fake_discord.all_commands()
        if c["name"] == "queue"
    )
    assert {o["name"] for o in command["options"]} == {"show", "remove", "move", "shuffle", "clear",
                                                    "dedupe"}


async def test_vote_skip_needs_more_than_half_and_djs_skip_at_once(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    await play_three(fake_lavalink, fake_discord, world)
    await (
        await fake_discord.slash(world.admin, "music settings", {"dj_role": world.dj_role})
    ).response()
    # world.member queued "One"; carol is one of three listeners: two votes are needed.
    vote = await fake_discord.slash(world.other, "skip")
    assert content(await vote.response()) == "Vote to skip: 1/2."
    outside = world.guild.add_member("erin-outside")
    away = await fake_discord.slash(outside, "skip")
    assert "to control the music" in content(await away.response()) and away.ephemeral
    dj = await fake_discord.slash(world.dj, "skip")
    assert content(await dj.response()).startswith("Skipped **One**. Now playing **Two")
    await fake_lavalink.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == "Two"
    )


async def test_nowplaying_buttons_work_and_refuse_cleanly(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    await play_three(fake_lavalink, fake_discord, world)
    ix = await fake_discord.slash(world.member, "nowplaying")
    message = await ix.wait_original()
    embed = message["embeds"][0]
    assert embed["title"] == "One" and "🔘" in embed["description"]
    pause = await fake_discord.click(world.other, message, find_id(message, "np.pause"))
    await pause.response()
    await fake_lavalink.wait_for_request(lambda r: (r.json or {}).get("paused") is True)
    assert (await MusicSession.get(guild_id=world.guild.id)).paused is True

    outside = world.guild.add_member("erin-outside")
    skip = await fake_discord.click(outside, message, find_id(message, "np.skip"))
    assert "to control the music" in content(await skip.response())

    refused = await fake_discord.click(world.other, message, find_id(message, "np.stop"))
    assert "Only DJs can stop" in content(await refused.response())
    await fake_discord.voice_join(world.admin, world.voice)
    stop = await fake_discord.click(world.admin, message, find_id(message, "np.stop"))
    await stop.response()
    assert await MusicSession.all().count() == 0 and await MusicQueueEntry.all().count() == 0
    late = await fake_discord.click(world.member, message, find_id(message, "np.pause"))
    assert "Nothing is playing" in content(await late.response())


async def test_nowplaying_buttons_keep_working_after_a_restart(
    fake_lavalink, start_bot, world, fake_discord
):
    running = await start_music(start_bot, fake_lavalink)
    await play_three(fake_lavalink, fake_discord, world)
    ix = await fake_discord.slash(world.member, "nowplaying")
    message = await ix.wait_original()
    await running.kill()
    # In-process the killed bot's objects linger (a real SIGKILL ends them): keep them quiet.
    music(running).playback.closing = True

    running = await start_music(start_bot, fake_lavalink)
    playback = music(running).playback
    await playback.wait_for(lambda: playback.current.get(world.guild.id) is not None)
    pause = await fake_discord.click(world.member, message, find_id(message, "np.pause"))
    response = await pause.response()
    assert response["type"] == 7  # the message itself is updated
    assert response["data"]["embeds"][0]["footer"]["text"].startswith("Paused")
    await fake_lavalink.wait_for_request(lambda r: (r.json or {}).get("paused") is True)


async def test_controlling_a_21_plus_track_needs_verification(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Kush Anthems", author="Stoner Band", length_ms=600_000)
    gate = AllowList()
    gate.verified.add(world.member.id)
    await start_music(start_bot, fake_lavalink, gate=gate)
    for member in (world.member, world.other):
        await fake_discord.voice_join(member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "kush"})).response()
    ix = await fake_discord.slash(world.other, "pause")
    assert "cannabis content (21+)" in content(await ix.response()) and ix.ephemeral
    denied = await AuditLog.filter(action="age_gate.denied", actor_id=world.other.id).count()
    assert denied == 1
    np = await fake_discord.slash(world.member, "nowplaying")
    message = await np.wait_original()
    click = await fake_discord.click(world.other, message, find_id(message, "np.skip"))
    assert "/verify" in content(await click.response())
    assert await AuditLog.filter(action="age_gate.denied", actor_id=world.other.id).count() == 2


async def test_volume_bounds_and_track_length_limit(fake_lavalink, start_bot, world, fake_discord):
    fake_lavalink.add_track("Endless Mix", length_ms=3 * 3_600_000)
    fake_lavalink.add_track("Short Tune", length_ms=120_000)
    running = await start_music(start_bot, fake_lavalink)
    await (
        await fake_discord.slash(world.admin, "music settings", {"max_track_minutes": 60})
    ).response()
    await fake_discord.voice_join(world.member, world.voice)
    long = await fake_discord.slash(world.member, "play", {"query": "Endless Mix"})
    assert "limit of 60 minutes" in content(await long.response())
    await (await fake_discord.slash(world.member, "play", {"query": "Short Tune"})).response()
    # Discord's client refuses 999 for a 0–150 option; the service refuses it too.
    try:
        refused = await fake_discord.slash(world.member, "volume", {"level": 999})
    except ValueError:
        refused = None
    if refused is not None:
        assert "0 to 150" in content(await refused.response())
    import pytest

    from bot.api import UserError

    with pytest.raises(UserError, match="0 to 150"):
        await music(running).controls.volume(world.guild.id, world.member.id, world.voice.id, 999)
