"""Rank card styles: accent colour, background image (checked, re-encoded), server default,
privacy, through the fake Discord."""

from __future__ import annotations

import io
import json

from PIL import Image

from bot.models import AuditLog
from plugins.compliance.models import SERVER_DEFAULT_STYLE, RankCardStyle
from plugins.compliance.rank_card import HEIGHT, WIDTH
from plugins.compliance.tests.helpers import registry

BAR = (230, 156)  # a pixel inside the filled part of the progress bar
CORNER = (790, 10)  # background, away from avatar and text


def _png(size=(1600, 900), colour=(0, 0, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _near(pixel, colour, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


async def _card(fake, world, member) -> Image.Image:
    ix = await fake.slash(member, "rank")
    png = fake.attachment_bytes(await ix.wait_original())
    return Image.open(io.BytesIO(png)).convert("RGB")


async def test_member_styles_their_card_over_the_server_default(start_bot, world, fake_discord):
    running = await start_bot(registry=registry())
    plugin = running.bot.plugins.plugins["compliance"]
    await plugin.xp.add(world.guild.id, world.member.id, 150)
    await plugin.xp.add(world.guild.id, world.other.id, 150)

    ix = await fake_discord.slash(world.admin, "levels card", {"accent": "#00ff00"})
    assert "Saved: accent #00FF00" in fake_discord.text_of(await ix.wait_original())
    ix = await fake_discord.slash(world.member, "rankcard",
                                  {"accent": "ff0000", "background": ("me.png", _png())})
    said = fake_discord.text_of(await ix.wait_original())
    assert ix.ephemeral and "Saved: accent #FF0000, new background" in said

    stored = await RankCardStyle.get(guild_id=world.guild.id, user_id=world.member.id)
    kept = Image.open(io.BytesIO(stored.background))
    assert kept.format == "JPEG" and kept.size == (WIDTH, HEIGHT), "re-encoded, card-sized"

    ix = await fake_discord.slash(world.member, "rank")
    message = await ix.wait_original()
    assert message["attachments"][0]["filename"] == "rank.jpg", "JPEG over a picture"
    mine = Image.open(io.BytesIO(fake_discord.attachment_bytes(message))).convert("RGB")
    assert _near(mine.getpixel(BAR), (255, 0, 0))
    red, green, blue = mine.getpixel(CORNER)
    assert blue > 100 and red < 40 and green < 40, "their (darkened) blue background"
    # Another member without a style of their own gets the server's accent.
    theirs = await _card(fake_discord, world, world.other)
    assert theirs.getpixel(BAR) == (0, 255, 0)
    assert await AuditLog.filter(action="levels.card_style_changed").count() == 2

    ix = await fake_discord.slash(world.member, "rankcard", {"reset": True})
    await ix.wait_original()
    assert (await _card(fake_discord, world, world.member)).getpixel(BAR) == (0, 255, 0)


async def test_bad_backgrounds_and_colours_are_refused(start_bot, world, fake_discord):
    await start_bot(registry=registry())
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
    ix = await fake_discord.slash(world.member, "rankcard",
                                  {"background": ("big.png", b"\0" * (9 * 1024 * 1024))})
    assert "at most 8 MB" in fake_discord.text_of(await ix.wait_original())
    assert fake_discord.attachment_downloads == []


async def test_styles_are_in_privacy_export_and_delete(start_bot, world, fake_discord):
    await start_bot(registry=registry())
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
