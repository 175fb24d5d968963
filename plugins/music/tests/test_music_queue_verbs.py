"""Queue verbs end to end: /previous, /play next, /history with its replay select, dedupe,
who may move or remove whose track, the server's autoplay switch and the audit rows."""

from __future__ import annotations

from bot.models import AuditLog
from plugins.music.history import HISTORY_SIZE
from plugins.music.models import MusicHistoryEntry, MusicQueueEntry
from plugins.music.tests.e2e import AllowList, content, find_id, music, start_music
from plugins.music.tracks import TrackInfo


async def queued_titles() -> list[str]:
    return [e.title for e in await MusicQueueEntry.all().order_by("position", "id")]


async def play(fake_discord, member, query, **options):
    ix = await fake_discord.slash(member, "play", {"query": query, **options})
    return ix, content(await ix.response())


async def starts_of(fake_lavalink, title: str) -> int:
    return sum(1 for e in fake_lavalink.sent_events
               if e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == title)


async def test_previous_plays_the_last_track_again_and_the_current_one_follows(
    fake_lavalink, start_bot, world, fake_discord
):
    for title in ("One", "Two", "Three"):
        fake_lavalink.add_track(title, author="Band", length_ms=600_000)
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    nothing = await fake_discord.slash(world.member, "previous")
    assert "Nothing has been played here yet" in content(await nothing.response())
    assert nothing.ephemeral
    for title in ("One", "Two", "Three"):
        await play(fake_discord, world.member, title)
    skipped = await fake_discord.slash(world.member, "skip")
    assert "Now playing **Two" in content(await skipped.response())

    mark = len(fake_lavalink.sent_events)
    back = await fake_discord.slash(world.member, "previous")
    assert content(await back.response()) == ("Back to **One — Band (10:00)**; **Two** plays "
                                              "after it.")
    await fake_lavalink.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == "One",
        since=mark)
    assert await queued_titles() == ["Two", "Three"]
    # One was the first track played: there is nothing before it to go back to.
    again = await fake_discord.slash(world.member, "previous")
    assert content(await again.response()) == "Nothing was played here before this track."
    assert again.ephemeral
    audit = await AuditLog.get(action="music.previous")
    assert audit.actor_id == world.member.id and audit.target == "One"
    assert set(audit.details) == {"track"} and audit.details["track"].startswith("https://")
    # After /stop the bot has left; /previous brings back the last track played.
    await (await fake_discord.slash(world.member, "stop")).response()
    mark = len(fake_lavalink.sent_events)
    revived = await fake_discord.slash(world.member, "previous")
    assert content(await revived.response()) == "Now playing **One — Band (10:00)**."
    await fake_lavalink.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent" and e["track"]["info"]["title"] == "One",
        since=mark)


async def test_previous_with_others_listening_is_for_djs_and_the_requester(
    fake_lavalink, start_bot, world, fake_discord
):
    for title in ("One", "Two"):
        fake_lavalink.add_track(title, author="Band", length_ms=600_000)
    await start_music(start_bot, fake_lavalink)
    for member in (world.member, world.other, world.dj):
        await fake_discord.voice_join(member, world.voice)
    await (await fake_discord.slash(world.admin, "music settings",
                                    {"dj_role": world.dj_role})).response()
    await play(fake_discord, world.member, "One")
    await play(fake_discord, world.member, "Two")
    await (await fake_discord.slash(world.member, "skip")).response()
    refused = await fake_discord.slash(world.other, "previous")
    text = content(await refused.response())
    assert "Only DJs, the member who queued this track" in text and refused.ephemeral
    assert await queued_titles() == []
    ok = await fake_discord.slash(world.dj, "previous")
    assert content(await ok.response()).startswith("Back to **One")


async def test_play_next_puts_tracks_at_the_front_for_djs_or_when_only_yours_wait(
    fake_lavalink, start_bot, world, fake_discord
):
    for title in ("One", "Two", "Three", "Four", "Five"):
        fake_lavalink.add_track(title, author="Band", length_ms=600_000)
    tracks = [fake_lavalink.add_track(f"Mix {n}", author="DJ", length_ms=600_000)
              for n in (1, 2)]
    mix = fake_lavalink.add_playlist("Party Mix", tracks)
    await start_music(start_bot, fake_lavalink)
    for member in (world.member, world.other, world.dj):
        await fake_discord.voice_join(member, world.voice)
    await (await fake_discord.slash(world.admin, "music settings",
                                    {"dj_role": world.dj_role})).response()
    for title in ("One", "Two", "Three"):
        await play(fake_discord, world.member, title)
    # Only bob's tracks wait: bob may jump his own queue.
    _, text = await play(fake_discord, world.member, "Four", next=True)
    assert text == "Queued **Four — Band (10:00)** at position 1."
    assert await queued_titles() == ["Four", "Two", "Three"]
    # carol would push bob's tracks back: refused, nothing queued.
    refused, text = await play(fake_discord, world.other, "Five", next=True)
    assert "Only DJs can put a track at the front" in text and refused.ephemeral
    assert await queued_titles() == ["Four", "Two", "Three"]
    _, text = await play(fake_discord, world.dj, mix["url"], next=True)
    assert text == "Added 2 tracks from **Party Mix** to the front of the queue."
    assert await queued_titles() == ["Mix 1", "Mix 2", "Four", "Two", "Three"]
    skipped = await fake_discord.slash(world.dj, "skip")
    assert "Now playing **Mix 1" in content(await skipped.response())
    play_rows = await AuditLog.filter(action="music.play").order_by("id")
    assert [(r.target, r.details["next"]) for r in play_rows][-2:] == [("Four", True),
                                                                       ("Mix 1", True)]


async def test_history_pages_newest_first_and_replay_from_the_select(
    fake_lavalink, start_bot, world, fake_discord
):
    for title in ("One", "Two", "Three"):
        fake_lavalink.add_track(title, author="Band", length_ms=600_000)
    running = await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    for title in ("One", "Two", "Three"):
        await play(fake_discord, world.member, title)
    for _ in range(2):
        await (await fake_discord.slash(world.member, "skip")).response()
    ix = await fake_discord.slash(world.member, "history")
    page = fake_discord.text_of(await ix.wait_original())
    assert page.index("`1.` Three") < page.index("`2.` Two") < page.index("`3.` One")
    assert f"<@{world.member.id}>" in page
    [chooser] = await ix.wait_followups(1)
    assert chooser["flags"] & 64  # the replay select is for the asker alone
    select = find_id(chooser, "sl.pick")
    one = await MusicHistoryEntry.get(title="One")
    picked = await fake_discord.select(world.member, chooser, select, [str(one.id)],
                                       strict=True)
    assert content(await picked.response()) == "Queued **One — Band (10:00)** at position 1."
    assert await queued_titles() == ["One"]
    assert (await AuditLog.filter(action="music.play").order_by("-id").first()
            ).details["via"] == "history"

    # An entry that left the history meanwhile (pruned, or the member's data deleted).
    await music(running).delete_user_data(world.member.id)
    stale = await fake_discord.select(world.member, chooser, select, [str(one.id)])
    assert "no longer in the history" in content(await stale.response())
    assert stale.ephemeral


async def test_history_keeps_the_last_hundred_and_collapses_a_looping_track(
    fake_lavalink, start_bot, world, fake_discord
):
    running = await start_music(start_bot, fake_lavalink)
    history = music(running).history
    for n in range(HISTORY_SIZE + 5):
        await history.record(world.guild.id, TrackInfo(encoded=f"e{n}", title=f"Song {n}",
                                                       requester_id=world.member.id))
    # The same track starting again right away (loop track) refreshes its row.
    await history.record(world.guild.id, TrackInfo(encoded=f"e{HISTORY_SIZE + 4}",
                                                   title=f"Song {HISTORY_SIZE + 4}"))
    titles = [e.title for e in await history.page(world.guild.id, 0, 500)]
    assert len(titles) == HISTORY_SIZE
    assert titles[0] == f"Song {HISTORY_SIZE + 4}" and titles[-1] == "Song 5"
    empty = await fake_discord.slash(world.other, "history")
    assert "Song 104" in fake_discord.text_of(await empty.wait_original())


async def test_dedupe_keeps_each_tracks_first_place(fake_lavalink, start_bot, world,
                                                    fake_discord):
    for title in ("Opening", "Alpha", "Bravo", "Charlie"):
        fake_lavalink.add_track(title, author="Crew", length_ms=600_000)
    await start_music(start_bot, fake_lavalink)
    for member in (world.member, world.other):
        await fake_discord.voice_join(member, world.voice)
    await play(fake_discord, world.member, "Opening")
    for member, title in ((world.member, "Alpha"), (world.other, "Bravo"),
                          (world.other, "Alpha"), (world.member, "Charlie"),
                          (world.member, "Bravo")):
        await play(fake_discord, member, title)
    ix = await fake_discord.slash(world.other, "queue dedupe")
    assert content(await ix.response()) == "Removed 2 duplicates."
    assert await queued_titles() == ["Alpha", "Bravo", "Charlie"]
    again = await fake_discord.slash(world.other, "queue dedupe")
    assert content(await again.response()) == "No duplicates in the queue."
    assert [r.details["tracks"] for r in await AuditLog.filter(action="music.dedupe")
            .order_by("id")] == [2, 0]


async def test_moving_or_removing_another_members_track_is_for_djs_and_its_requester(
    fake_lavalink, start_bot, world, fake_discord
):
    for title in ("Now", "Bobs", "Carols"):
        fake_lavalink.add_track(title, author="Band", length_ms=600_000)
    await start_music(start_bot, fake_lavalink)
    for member in (world.member, world.other, world.dj):
        await fake_discord.voice_join(member, world.voice)
    await (await fake_discord.slash(world.admin, "music settings",
                                    {"dj_role": world.dj_role})).response()
    await play(fake_discord, world.member, "Now")
    await play(fake_discord, world.member, "Bobs")
    await play(fake_discord, world.other, "Carols")
    refused = await fake_discord.slash(world.other, "queue move", {"from": 1, "to": 2})
    assert "Only DJs and the member who queued a track can move it" in content(
        await refused.response())
    assert refused.ephemeral and await queued_titles() == ["Bobs", "Carols"]
    own = await fake_discord.slash(world.other, "queue move", {"from": 2, "to": 1})
    assert content(await own.response()) == "Moved **Carols** to position 1."
    not_theirs = await fake_discord.slash(world.other, "queue remove", {"position": 2})
    assert "Only DJs" in content(await not_theirs.response()) and not_theirs.ephemeral
    dj = await fake_discord.slash(world.dj, "queue move", {"from": 2, "to": 1})
    assert content(await dj.response()) == "Moved **Bobs** to position 1."
    removed = await fake_discord.slash(world.dj, "queue remove", {"position": 2})
    assert content(await removed.response()) == "Removed **Carols**."
    moves = await AuditLog.filter(action="music.move").order_by("id")
    assert [(m.actor_id, m.target, m.details["source"], m.details["target"]) for m in moves] \
        == [(world.other.id, "Carols", 2, 1), (world.dj.id, "Bobs", 2, 1)]
    remove = await AuditLog.get(action="music.remove")
    assert remove.actor_id == world.dj.id and remove.target == "Carols"


async def test_autoplay_needs_the_server_switch_and_the_members_preference(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.time_scale = 50.0
    fake_lavalink.add_track("First Song", author="Band", length_ms=5_000)
    fake_lavalink.add_track("Band Deep Cut", author="Band", length_ms=600_000)
    running = await start_music(start_bot, fake_lavalink)
    music(running).playback.minute = 0.05
    await (await fake_discord.slash(world.admin, "music settings",
                                    {"idle_minutes": 1})).response()
    off = await fake_discord.slash(world.admin, "music settings", {"autoplay": False})
    assert "Autoplay: off for everyone" in content(await off.response())
    prefs = await fake_discord.slash(world.member, "music preferences", {"auto_queue": True})
    assert "Auto-queue: on (this server has autoplay off)" in content(await prefs.response())
    await fake_discord.voice_join(world.member, world.voice)
    await play(fake_discord, world.member, "First Song")
    # Nothing related is queued: the bot sits idle and leaves.
    await fake_discord.wait_for_message(
        world.channel.id, lambda m: "Left the voice channel" in (m.get("content") or ""),
        since=0, timeout=10)
    assert await starts_of(fake_lavalink, "Band Deep Cut") == 0

    on = await fake_discord.slash(world.admin, "music settings", {"autoplay": True})
    assert "Autoplay: allowed" in content(await on.response())
    await play(fake_discord, world.member, "First Song")
    await fake_lavalink.wait_for_event(
        lambda e: e["type"] == "TrackStartEvent"
        and e["track"]["info"]["title"] == "Band Deep Cut", timeout=10)
    changed = await AuditLog.filter(action="music.settings_changed").order_by("id")
    assert [c.details["autoplay"] for c in changed if "autoplay" in c.details] == [False,
                                                                                   True]


async def test_music_actions_are_audited_with_the_track_and_title_only(
    fake_lavalink, start_bot, world, fake_discord
):
    for title in ("One", "Two", "Three"):
        fake_lavalink.add_track(title, author="Band", length_ms=600_000)
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    for title in ("One", "Two", "Three"):
        await play(fake_discord, world.member, title)
    for command, options in (("volume", {"level": 80}), ("skip", {}), ("queue shuffle", {}),
                             ("queue clear", {}), ("stop", {})):
        await (await fake_discord.slash(world.member, command, options)).response()
    rows = await AuditLog.filter(action__startswith="music.").order_by("id")
    assert [r.action for r in rows] == [
        "music.play", "music.play", "music.play", "music.volume", "music.skip",
        "music.shuffle", "music.stop"]
    # bob is no DJ: clearing was refused and not audited; stopping alone is allowed.
    assert all(r.actor_id == world.member.id for r in rows)
    by_action = {r.action: r for r in rows}
    assert by_action["music.volume"].details == {"volume": 80}
    skip = by_action["music.skip"]
    assert skip.target == "One" and skip.details["track"].startswith("https://")
    assert not any("encoded" in str(r.details) or len(str(r.details)) > 300 for r in rows)


async def test_history_hides_21_plus_titles_from_the_unverified_and_replay_asks_for_age(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Strain Talk Weekly", author="Kush Radio", length_ms=600_000)
    fake_lavalink.add_track("Plain Song", author="Band", length_ms=600_000)
    gate = AllowList()
    gate.verified.add(world.member.id)
    await start_music(start_bot, fake_lavalink, gate=gate)
    for member in (world.member, world.other):
        await fake_discord.voice_join(member, world.voice)
    await play(fake_discord, world.member, "strain talk")
    await play(fake_discord, world.member, "Plain Song")
    await (await fake_discord.slash(world.member, "skip")).response()

    ix = await fake_discord.slash(world.other, "history")
    page = await ix.wait_original()
    text = fake_discord.text_of(page)
    assert "21+ track" in text and "Strain Talk" not in text and "Kush" not in text
    assert not ix.ephemeral  # public, with the placeholder
    [chooser] = await ix.wait_followups(1)
    labels = [o["label"] for row in chooser["components"] for c in row["components"]
              for o in c.get("options", [])]
    assert labels == ["1. Plain Song — Band (10:00)", "2. 21+ track"]
    adult = await MusicHistoryEntry.get(cannabis=True)
    picked = await fake_discord.select(world.other, chooser, find_id(chooser, "sl.pick"),
                                       [str(adult.id)], strict=True)
    refusal = content(await picked.response())
    assert "cannabis content (21+)" in refusal and "/verify" in refusal and picked.ephemeral
    assert await MusicQueueEntry.all().count() == 0

    # The verified member sees the names, on pages only they see.
    mine = await fake_discord.slash(world.member, "history")
    assert "Strain Talk Weekly" in fake_discord.text_of(await mine.wait_original())
    assert mine.ephemeral
