"""What members who might not be verified are told: 21+ tracks appear as "21+ track" in public
answers and posts, by name only to verified members (ephemerally) or in 21+-only places; a
member's own preferences never widen what they see; forged controls are expired controls."""

from __future__ import annotations

import pytest

from bot.api import ADULT_NOTE
from bot.models import AuditLog
from plugins.music.models import UserMusicPreferences
from plugins.music.tests.e2e import AllowList, content, find_id, music, start_music

ADULT = "Kush Anthems"


async def adult_track_playing(fake_lavalink, start_bot, world, fake_discord, **overrides):
    """A verified member plays a 21+ track, an ordinary one waits in the queue; both members
    listen. Returns the running bot and the gate."""
    fake_lavalink.add_track(ADULT, author="Stoner Band", length_ms=600_000)
    fake_lavalink.add_track("Garden Song", author="Folk", length_ms=600_000)
    gate = AllowList()
    gate.verified.add(world.member.id)
    running = await start_music(start_bot, fake_lavalink, gate=gate, **overrides)
    for who in (world.member, world.other):
        await fake_discord.voice_join(who, world.voice)
    played = await fake_discord.slash(world.member, "play", {"query": "kush"})
    await played.response()
    queued = await fake_discord.slash(world.member, "play", {"query": "garden"})
    await queued.response()
    return running, gate


def channel_text(fake_discord, world) -> str:
    messages = fake_discord.channel_messages(world.channel.id)
    return "\n".join(fake_discord.text_of(m) for m in messages)


async def test_play_and_nowplaying_name_a_21_plus_track_only_to_the_verified_member(
    fake_lavalink, start_bot, world, fake_discord
):
    await adult_track_playing(fake_lavalink, start_bot, world, fake_discord)
    # The verified member's own /play answer was for their eyes only.
    assert ADULT not in channel_text(fake_discord, world)

    unverified = await fake_discord.slash(world.other, "nowplaying")
    card = await unverified.wait_original()
    assert not unverified.ephemeral
    embed = card["embeds"][0]
    assert embed["title"] == "21+ track" and "url" not in embed
    assert "Stoner" not in embed.get("description", "")
    assert ADULT not in fake_discord.text_of(card)

    verified = await fake_discord.slash(world.member, "nowplaying")
    mine = await verified.wait_original()
    assert verified.ephemeral and mine["embeds"][0]["title"] == ADULT


async def test_a_verified_members_play_answer_says_why_only_they_see_the_name(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track(ADULT, author="Stoner Band", length_ms=600_000)
    gate = AllowList()
    gate.verified.add(world.member.id)
    await start_music(start_bot, fake_lavalink, gate=gate)
    await fake_discord.voice_join(world.member, world.voice)
    played = await fake_discord.slash(world.member, "play", {"query": "kush"})
    text = content(await played.response())
    assert played.ephemeral and text.startswith(ADULT_NOTE) and f"**{ADULT}" in text


async def test_queue_show_uses_the_placeholder_for_unverified_members(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Kush Reprise", author="Stoner Band", length_ms=600_000)
    await adult_track_playing(fake_lavalink, start_bot, world, fake_discord)
    await (await fake_discord.slash(world.member, "play", {"query": "reprise"})).response()
    shown = await fake_discord.slash(world.other, "queue show")
    page = fake_discord.text_of(await shown.wait_original())
    assert "Now:** 21+ track" in page and "`2.` 21+ track" in page and "Garden Song" in page
    assert "Kush" not in page and not shown.ephemeral
    mine = await fake_discord.slash(world.member, "queue show")
    page = fake_discord.text_of(await mine.wait_original())
    assert "Kush Reprise" in page and mine.ephemeral


async def test_skip_announces_a_21_plus_next_track_as_the_placeholder(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Plain Tune", author="Band", length_ms=600_000)
    fake_lavalink.add_track(ADULT, author="Stoner Band", length_ms=600_000)
    gate = AllowList()
    gate.verified.add(world.member.id)
    await start_music(start_bot, fake_lavalink, gate=gate)
    for who in (world.member, world.other):
        await fake_discord.voice_join(who, world.voice)
    await (await fake_discord.slash(world.other, "play", {"query": "plain"})).response()
    await (await fake_discord.slash(world.member, "play", {"query": "kush"})).response()
    skip = await fake_discord.slash(world.other, "skip")  # carol queued "Plain Tune"
    assert content(await skip.response()) == ("Skipped **Plain Tune**. Now playing "
                                              "**21+ track**.")
    assert not skip.ephemeral


async def test_a_21_plus_only_channel_shows_the_names_publicly(
    fake_lavalink, start_bot, world, fake_discord
):
    running, _gate = await adult_track_playing(fake_lavalink, start_bot, world, fake_discord)

    async def only_adults_read_here(channel):
        return getattr(channel, "id", None) == world.channel.id

    running.services.age_gate.is_adults_only_place = only_adults_read_here
    card = await fake_discord.slash(world.member, "nowplaying")
    assert (await card.wait_original())["embeds"][0]["title"] == ADULT and not card.ephemeral


async def test_turning_on_21_plus_suggestions_needs_verification(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Chill Mix", author="Lofi Girl", length_ms=600_000)
    fake_lavalink.add_track("Chill Weed Session", author="Stoner Beats", length_ms=600_000)
    gate = AllowList()
    await start_music(start_bot, fake_lavalink, gate=gate)
    refused = await fake_discord.slash(world.member, "music preferences",
                                       {"cannabis_content": True})
    text = content(await refused.response())
    assert "needs a verified 21+ status" in text and refused.ephemeral
    assert not await UserMusicPreferences.filter(user_id=world.member.id,
                                                 cannabis_opt_in=True).exists()
    assert await AuditLog.filter(action="age_gate.denied", actor_id=world.member.id).exists()

    gate.verified.add(world.member.id)
    ok = await fake_discord.slash(world.member, "music preferences", {"cannabis_content": True})
    assert "Cannabis suggestions (21+): on" in content(await ok.response())

    async def names() -> list[str]:
        choices = await fake_discord.autocomplete(world.member, "play", {"query": "chill"},
                                                  focused="query")
        return [c["name"] for c in choices]

    assert "Chill Weed Session — Stoner Beats (10:00)" in await names()
    # Verification gone (reset by staff): the stored preference no longer widens anything.
    gate.verified.discard(world.member.id)
    assert await names() == ["Chill Mix — Lofi Girl (10:00)"]


async def test_an_admin_flagged_host_is_never_suggested_to_unverified_members(
    fake_lavalink, start_bot, world, fake_discord
):
    fake_lavalink.add_track("Evening Radio", author="Station", length_ms=600_000,
                            uri="https://weedradio.example/evening")
    fake_lavalink.add_track("Evening Jazz", author="Trio", length_ms=600_000)
    await start_music(start_bot, fake_lavalink, gate=AllowList())
    await (await fake_discord.slash(world.admin, "music settings",
                                    {"cannabis_source": "weedradio.example"})).response()
    choices = await fake_discord.autocomplete(world.member, "play", {"query": "evening"},
                                              focused="query")
    assert [c["name"] for c in choices] == ["Evening Jazz — Trio (10:00)"]


ACTIONS = ("np.pause", "np.skip", "np.stop", "np.loop", "np.shuffle", "pod.pick", "pod.tx")
# For each action, a state row another control of the plugin made.
FOREIGN_KIND = {"np": "pod.tx", "pod.pick": "np", "pod.tx": "pod"}


@pytest.mark.parametrize("action", ACTIONS)
async def test_forged_music_controls_are_expired(action, fake_lavalink, start_bot, world,
                                                 fake_discord):
    running = await start_music(start_bot, fake_lavalink)
    stand_in = {"id": "1", "content": "a message", "channel_id": str(world.channel.id)}
    bare = await fake_discord.click(world.member, stand_in, f"music:{action}")
    answer = await bare.response()
    assert "This control has expired" in content(answer) and bare.ephemeral
    kind = FOREIGN_KIND.get(action, FOREIGN_KIND["np"] if action.startswith("np.") else "")
    row = await music(running).ctx.components.create(
        kind, {"guild": world.guild.id, "episode": {"title": "x", "url": "https://x"},
               "episodes": [], "requester": world.member.id},
        guild_id=world.guild.id)
    wrong = await fake_discord.click(world.member, stand_in, f"music:{action}:{row.id}")
    assert "This control has expired" in content(await wrong.response()) and wrong.ephemeral


async def test_nowplaying_buttons_on_a_public_card_keep_the_placeholder(
    fake_lavalink, start_bot, world, fake_discord
):
    await adult_track_playing(fake_lavalink, start_bot, world, fake_discord)
    card = await (await fake_discord.slash(world.other, "nowplaying")).wait_original()
    # The verified member pauses from the public card: the card stays anonymous, the note to
    # them may name the track.
    pause = await fake_discord.click(world.member, card, find_id(card, "np.pause"))
    updated = await pause.response()
    assert updated["data"]["embeds"][0]["title"] == "21+ track"
