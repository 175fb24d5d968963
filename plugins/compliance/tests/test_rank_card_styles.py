"""Rank card styles: accent colour, background image (checked, re-encoded), server default,
privacy, through the fake Discord."""

from __future__ import annotations

import io
import json

from PIL import Image

from bot.models import AuditLog
from plugins.compliance.models import SERVER_DEFAULT_STYLE, RankCardStyle
from plugins.compliance.rank_card import HEIGHT, WIDTH
from plugins.compliance.tests.helpers import (
    adults_only_channel,
    button_ids,
    registry,
    verify,
)

BAR = (230, 156)  # a pixel inside the filled part of the progress bar
CORNER = (790, 10)  # background, away from avatar and text


def _png(size=(1600, 900), colour=(0, 0, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _near(pixel, colour, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


async def _card(fake, world, member, *, channel=None, whose=None) -> Image.Image:
    ix = await fake.slash(member, "rank", {"member": whose} if whose else {}, channel=channel)
    png = fake.attachment_bytes(await ix.wait_original())
    return Image.open(io.BytesIO(png)).convert("RGB")


def _blue(pixel) -> bool:
    red, green, blue = pixel
    return blue > 100 and red < 40 and green < 40


def _yellow(pixel) -> bool:
    red, green, blue = pixel
    return red > 100 and green > 100 and blue < 40


async def test_a_verified_members_background_shows_only_in_21_plus_channels(
        start_bot, world, fake_discord):
    running = await start_bot(registry=registry())
    plugin = running.bot.plugins.plugins["compliance"]
    await plugin.xp.add(world.guild.id, world.member.id, 150)
    await plugin.xp.add(world.guild.id, world.other.id, 150)
    lounge = await adults_only_channel(fake_discord, world)
    await verify(fake_discord, world.member)

    # The admins' server default (their responsibility: it shows everywhere).
    ix = await fake_discord.slash(world.admin, "levels card",
                                  {"accent": "#00ff00",
                                   "background": ("server.png", _png(colour=(255, 255, 0)))})
    said = fake_discord.text_of(await ix.wait_original())
    assert "Saved: accent #00FF00, new background" in said and "fit for all ages" in said
    ix = await fake_discord.slash(world.member, "rankcard",
                                  {"accent": "ff0000", "background": ("me.png", _png())})
    said = fake_discord.text_of(await ix.wait_original())
    assert ix.ephemeral and "Saved: accent #FF0000, new background" in said
    assert "only in channels where everyone is verified 21+" in said

    stored = await RankCardStyle.get(guild_id=world.guild.id, user_id=world.member.id)
    kept = Image.open(io.BytesIO(stored.background))
    assert kept.format == "JPEG" and kept.size == (WIDTH, HEIGHT), "re-encoded, card-sized"

    # In the 21+ lounge, where every reader is verified: their own picture.
    ix = await fake_discord.slash(world.member, "rank", channel=lounge)
    message = await ix.wait_original()
    assert not ix.ephemeral and message["attachments"][0]["filename"] == "rank.jpg"
    mine = Image.open(io.BytesIO(fake_discord.attachment_bytes(message))).convert("RGB")
    assert _near(mine.getpixel(BAR), (255, 0, 0))
    assert _blue(mine.getpixel(CORNER)), "their (darkened) blue background"

    # In the ordinary channel, open to unverified members: their accent, the server's
    # picture; the same when someone else asks for their card.
    for asker in (world.member, world.other):
        public = await _card(fake_discord, world, asker, channel=world.channel,
                             whose=world.member)
        assert _near(public.getpixel(BAR), (255, 0, 0))
        assert _yellow(public.getpixel(CORNER)) and not _blue(public.getpixel(CORNER))
    # Another member without a style of their own gets the server's style.
    theirs = await _card(fake_discord, world, world.other, channel=lounge)
    assert _near(theirs.getpixel(BAR), (0, 255, 0)) and _yellow(theirs.getpixel(CORNER))
    assert await AuditLog.filter(action="levels.card_style_changed").count() == 2
    assert await AuditLog.filter(action="age_gate.allowed", actor_id=world.member.id,
                                 target="compliance.rank_card_background").exists()

    ix = await fake_discord.slash(world.member, "rankcard", {"reset": True})
    await ix.wait_original()
    reset = await _card(fake_discord, world, world.member, channel=lounge)
    assert _near(reset.getpixel(BAR), (0, 255, 0)) and _yellow(reset.getpixel(CORNER))


async def test_an_unverified_member_cannot_upload_a_background(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    ix = await fake_discord.slash(world.member, "rankcard",
                                  {"accent": "#ff0000", "background": ("me.png", _png())})
    answer = await ix.wait_original()
    said = fake_discord.text_of(answer)
    assert ix.ephemeral and "takes a member verified 21+" in said
    assert any("verify" in custom_id for custom_id in button_ids(answer)), "Verify my age"
    assert fake_discord.attachment_downloads == [], "refused before the download"
    assert not await RankCardStyle.exists(), "nothing saved, not even the accent"
    assert await AuditLog.filter(action="age_gate.denied", actor_id=world.member.id,
                                 target="compliance.rank_card_background").exists()
    assert not await AuditLog.filter(action="levels.card_style_changed").exists()

    # An accent colour is no picture: open to every member.
    ix = await fake_discord.slash(world.member, "rankcard", {"accent": "#ff0000"})
    assert "Saved: accent #FF0000" in fake_discord.text_of(await ix.wait_original())


async def test_bad_backgrounds_and_colours_are_refused(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    await verify(fake_discord, world.member)
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, format="PNG")  # ~10 KB, 81 megapixels
    cases = [
        ({"background": ("cat.png", b"\x89PNG\r\n\x1a\nthis is not an image")},
         "not a PNG, JPEG, GIF or WebP image"),
        ({"background": ("notes.png", b"just some text")}, "not a PNG, JPEG, GIF or WebP"),
        ({"background": ("cut.png", _png()[:200])}, "not a PNG, JPEG, GIF or WebP"),
        ({"background": ("huge.png", bomb.getvalue())}, "too large"),
        ({"accent": "red"}, "hex colour like `#58B25C`"),
        ({}, "Give an accent colour, a background image, or reset."),
    ]
    for options, why in cases:
        ix = await fake_discord.slash(world.member, "rankcard", options)
        said = fake_discord.text_of(await ix.wait_original())
        assert why in said, (options, said)
    assert not await RankCardStyle.exists()


async def test_an_oversized_background_is_refused_before_downloading(start_bot, world,
                                                                     fake_discord):
    await start_bot(registry=registry())
    await verify(fake_discord, world.member)
    ix = await fake_discord.slash(world.member, "rankcard",
                                  {"background": ("big.png", b"\0" * (9 * 1024 * 1024))})
    assert "at most 8 MB" in fake_discord.text_of(await ix.wait_original())
    assert fake_discord.attachment_downloads == []


async def test_styles_are_in_privacy_export_and_delete(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    await verify(fake_discord, world.member)
    await (await fake_discord.slash(world.member, "rankcard",
                                    {"background": ("me.png", _png((300, 300)))})).wait_original()
    await (await fake_discord.slash(world.admin, "levels card",
                                    {"accent": "#123456"})).wait_original()
    ix = await fake_discord.slash(world.member, "privacy export")
    exported = json.loads(fake_discord.attachment_bytes(await ix.wait_original()))
    styles = exported["plugins"]["compliance"]["rank_card_styles"]
    assert len(styles) == 1 and styles[0]["guild_id"] == world.guild.id
    assert styles[0]["background_jpeg_base64"]

    plugin_delete = await fake_discord.slash(world.member, "privacy delete")
    prompt = await plugin_delete.wait_original()
    yes = next(c["custom_id"] for row in prompt["components"] for c in row["components"]
               if "cf.yes" in c.get("custom_id", ""))
    done = await fake_discord.click(world.member, prompt, yes)
    await done.response()
    await done.wait_followups(1)
    assert not await RankCardStyle.filter(user_id=world.member.id).exists()
    assert await RankCardStyle.filter(user_id=SERVER_DEFAULT_STYLE).exists(), "server's kept"
