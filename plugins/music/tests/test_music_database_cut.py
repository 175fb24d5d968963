"""The database goes away for a while under the music plugin's new features and comes back:
nothing is left half-done, nobody is told something false, and the work that could not be done
during the cut is done once it is back, once."""

from __future__ import annotations

import asyncio

from bot.api import DatabaseUnavailable
from bot.models import AuditLog
from growmies_testkit.databases import database_refused
from plugins.llm.models import LLMGuildUsage, LLMPaidWork
from plugins.music.models import (
    MeditationSession,
    MusicPlaylist,
    MusicSession,
    PodcastTranscript,
)
from plugins.music.tests import test_music_podcast_feeds as feeds
from plugins.music.tests.e2e import content, music, start_music
from plugins.music.tests.test_music_effects import listen, next_filter_patch
from plugins.music.tests.test_music_meditation_stop import meditating
from plugins.music.tests.test_music_playlists import LIST_URL, evening, say, titles
from plugins.music.tests.test_music_transcript_budget import (
    EP2,
    delivered,
    paid_calls,
    press,
)
from plugins.music.tests.test_music_transcript_budget import start as start_transcribing

DOWN = DatabaseUnavailable().message
feed_server = feeds.feed_server  # the feed tests' local HTTP server (a fixture)


async def test_a_meditation_ending_during_a_database_cut_ends_once_when_it_is_back(
    fake_lavalink, start_bot, world, fake_discord
):
    _running, plugin, xp, session = await meditating(
        fake_lavalink, start_bot, world, fake_discord, listeners=("member", "other"))
    plugin.meditation.retry_seconds = 0.05
    with database_refused() as refused:
        # The timer reaches the end while the database refuses: its UPDATE fails.
        while not session.finishing:
            refused.clear()
            await refused.wait()
        # The session is still being ended: a new one is refused with a clear answer.
        again = await fake_discord.slash(world.member, "meditate start",
                                         {"minutes": 1, "query": "calm"})
        assert "already playing" in (await again.response())["data"]["content"]
        refused.clear()
        await refused.wait()  # it keeps trying, not given up after one failure
        assert not session.finished.is_set()
    # Back: it ends, once, paying those who were there at the end, once.
    await asyncio.wait_for(session.finished.wait(), 10)
    row = await MeditationSession.get(guild_id=world.guild.id)
    assert row.ended_at is not None and row.completed and row.stayed == 2
    assert sorted(user for _, user, _, _ in xp.awards) == sorted([world.member.id,
                                                                  world.other.id])
    assert await AuditLog.filter(action="music.meditation_completed").count() == 1
    ended = [m for m in fake_discord.channel_messages(world.channel.id)
             if "session has ended" in (m.get("content") or "")]
    assert len(ended) == 1
    assert await plugin.meditation.abandon(world.guild.id) is False
    assert await plugin.meditation.finish(session) is False
    assert await MusicSession.filter(active=True).count() == 0
    assert world.guild.id not in plugin.meditation.sessions
    # And the server is free for the next session without a restart.
    fresh = await fake_discord.slash(world.member, "meditate start",
                                     {"minutes": 1, "query": "calm"})
    assert "Meditation started" in (await fresh.response())["data"]["content"]


async def test_an_effect_that_cannot_be_kept_during_a_cut_is_taken_back_and_said_so(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    ok = await fake_discord.slash(world.member, "music equalizer", {"band": 3, "gain": 0.25})
    assert content(await ok.response()) == "Equalizer band 3 set to +0.25."
    kept = await next_filter_patch(fake_lavalink, lambda f: "equalizer" in f)
    with database_refused():
        # The node takes the change, then the session row can't be written.
        ix = await fake_discord.slash(world.member, "music equalizer",
                                      {"band": 0, "gain": 0.5})
        answer = content(await ix.response())
    assert answer == DOWN and ix.ephemeral
    # What everyone hears is what the session keeps: the change was taken back.
    player = fake_lavalink.players[world.guild.id]
    assert player.filters["equalizer"] == kept.json["filters"]["equalizer"]
    session = await MusicSession.get(guild_id=world.guild.id)
    assert session.effects["filters"]["equalizer"][0]["gain"] == 0.0
    assert session.effects["filters"]["equalizer"][3]["gain"] == 0.25
    assert await AuditLog.filter(action="music.effect_changed").count() == 1
    # Back: the same change works and is kept.
    again = await fake_discord.slash(world.member, "music equalizer", {"band": 0, "gain": 0.5})
    assert content(await again.response()) == "Equalizer band 0 set to +0.5."
    session = await MusicSession.get(guild_id=world.guild.id)
    assert session.effects["filters"]["equalizer"][0]["gain"] == 0.5


async def test_a_playlist_edit_cut_off_half_way_leaves_no_half_written_playlist(
    fake_lavalink, start_bot, world, fake_discord
):
    evening(fake_lavalink)
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    await say(fake_discord, world.member, "play", {"query": LIST_URL})
    # The playlist row goes in, then the connection drops before its tracks do.
    with database_refused(when=lambda sql: "music_playlist_track" in sql
                          and sql.lstrip().upper().startswith("INSERT")):
        text, private = await say(fake_discord, world.member, "playlist create",
                                  {"name": "Evening"})
    assert text == DOWN and private
    assert not await MusicPlaylist.exists()
    text, _ = await say(fake_discord, world.member, "playlist create", {"name": "Evening"})
    assert text == "Saved **Evening** with 12 tracks from the queue."
    fake_lavalink.add_track("Night Owl", author="Calm", length_ms=600_000)
    # The tracks go in, then the connection drops before the count is updated.
    with database_refused(when=lambda sql: sql.lstrip().upper().startswith("UPDATE")
                          and "track_count" in sql):
        text, private = await say(fake_discord, world.member, "playlist add",
                                  {"playlist": "Evening", "query": "Night Owl"})
    assert text == DOWN and private
    assert await titles("Evening") == [f"Evening Song {i}" for i in range(1, 13)]
    text, _ = await say(fake_discord, world.member, "playlist add",
                        {"playlist": "Evening", "query": "Night Owl"})
    assert "Night Owl" in text
    assert (await titles("Evening"))[-1] == "Night Owl"


async def test_a_transcript_paid_for_as_the_database_drops_is_delivered_and_stored_later(
    fake_lavalink, fake_openai, start_bot, world, fake_discord
):
    running = await start_transcribing(start_bot, fake_lavalink, fake_openai)
    transcripts = music(running).transcripts
    transcripts.store_retry = 0.05  # 30 s in production
    deferred = running.bot.plugins.plugins["llm"].chat.ledger.deferred
    deferred.retry_seconds = 0.05  # 10 s in production
    fake_openai.transcription_seconds = 90.0
    await fake_discord.voice_join(world.member, world.voice)
    # The paid call goes through; then the database drops: storing the text and settling
    # the AI budget meet the outage.
    ix = await fake_discord.slash(world.member, "podcast", {"url": EP2})
    episode = await ix.wait_original()
    with database_refused(when=lambda sql: paid_calls(fake_openai) >= 1):
        assert delivered(await press(fake_discord, world.member, episode))
        assert paid_calls(fake_openai) == 1
        # Pressed again during the outage: served from what was paid for.
        assert delivered(await press(fake_discord, world.member, episode))
        assert paid_calls(fake_openai) == 1
    await transcripts.stored()
    await deferred.written()
    row = await PodcastTranscript.get()
    assert row.status == "done" and row.text
    assert paid_calls(fake_openai) == 1
    # What it cost is on the server's month once, the hold given back, the work counted.
    month = await LLMGuildUsage.get(guild_id=world.guild.id)
    assert (month.used_tokens, month.reserved_tokens) == (1_500, 0)
    work = await LLMPaidWork.get(guild_id=world.guild.id, user_id=world.member.id)
    assert (work.tokens, work.uses) == (1_500, 1)


async def test_a_track_ending_during_a_cut_is_followed_by_the_next_once_it_is_back(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Short Intro", author="Band", length_ms=1_500)
    second = fake_lavalink.add_track("Long Song", author="Band", length_ms=600_000)
    running = await start_music(start_bot, fake_lavalink)
    music(running).playback.advancing.retry_seconds = 0.05  # 5 s in production
    await fake_discord.voice_join(world.member, world.voice)
    for query in ("Short Intro", "Long Song"):
        ix = await fake_discord.slash(world.member, "play", {"query": query})
        await ix.response()
    with database_refused() as refused:
        await fake_lavalink.wait_for_event(
            lambda e: e["type"] == "TrackEndEvent" and e["reason"] == "finished", timeout=10)
        refused.clear()
        await refused.wait()  # the next track can't be read yet; it is tried again
        refused.clear()
        await refused.wait()
    # Back: the queue goes on by itself, with the next track, not a skip past it.
    start = await fake_lavalink.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent"
        and e["track"]["encoded"] == second["encoded"], timeout=10)
    assert start["track"]["info"]["title"] == "Long Song"
    playback = music(running).playback
    await playback.wait_for(lambda: (playback.current.get(world.guild.id) or None) is not None
                            and playback.current[world.guild.id].title == "Long Song")
    starts = [e["track"]["info"]["title"] for e in fake_lavalink.sent_events
              if e["type"] == "TrackStartEvent"]
    assert starts == ["Short Intro", "Long Song"]


def _controls(message: dict) -> list[tuple[str, dict]]:
    return [(c["custom_id"], c) for row in message.get("components", [])
            for c in row["components"] if "custom_id" in c and not c.get("disabled")]


async def test_every_music_control_pressed_during_a_cut_is_answered_clearly(
    fake_lavalink, start_bot, world, fake_discord
):
    evening(fake_lavalink, n=25)
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    await say(fake_discord, world.member, "play", {"query": LIST_URL})
    shown = []
    for command in ("queue show", "music effects", "history", "nowplaying", "playlist list"):
        ix = await fake_discord.slash(world.member, command)
        shown.append(await ix.wait_original())
    shown += [m for m in fake_discord.channel_messages(world.channel) if m.get("components")]
    controls = [(message, cid, c) for message in shown for cid, c in _controls(message)]
    assert len({cid.split(":")[1] for _, cid, _ in controls}) >= 5  # pages, menu, buttons
    with database_refused():
        pressed = []
        for message, cid, component in controls:
            if component["type"] == 3:
                value = component["options"][0]["value"]
                pressed.append(await fake_discord.select(world.member, message, cid, [value]))
            else:
                pressed.append(await fake_discord.click(world.member, message, cid))
        answers = []
        for ix in pressed:
            resp = await ix.response(timeout=10)
            if resp["type"] in (5, 6):
                last = (await ix.wait_followups(1))[-1]
                answers.append((str(last.get("content") or ""),
                                bool(int(last.get("flags") or 0) & 64)))
            elif resp["type"] == 9:
                answers.append((DOWN, True))  # a form opens (jump to page): it shows no data
            else:
                answers.append((content(resp), ix.ephemeral))
    for (_, cid, _), (said, private) in zip(controls, answers, strict=True):
        assert said == DOWN and private, (cid, said)
    # Back: the controls work again.
    page = await fake_discord.slash(world.member, "queue show")
    assert "Evening Song" in fake_discord.text_of(await page.wait_original())


async def test_the_podcast_poll_outlives_a_cut_and_transcribes_once_it_is_back(
    fake_lavalink, fake_openai, start_bot, world, fake_discord, feed_server, monkeypatch
):
    feed_url = feed_server.url("/show.xml")
    feed_server.pages["/show.xml"] = feeds.rss("Daily Garden", [("Back catalogue", "/old.mp3")])
    running = await feeds.start_with_feeds(
        start_bot, fake_lavalink, feed_server, transcribe_base_url=fake_openai.base_url,
        transcribe_api_key=fake_openai.api_key)
    plugin = music(running)
    await plugin.podcast_poll.stop()
    on = await fake_discord.slash(world.admin, "podcasts auto-transcribe",
                                  {"feed": feed_url, "enabled": True})
    await on.response()
    assert await plugin.podcast_library.poll() == 0
    feed_server.pages["/show.xml"] = feeds.rss(
        "Daily Garden", [("New 1", "/new1.mp3"), ("Back catalogue", "/old.mp3")])
    feed_server.pages["/new1.mp3"] = b"ID3 audio"
    made = asyncio.Event()
    get = plugin.transcripts.get

    async def get_and_tell(*args, **kwargs):
        text = await get(*args, **kwargs)
        made.set()
        return text

    monkeypatch.setattr(plugin.transcripts, "get", get_and_tell)
    assert plugin.podcast_poll.retry == 60.0  # after a failed poll: a minute, not 30
    plugin.podcast_poll.interval = 0.05  # 30 minutes in production
    with database_refused() as refused:
        plugin.podcast_poll.start()
        for _ in range(2):  # one failed run, and the task is still there for the next
            refused.clear()
            await refused.wait()
        assert plugin.podcast_poll.running and paid_calls(fake_openai) == 0
    await asyncio.wait_for(made.wait(), 10)
    await plugin.podcast_poll.stop()
    assert paid_calls(fake_openai) == 1
    assert (await PodcastTranscript.get()).status == "done"


async def test_history_that_cannot_be_written_stops_no_music(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Short Intro", author="Band", length_ms=1_500)
    second = fake_lavalink.add_track("Long Song", author="Band", length_ms=600_000)
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    # Only the history is out of reach (its table's statements fail): the queue plays on.
    with database_refused(when=lambda sql: "music_history" in sql):
        for query in ("Short Intro", "Long Song"):
            ix = await fake_discord.slash(world.member, "play", {"query": query})
            assert DOWN not in content(await ix.response())
        await fake_lavalink.wait_for_event(
            lambda e: e["type"] == "TrackStartEvent"
            and e["track"]["encoded"] == second["encoded"], timeout=10)
    starts = [e["track"]["info"]["title"] for e in fake_lavalink.sent_events
              if e["type"] == "TrackStartEvent"]
    assert starts == ["Short Intro", "Long Song"]
