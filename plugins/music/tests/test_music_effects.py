"""Effects and the equalizer, end to end: members pick a preset from /music effects or set a
band with /music equalizer, the node receives the filters in a player PATCH, the effect is kept
with the session and comes back after a bot restart and after a node failover."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.models import AuditLog
from growmies_testkit.fake_lavalink import DEFAULT_FILTERS, FakeLavalink
from plugins.music.effects import PRESETS
from plugins.music.models import MusicSession
from plugins.music.tests.e2e import AllowList, content, find_id, music, start_music


@pytest.fixture
async def second_lavalink() -> AsyncIterator[FakeLavalink]:
    node = FakeLavalink(player_update_interval=0.2)
    await node.start()
    yield node
    await node.close()


def filter_patches(fake: FakeLavalink, since: float = 0.0) -> list[dict]:
    return [r.json["filters"] for r in fake.requests
            if r.method == "PATCH" and r.time > since and "filters" in (r.json or {})
            and not (r.json or {}).get("track")]


async def next_filter_patch(fake: FakeLavalink, pred=lambda f: True, since: int = 0):
    """The next PATCH that changes only the filters (every track PATCH carries them too)."""
    return await fake.wait_for_request(
        lambda r: r.method == "PATCH" and "filters" in (r.json or {})
        and not (r.json or {}).get("track") and pred(r.json["filters"]), since=since)


async def listen(fake, fake_discord, world, *members) -> None:
    fake.add_track("Long Song", author="Band", length_ms=600_000)
    for member in members or (world.member,):
        await fake_discord.voice_join(member, world.voice)
    ix = await fake_discord.slash((members or (world.member,))[0], "play", {"query": "Long Song"})
    assert "Now playing" in content(await ix.response())


async def pick(fake_discord, member, preset: str):
    ix = await fake_discord.slash(member, "music effects")
    menu = await ix.wait_original()
    assert ix.ephemeral and "Pick an effect" in menu["content"]
    picked = await fake_discord.select(member, menu, find_id(menu, "sl.pick"), [preset],
                                       strict=True)
    pick.last = picked
    return await picked.response()


async def test_a_member_picks_bass_boost_and_the_node_gets_the_equalizer(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    answer = await pick(fake_discord, world.member, "bass_high")
    assert content(answer) == "Effect on: **Bass boost: high**."
    [public] = await pick.last.wait_followups(1)
    assert public["content"] == f"🎛️ <@{world.member.id}>: Effect on: **Bass boost: high**."
    assert not int(public.get("flags") or 0) & 64  # the channel sees who changed it
    patch = await next_filter_patch(fake_lavalink)
    gains = {b["band"]: b["gain"] for b in patch.json["filters"]["equalizer"]}
    assert gains[0] == 0.35 and gains[14] == 0.0 and len(gains) == 15
    assert fake_lavalink.players[world.guild.id].filters == patch.json["filters"]
    session = await MusicSession.get(guild_id=world.guild.id)
    assert session.effects["preset"] == "bass_high"
    audit = await AuditLog.get(action="music.effect_changed")
    assert (audit.actor_id, audit.target) == (world.member.id, "bass_high")

    mark = len(fake_lavalink.requests)
    off = await pick(fake_discord, world.member, "off")
    assert content(off) == "Effects off: the music plays as recorded."
    reset = await next_filter_patch(fake_lavalink, since=mark)
    # wavelink always sends the equalizer, flat when nothing else is on.
    assert set(reset.json["filters"]) <= {"equalizer"}
    assert all(b["gain"] == 0 for b in reset.json["filters"].get("equalizer", []))
    assert (await MusicSession.get(guild_id=world.guild.id)).effects is None


async def test_every_preset_is_offered_and_accepted_by_the_node(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    for name, preset in PRESETS.items():
        answer = await pick(fake_discord, world.member, name)
        assert preset.label in content(answer) or name == "off", content(answer)
    sent = filter_patches(fake_lavalink)
    assert any(f.get("timescale", {}).get("pitch") == 1.2 for f in sent)  # nightcore
    assert any(f.get("timescale", {}).get("speed") == 0.85 for f in sent)  # vaporwave
    assert any(f.get("rotation") == {"rotationHz": 0.2} for f in sent)  # 8D
    assert any("karaoke" in f for f in sent) and any("tremolo" in f for f in sent)


async def test_custom_speed_and_pitch_and_their_bounds(fake_lavalink, start_bot, world,
                                                       fake_discord):
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    ix = await fake_discord.slash(world.member, "music effects", {"speed": 1.25, "pitch": 0.9})
    assert content(await ix.response()) == "Speed 1.25×, pitch 0.9×."
    patch = await next_filter_patch(fake_lavalink, lambda f: "timescale" in f)
    assert patch.json["filters"]["timescale"] == {"speed": 1.25, "pitch": 0.9, "rate": 1.0}
    before = len(fake_lavalink.requests)
    bad = await fake_discord.slash(world.member, "music effects", {"speed": 3.0})
    assert "Speed goes from 0.5 to 2.0" in content(await bad.response()) and bad.ephemeral
    assert not filter_patches(FakeLavalinkView(fake_lavalink, before))


class FakeLavalinkView:
    """The requests a fake received after the first `since` ones."""

    def __init__(self, fake: FakeLavalink, since: int) -> None:
        self.requests = fake.requests[since:]


async def test_equalizer_band_gains_out_of_range_are_refused_clearly(
    fake_lavalink, start_bot, world, fake_discord
):
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    before = len(fake_lavalink.requests)
    for gain in (1.5, -0.3):
        ix = await fake_discord.slash(world.member, "music equalizer", {"band": 3, "gain": gain})
        text = content(await ix.response())
        assert ix.ephemeral
        assert f"A band's gain goes from -0.25 (muted) to 1.0; 0 is flat and 0.25 doubles it. " \
               f"{gain:g} is outside that, so nothing was changed." == text
    assert not filter_patches(FakeLavalinkView(fake_lavalink, before))
    ok = await fake_discord.slash(world.member, "music equalizer", {"band": 3, "gain": 0.25})
    assert content(await ok.response()) == "Equalizer band 3 set to +0.25."
    patch = await next_filter_patch(fake_lavalink, lambda f: "equalizer" in f)
    assert patch.json["filters"]["equalizer"][3] == {"band": 3, "gain": 0.25}


async def test_an_effect_on_a_node_without_that_filter_is_explained_and_not_sent(
    fake_lavalink, start_bot, world, fake_discord
):
    # The admin switched timescale off in application.yml: /v4/info does not list it.
    fake_lavalink.filters = [f for f in DEFAULT_FILTERS if f != "timescale"]
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    answer = await pick(fake_discord, world.member, "nightcore")
    assert content(answer) == (
        "This music server has the timescale filter switched off, so that effect can't be "
        "used here; nothing was changed. An admin can turn it on under "
        "lavalink.server.filters in Lavalink's application.yml.")
    assert filter_patches(fake_lavalink) == []
    assert (await MusicSession.get(guild_id=world.guild.id)).effects is None
    # Other effects still work on that node.
    assert "8D" in content(await pick(fake_discord, world.member, "8d"))


async def test_with_a_dj_role_only_djs_change_effects(fake_lavalink, start_bot, world,
                                                      fake_discord):
    await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world, world.member, world.dj)
    # Without a DJ role anyone listening may.
    assert "Karaoke" in content(await pick(fake_discord, world.member, "karaoke"))
    settings = await fake_discord.slash(world.admin, "music settings", {"dj_role": world.dj_role})
    await settings.response()
    refused = await fake_discord.slash(world.member, "music effects")
    assert content(await refused.response()) == "Only DJs can change effects in this server."
    eq = await fake_discord.slash(world.member, "music equalizer", {"band": 0, "gain": 0.2})
    assert content(await eq.response()) == "Only DJs can change effects in this server."
    assert "Tremolo" in content(await pick(fake_discord, world.dj, "tremolo"))
    outside = world.guild.add_member("erin-outside")
    away = await fake_discord.slash(outside, "music equalizer", {"band": 0, "gain": 0.2})
    assert "to change the effects" in content(await away.response())


async def test_the_effect_comes_back_after_a_bot_restart(fake_lavalink, start_bot, world,
                                                        fake_discord):
    running = await start_music(start_bot, fake_lavalink)
    await listen(fake_lavalink, fake_discord, world)
    await pick(fake_discord, world.member, "vaporwave")
    await running.kill()
    music(running).playback.closing = True  # a real SIGKILL ends the old objects
    killed = time.monotonic()

    await start_music(start_bot, fake_lavalink)
    replay = await fake_lavalink.wait_for_request(
        lambda r: r.method == "PATCH" and r.time > killed and (r.json or {}).get("track"),
        timeout=10)
    assert replay.json["filters"]["timescale"] == {"speed": 0.85, "pitch": 0.8, "rate": 1.0}
    assert replay.json["track"]["encoded"] == fake_lavalink.catalogue[0]["encoded"]


async def test_the_effect_follows_the_player_to_another_node(
    fake_lavalink, second_lavalink, start_bot, world, fake_discord
):
    running = await start_music(start_bot, fake_lavalink, second_lavalink)
    plugin = music(running)
    for fake in (fake_lavalink, second_lavalink):
        fake.add_track("Long Song", author="Band", length_ms=600_000)
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "Long Song"})).response()
    await pick(fake_discord, world.member, "bass_medium")
    player = plugin.playback.players[world.guild.id]
    serving = fake_lavalink if player.node.uri == fake_lavalink.uri else second_lavalink
    other = second_lavalink if serving is fake_lavalink else fake_lavalink
    await serving.kill()
    moved = await other.wait_for_request(
        lambda r: r.method == "PATCH" and (r.json or {}).get("track"), timeout=5)
    gains = [b["gain"] for b in moved.json["filters"]["equalizer"]]
    assert gains[:4] == [0.2, 0.15, 0.1, 0.05]
    assert other.players[world.guild.id].filters == moved.json["filters"]


async def test_the_fake_node_refuses_unknown_and_switched_off_filters_like_lavalink():
    async with FakeLavalink(filters=["equalizer"]) as node, aiohttp.ClientSession() as http:
        headers = {"Authorization": node.password}
        info = await (await http.get(f"{node.uri}/v4/info", headers=headers)).json()
        assert info["filters"] == ["equalizer"]
        # No session needed to see the validation: it comes before the session lookup fails.
        for filters, message in (({"echo": {}}, "Unknown filter: echo"),
                                 ({"timescale": {"speed": 1.2}},
                                  "Following filters are disabled in the config: timescale")):
            node._sessions["s1"] = node._sessions.get("s1") or _session(node)
            resp = await http.patch(f"{node.uri}/v4/sessions/s1/players/1", headers=headers,
                                    json={"filters": filters})
            assert resp.status == 400 and (await resp.json())["message"] == message


def _session(node: FakeLavalink):
    session, _ = node._open_session(None, "1", "test")
    node._sessions["s1"] = session
    return session


async def test_failover_to_a_node_without_the_filter_keeps_the_music_playing(
    fake_lavalink, second_lavalink, start_bot, world, fake_discord
):
    running = await start_music(start_bot, fake_lavalink, second_lavalink)
    plugin = music(running)
    for fake in (fake_lavalink, second_lavalink):
        fake.add_track("Long Song", author="Band", length_ms=600_000)
    await fake_discord.voice_join(world.member, world.voice)
    await (await fake_discord.slash(world.member, "play", {"query": "Long Song"})).response()
    await pick(fake_discord, world.member, "nightcore")
    await (await fake_discord.slash(world.member, "music equalizer",
                                    {"band": 0, "gain": 0.3})).response()
    player = plugin.playback.players[world.guild.id]
    serving = fake_lavalink if player.node.uri == fake_lavalink.uri else second_lavalink
    other = second_lavalink if serving is fake_lavalink else fake_lavalink
    other.filters = [f for f in DEFAULT_FILTERS if f != "timescale"]  # configured differently
    await serving.kill()
    moved = await other.wait_for_request(
        lambda r: r.method == "PATCH" and (r.json or {}).get("track"), timeout=5)
    # Without the filter the survivor lacks (it would refuse the whole PATCH), with the rest.
    assert "timescale" not in moved.json["filters"]
    assert moved.json["filters"]["equalizer"][0] == {"band": 0, "gain": 0.3}
    await plugin.playback.wait_for(lambda: bool(plugin.playback.failovers))
    assert other.players[world.guild.id].track is not None


async def test_changing_the_effect_on_a_21_plus_track_needs_verification(
    fake_lavalink, start_bot, world, fake_discord
):
    gate = AllowList()
    gate.verified.add(world.member.id)
    await start_music(start_bot, fake_lavalink, gate=gate)
    await listen_to(fake_lavalink, fake_discord, world, "Kush Anthems")
    await fake_discord.voice_join(world.other, world.voice)
    refused = await fake_discord.slash(world.other, "music equalizer", {"band": 1, "gain": 0.2})
    assert "cannabis content (21+)" in content(await refused.response()) and refused.ephemeral
    assert await AuditLog.filter(action="age_gate.denied", actor_id=world.other.id).count() == 1
    assert filter_patches(fake_lavalink) == []
    ok = await fake_discord.slash(world.member, "music equalizer", {"band": 1, "gain": 0.2})
    assert content(await ok.response()) == "Equalizer band 1 set to +0.2."


async def listen_to(fake, fake_discord, world, title: str) -> None:
    fake.add_track(title, author="Band", length_ms=600_000)
    await fake_discord.voice_join(world.member, world.voice)
    ix = await fake_discord.slash(world.member, "play", {"query": title})
    await ix.response()
