"""Saved playlists, end to end: members save the queue or a public playlist link, edit, share,
play and export their playlists through the fake Discord; tracks come from FakeLavalink."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.models import AuditLog
from plugins.music.models import MusicPlaylist, MusicPlaylistTrack, MusicQueueEntry
from plugins.music.tests.e2e import AllowList, content, find_id, music, start_music

LIST_URL = "https://www.youtube.com/playlist?list=PLevening"


def evening(fake_lavalink, n: int = 12, url: str = LIST_URL) -> dict:
    tracks = [fake_lavalink.add_track(f"Evening Song {i}", author="Calm", length_ms=600_000)
              for i in range(1, n + 1)]
    return fake_lavalink.add_playlist("Evening Mix", tracks, url=url)


async def say(fake_discord, who, command: str, options: dict | None = None) -> tuple[str, bool]:
    ix = await fake_discord.slash(who, command, options or {})
    # /playlist import defers first (Lavalink may be slow): wait for the answer itself.
    message = await ix.wait_original(timeout=20)
    return str(message.get("content") or ""), ix.ephemeral


async def titles(playlist_name: str) -> list[str]:
    playlist = await MusicPlaylist.get(name=playlist_name)
    rows = await MusicPlaylistTrack.filter(playlist_id=playlist.id).order_by("position")
    assert len({r.position for r in rows}) == len(rows)  # distinct: the order is never a tie
    assert playlist.track_count == len(rows)
    return [r.title for r in rows]


async def test_a_member_saves_the_queue_pages_through_it_and_plays_it_back_shuffled(
    fake_lavalink, start_bot, world, fake_discord
):
    evening(fake_lavalink)
    await start_music(start_bot, fake_lavalink)
    await fake_discord.voice_join(world.member, world.voice)
    await say(fake_discord, world.member, "play", {"query": LIST_URL})

    text, private = await say(fake_discord, world.member, "playlist create", {"name": "Evening"})
    assert text == "Saved **Evening** with 12 tracks from the queue." and private
    assert await titles("Evening") == [f"Evening Song {i}" for i in range(1, 13)]

    shown = await fake_discord.slash(world.member, "playlist show", {"playlist": "evening"})
    page = await shown.wait_original()
    embed = page["embeds"][0]
    assert embed["title"] == "Evening — 12 tracks"
    assert "`1.` Evening Song 1 — Calm (10:00)" in embed["description"]
    assert "Evening Song 11" not in embed["description"]
    turned = await fake_discord.click(world.member, page, find_id(page, "pg.next"))
    second = (await turned.response())["data"]["embeds"][0]["description"]
    assert "`11.` Evening Song 11" in second and "`12.` Evening Song 12" in second

    await say(fake_discord, world.member, "stop")
    text, private = await say(fake_discord, world.member, "playlist play",
                              {"playlist": "Evening", "shuffle": True})
    assert "Added 12 tracks from **Evening**" in text and not private
    await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and (r.json or {}).get("track"))
    queued = [e.title for e in await MusicQueueEntry.all().order_by("position")]
    assert len(queued) == 11  # one plays, eleven wait
    # The saved order is untouched by a shuffled play.
    assert await titles("Evening") == [f"Evening Song {i}" for i in range(1, 13)]


async def test_import_edit_and_export_a_public_playlist(
    fake_lavalink, start_bot, world, fake_discord
):
    evening(fake_lavalink, n=3)
    fake_lavalink.add_track("Night Owl", author="Jazz Trio", length_ms=200_000)
    await start_music(start_bot, fake_lavalink)

    text, private = await say(fake_discord, world.member, "playlist import", {"link": LIST_URL})
    assert text == "Imported **Evening Mix** with 3 tracks." and private
    text, _ = await say(fake_discord, world.member, "playlist import", {"link": LIST_URL})
    assert text == "There is already a playlist called **Evening Mix** here; pick another name."
    text, _ = await say(fake_discord, world.member, "playlist add",
                        {"playlist": "evening mix", "query": "night owl"})
    assert text == "Added **Night Owl** to **Evening Mix** as track 4."
    text, _ = await say(fake_discord, world.member, "playlist move",
                        {"playlist": "Evening Mix", "from": 4, "to": 1})
    assert text == "Moved **Night Owl** to position 1 in **Evening Mix**."
    text, _ = await say(fake_discord, world.member, "playlist remove",
                        {"playlist": "Evening Mix", "position": 3})
    assert text == "Removed **Evening Song 2** from **Evening Mix**."
    text, _ = await say(fake_discord, world.member, "playlist rename",
                        {"playlist": "Evening Mix", "name": "Late"})
    assert text == "Renamed **Evening Mix** to **Late**."
    assert await titles("Late") == ["Night Owl", "Evening Song 1", "Evening Song 3"]

    ix = await fake_discord.slash(world.member, "playlist export", {"playlist": "late"})
    message = await ix.wait_original()
    assert ix.ephemeral and message["attachments"][0]["filename"] == "Late.txt"
    lines = fake_discord.attachment_bytes(message).decode().splitlines()
    rows = await MusicPlaylistTrack.filter(playlist_id=(await MusicPlaylist.get(name="Late")).id
                                           ).order_by("position")
    assert lines == [f"{r.title} — {r.uri}" for r in rows]
    assert lines[0].startswith("Night Owl — https://")

    text, _ = await say(fake_discord, world.member, "playlist remove",
                        {"playlist": "Late", "position": 9})
    assert text == "There is no track 9 in **Late**."


async def test_a_shared_playlist_is_read_only_for_others_and_a_private_one_invisible(
    fake_lavalink, start_bot, world, fake_discord
):
    evening(fake_lavalink, n=2)
    fake_lavalink.add_track("Intruder", length_ms=200_000)
    await start_music(start_bot, fake_lavalink)
    await say(fake_discord, world.member, "playlist import", {"link": LIST_URL, "name": "Mine"})

    text, _ = await say(fake_discord, world.other, "playlist show", {"playlist": "Mine"})
    assert text.startswith("There is no playlist **Mine** that you can see here.")
    names = await fake_discord.autocomplete(world.other, "playlist play",
                                            {"playlist": "mi"}, focused="playlist")
    assert names == []

    text, _ = await say(fake_discord, world.member, "playlist share",
                        {"playlist": "Mine", "shared": True})
    assert "everyone here can view and play it" in text
    names = await fake_discord.autocomplete(world.other, "playlist play",
                                            {"playlist": "mi"}, focused="playlist")
    playlist = await MusicPlaylist.get(name="Mine")
    assert names == [{"name": "Mine · shared (2)", "value": f"#{playlist.id}"}]

    shown = await fake_discord.slash(world.other, "playlist show", {"playlist": f"#{playlist.id}"})
    assert "Evening Song 1" in fake_discord.text_of(await shown.wait_original())
    for command, options in (("playlist add", {"query": "intruder"}),
                             ("playlist remove", {"position": 1}),
                             ("playlist rename", {"name": "Ours"})):
        text, private = await say(fake_discord, world.other, command,
                                  {"playlist": "Mine", **options})
        assert f"belongs to <@{world.member.id}> and is shared read-only" in text and private
    text, _ = await say(fake_discord, world.other, "playlist delete", {"playlist": "Mine"})
    assert "shared read-only" in text
    assert await titles("Mine") == ["Evening Song 1", "Evening Song 2"]

    await fake_discord.voice_join(world.other, world.voice)
    text, _ = await say(fake_discord, world.other, "playlist play", {"playlist": "Mine"})
    assert "Added 2 tracks from **Mine**" in text


async def test_server_playlists_are_managed_by_djs_and_played_by_anyone(
    fake_lavalink, start_bot, world, fake_discord
):
    evening(fake_lavalink, n=2)
    fake_lavalink.add_track("Request", length_ms=200_000)
    await start_music(start_bot, fake_lavalink)
    await say(fake_discord, world.admin, "music settings", {"dj_role": world.dj_role})
    text, _ = await say(fake_discord, world.member, "playlist import",
                        {"link": LIST_URL, "name": "House", "server": True})
    assert text == "Only DJs can create server playlists."
    text, _ = await say(fake_discord, world.dj, "playlist import",
                        {"link": LIST_URL, "name": "House", "server": True})
    assert text == "Imported **House** with 2 tracks."
    assert (await MusicPlaylist.get(name="House")).owner_id == 0

    text, _ = await say(fake_discord, world.member, "playlist add",
                        {"playlist": "House", "query": "request"})
    assert "is a server playlist: only DJs can change it" in text
    text, _ = await say(fake_discord, world.admin, "playlist add",
                        {"playlist": "House", "query": "request"})
    assert text == "Added **Request** to **House** as track 3."
    listing, _ = await say(fake_discord, world.member, "playlist list")
    assert "**Server playlists**" in listing and "**House** · 3 tracks" in listing

    await fake_discord.voice_join(world.member, world.voice)
    text, _ = await say(fake_discord, world.member, "playlist play", {"playlist": "House"})
    assert "Added 3 tracks from **House**" in text

    ix = await fake_discord.slash(world.dj, "playlist delete", {"playlist": "House"})
    prompt = await ix.wait_original()
    assert "Delete **House** and its 3 tracks?" in fake_discord.text_of(prompt)
    done = await fake_discord.click(world.dj, prompt, find_id(prompt, "cf.yes"))
    await done.wait_followups(1)
    assert not await MusicPlaylist.exists(name="House")
    assert await MusicPlaylistTrack.all().count() == 0


async def test_21_plus_tracks_of_a_shared_playlist_stay_hidden_from_unverified_members(
    fake_lavalink, start_bot, world, fake_discord
):
    adult = fake_lavalink.add_track("Kush Anthems", author="Stoner Band", length_ms=600_000)
    calm = fake_lavalink.add_track("Garden Song", author="Folk", length_ms=600_000)
    fake_lavalink.add_playlist("Mixed", [calm, adult], url=LIST_URL)
    gate = AllowList()
    await start_music(start_bot, fake_lavalink, gate=gate)

    # Saving a 21+ track needs verification, like queueing one.
    text, _ = await say(fake_discord, world.member, "playlist import", {"link": LIST_URL})
    assert "flagged as cannabis content (21+)" in text and "Verify your age" in text
    assert not await MusicPlaylist.exists()
    assert await AuditLog.filter(action="age_gate.denied", actor_id=world.member.id).exists()

    gate.verified.add(world.member.id)
    await say(fake_discord, world.member, "playlist import", {"link": LIST_URL})
    await say(fake_discord, world.member, "playlist share", {"playlist": "Mixed",
                                                               "shared": True})

    shown = await fake_discord.slash(world.other, "playlist show", {"playlist": "Mixed"})
    page = fake_discord.text_of(await shown.wait_original())
    assert "`2.` 21+ track 🔞" in page and "Garden Song" in page and "Kush" not in page
    assert not shown.ephemeral
    ix = await fake_discord.slash(world.other, "playlist export", {"playlist": "Mixed"})
    exported = fake_discord.attachment_bytes(await ix.wait_original()).decode()
    assert exported.splitlines()[1] == "21+ track" and "Kush" not in exported

    await fake_discord.voice_join(world.other, world.voice)
    text, _ = await say(fake_discord, world.other, "playlist play", {"playlist": "Mixed"})
    assert "Verify your age" in text
    assert await MusicQueueEntry.all().count() == 0

    mine = await fake_discord.slash(world.member, "playlist show", {"playlist": "Mixed"})
    assert "Kush Anthems" in fake_discord.text_of(await mine.wait_original()) and mine.ephemeral


async def test_a_name_with_mentions_is_refused_and_markdown_is_shown_escaped(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    for name in ("@everyone party", f"for <@{world.other.id}>", "@here", "<@&123456>",
                 "＠everyone"):
        text, private = await say(fake_discord, world.member, "playlist create", {"name": name})
        assert text.startswith("Playlist names can't contain mentions"), name
        assert private
    assert not await MusicPlaylist.exists()

    ix = await fake_discord.slash(world.member, "playlist create", {"name": "**Loud** _vibes_"})
    response = await ix.response()
    assert content(response) == (r"Created **\*\*Loud\*\* \_vibes\_**, empty: nothing is "
                                 "playing. Add tracks with `/playlist add`.")
    assert (await MusicPlaylist.get()).name == "**Loud** _vibes_"
    listing, _ = await say(fake_discord, world.member, "playlist list")
    assert r"**\*\*Loud\*\* \_vibes\_** · 0 tracks" in listing
    message = await ix.wait_original()
    assert not message.get("mentions") and not message.get("mention_everyone")


async def test_a_10000_track_import_is_cut_to_the_limit_and_the_member_told(
    fake_lavalink, start_bot, world, fake_discord
):
    tracks = [fake_lavalink.add_track(f"Song {i}", length_ms=200_000) for i in range(10_000)]
    fake_lavalink.add_playlist("Everything", tracks, url=LIST_URL)
    await start_music(start_bot, fake_lavalink)
    text, _ = await say(fake_discord, world.member, "playlist import", {"link": LIST_URL})
    assert text == ("Imported **Everything** with 500 tracks. It had 10,000; a playlist holds "
                    "at most 500 tracks, so the other 9,500 were left out.")
    assert (await titles("Everything"))[-1] == "Song 499"

    text, _ = await say(fake_discord, world.member, "playlist add",
                        {"playlist": "Everything", "query": "Song 9999"})
    assert text == ("**Everything** is full (500 tracks, the most a playlist may hold). "
                    "Remove some first.")


async def test_private_or_unknown_playlist_links_are_explained(
    fake_lavalink, start_bot, world, fake_discord
):
    private_url = "https://www.youtube.com/playlist?list=PLprivate"
    fake_lavalink.fail_load(private_url, message="This playlist is private.")
    single = fake_lavalink.add_track("Just One", length_ms=200_000)
    await start_music(start_bot, fake_lavalink)
    text, _ = await say(fake_discord, world.member, "playlist import", {"link": private_url})
    assert text.startswith("That playlist could not be loaded: it may be private, deleted or "
                           "not available here. (ref ")
    assert "This playlist is private" not in text
    text, _ = await say(fake_discord, world.member, "playlist import",
                        {"link": "https://www.youtube.com/playlist?list=PLnothing"})
    assert text == ("I found no playlist at that link: it may be private, deleted or "
                    "mistyped. Only public playlists can be imported.")
    text, _ = await say(fake_discord, world.member, "playlist import",
                        {"link": single["info"]["uri"]})
    assert text.startswith("That link is a single track, not a playlist.")
    text, _ = await say(fake_discord, world.member, "playlist import", {"link": "lofi beats"})
    assert text.startswith("Give a playlist link (http or https)")
    assert not await MusicPlaylist.exists()


async def test_two_djs_editing_one_server_playlist_at_once_lose_nothing(
    fake_lavalink, start_bot, world, fake_discord
):
    evening(fake_lavalink, n=6)
    fake_lavalink.add_track("From Dave", length_ms=200_000)
    fake_lavalink.add_track("From Alice", length_ms=200_000)
    running = await start_music(start_bot, fake_lavalink)
    await say(fake_discord, world.admin, "music settings", {"dj_role": world.dj_role})
    await say(fake_discord, world.dj, "playlist import",
              {"link": LIST_URL, "name": "House", "server": True})
    both = await asyncio.gather(
        fake_discord.slash(world.dj, "playlist add", {"playlist": "House", "query": "dave"}),
        fake_discord.slash(world.admin, "playlist add", {"playlist": "House", "query": "alice"}),
    )
    for ix in both:
        assert "to **House** as track" in content(await ix.response())
    assert sorted((await titles("House"))[6:]) == ["From Alice", "From Dave"]

    # Many edits at once through the service, as from many DJs: each one is kept.
    playlists = music(running).playlists
    playlist = await MusicPlaylist.get(name="House")
    start, before = await titles("House"), playlist.version
    edits = [playlists.move(world.guild.id, world.dj.id, "House", 1, 5, is_dj=True)
             for _ in range(8)]
    edits += [playlists.add(world.guild.id, world.admin.id, "House", "dave", is_dj=True)
              for _ in range(5)]
    removals = [playlists.remove(world.guild.id, world.dj.id, "House", 1, is_dj=True)
                for _ in range(3)]
    results = await asyncio.gather(*removals, *edits)
    removed = [str(r).split("**")[1] for r in results[:3]]
    assert (await MusicPlaylist.get(id=playlist.id)).version == before + 16
    final = await titles("House")  # distinct positions and a matching count
    assert Counter(final) + Counter(removed) == Counter(start + ["From Dave"] * 5)


async def test_limits_on_playlists_per_member(fake_lavalink, start_bot, world, fake_discord):
    await start_music(start_bot, fake_lavalink, max_playlists=2)
    for name in ("One", "Two"):
        await say(fake_discord, world.member, "playlist create", {"name": name})
    text, _ = await say(fake_discord, world.member, "playlist create", {"name": "Three"})
    assert text == ("You have 2 playlists, the most allowed here. Delete one with "
                    "`/playlist delete` first.")
    text, _ = await say(fake_discord, world.member, "playlist create", {"name": "one"})
    assert text == "You have 2 playlists, the most allowed here. Delete one with " \
        "`/playlist delete` first."
    await say(fake_discord, world.other, "playlist create", {"name": "One"})
    assert await MusicPlaylist.filter(name="One").count() == 2  # each member has their own


async def test_privacy_export_and_delete_cover_own_playlists_not_the_servers(
    fake_lavalink, start_bot, world, fake_discord
):
    evening(fake_lavalink, n=2)
    running = await start_music(start_bot, fake_lavalink)
    await say(fake_discord, world.admin, "playlist import", {"link": LIST_URL, "name": "Mine"})
    await say(fake_discord, world.admin, "playlist import",
              {"link": LIST_URL, "name": "House", "server": True})
    plugin = music(running)
    exported = await plugin.export_user_data(world.admin.id)
    assert [p["name"] for p in exported["playlists"]] == ["Mine"]
    assert [t["title"] for t in exported["playlists"][0]["tracks"]] == ["Evening Song 1",
                                                                        "Evening Song 2"]
    assert await plugin.delete_user_data(world.admin.id) == 3  # a playlist and its two tracks
    assert [p.name for p in await MusicPlaylist.all()] == ["House"]
    assert await MusicPlaylistTrack.all().count() == 2


async def test_saving_a_queue_with_a_21_plus_track_needs_verification_and_later_flags_count(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Kush Anthems", author="Stoner Band", length_ms=600_000)
    fake_lavalink.add_track("Radio Hour", author="Host", length_ms=600_000,
                            uri="https://radio.example.org/hour")
    gate = AllowList()
    gate.verified.add(world.member.id)
    await start_music(start_bot, fake_lavalink, gate=gate)
    for who in (world.member, world.other):
        await fake_discord.voice_join(who, world.voice)
    await say(fake_discord, world.member, "play", {"query": "kush"})
    await say(fake_discord, world.other, "play", {"query": "radio"})

    text, _ = await say(fake_discord, world.other, "playlist create", {"name": "Tonight"})
    assert "cannabis content (21+)" in text and not await MusicPlaylist.exists()
    text, _ = await say(fake_discord, world.member, "playlist create", {"name": "Tonight"})
    assert text == "Saved **Tonight** with 2 tracks from the queue."
    await say(fake_discord, world.member, "playlist share", {"playlist": "Tonight",
                                                               "shared": True})

    # An admin flags the radio's host after it was saved: it is 21+ from now on.
    await say(fake_discord, world.admin, "music settings",
              {"cannabis_source": "radio.example.org"})
    shown = await fake_discord.slash(world.other, "playlist show", {"playlist": "Tonight"})
    page = fake_discord.text_of(await shown.wait_original())
    assert "`1.` 21+ track" in page and "`2.` 21+ track" in page and "Radio" not in page


async def test_suggestions_offer_own_server_and_shared_playlists_only(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    await say(fake_discord, world.admin, "music settings", {"dj_role": world.dj_role})
    await say(fake_discord, world.member, "playlist create", {"name": "Chill mine"})
    await say(fake_discord, world.dj, "playlist create", {"name": "Chill house",
                                                           "server": True})
    await say(fake_discord, world.other, "playlist create", {"name": "Chill secret"})
    await say(fake_discord, world.admin, "playlist create", {"name": "Chill shared"})
    await say(fake_discord, world.admin, "playlist share", {"playlist": "Chill shared",
                                                              "shared": True})
    choices = await fake_discord.autocomplete(world.member, "playlist show",
                                              {"playlist": "chill"}, focused="playlist")
    assert sorted(c["name"] for c in choices) == ["Chill house · server (0)", "Chill mine (0)",
                                                  "Chill shared · shared (0)"]
    ids = {p.name: f"#{p.id}" for p in await MusicPlaylist.all()}
    assert {c["value"] for c in choices} == {ids["Chill house"], ids["Chill mine"],
                                             ids["Chill shared"]}
    # A forged id of someone's private playlist is "not found".
    text, _ = await say(fake_discord, world.member, "playlist show",
                        {"playlist": ids["Chill secret"]})
    assert text.startswith(f"There is no playlist **{ids['Chill secret']}**")
