"""Rank card styles: an accent colour and a background image per member, a server default.

An uploaded background is checked twice before it is kept: its declared size before the
download (MAX_BACKGROUND_BYTES), then its content by decoding it with Pillow, whatever its
name says (a `.png` that is not an image is refused). It is then cropped to the card,
darkened so the text stays legible, and re-encoded as JPEG: nothing of the uploaded file
(metadata, extra frames, a polyglot payload) is stored, and drawing a card only pastes it.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from bot.api import UserError
from plugins.compliance.models import SERVER_DEFAULT_STYLE, RankCardStyle
from plugins.compliance.rank_card import HEIGHT, WIDTH

MAX_BACKGROUND_BYTES = 8 * 1024 * 1024
# Decoded size limit: a 5 KB PNG can claim 50,000 × 50,000 pixels (a decompression bomb).
MAX_BACKGROUND_PIXELS = 40_000_000
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
DARKEN = 0.45  # share of black laid over the picture
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


@dataclass(frozen=True)
class CardStyle:
    accent: tuple[int, int, int] | None = None
    background: bytes | None = None


def parse_accent(text: str) -> str:
    """'#RRGGBB' from '#rrggbb' or 'rrggbb'; UserError otherwise."""
    found = _HEX.fullmatch(text.strip())
    if found is None:
        raise UserError("The accent colour must be a hex colour like `#58B25C`.")
    return "#" + found.group(1).upper()


def rgb(accent: str) -> tuple[int, int, int]:
    value = int(accent.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def check_background_size(size: int) -> None:
    if size > MAX_BACKGROUND_BYTES:
        raise UserError(f"The image is {size / 1_048_576:.1f} MB; at most "
                        f"{MAX_BACKGROUND_BYTES // 1_048_576} MB.")


def prepare_background(data: bytes) -> bytes:
    """The stored form of an uploaded background (JPEG, card-sized, darkened); CPU work, run
    it in a thread. UserError for anything that is not a picture Pillow can decode."""
    check_background_size(len(data))
    refused = UserError("That file is not a PNG, JPEG, GIF or WebP image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise refused
                if probe.width * probe.height > MAX_BACKGROUND_PIXELS:
                    raise UserError("That image is too large (over 40 megapixels).")
                probe.verify()  # checks the structure without decoding pixels
            # verify() leaves the image unusable: open again to decode (first frame only).
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                picture = image.convert("RGB")
    except UserError:
        raise
    except Exception:  # Pillow raises many types for broken or hostile files
        raise refused from None
    fitted = ImageOps.fit(picture, (WIDTH, HEIGHT), method=Image.Resampling.LANCZOS)
    darkened = Image.blend(fitted, Image.new("RGB", fitted.size, (0, 0, 0)), DARKEN)
    out = io.BytesIO()
    darkened.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


async def style_for(guild_id: int, user_id: int, *, own_background: bool) -> CardStyle:
    """The member's style, falling back field by field to the server default.

    `own_background`: whether the member's own background may be drawn, i.e. the card is
    shown where only verified 21+ members can read it. A member's picture is unreviewed and
    could show cannabis; elsewhere the card keeps their accent over the server's background
    (which admins chose for everyone)."""
    rows = {row.user_id: row for row in await RankCardStyle.filter(
        guild_id=guild_id, user_id__in=[user_id, SERVER_DEFAULT_STYLE])}
    accent: str | None = None
    background: bytes | None = None
    for key in (user_id, SERVER_DEFAULT_STYLE):
        row = rows.get(key)
        if row is None:
            continue
        accent = accent or row.accent
        if key == SERVER_DEFAULT_STYLE or own_background:
            background = background or (bytes(row.background) if row.background else None)
    return CardStyle(rgb(accent) if accent else None, background)


async def save_style(guild_id: int, user_id: int, *, accent: str | None = None,
                     background: bytes | None = None, reset: bool = False) -> RankCardStyle | None:
    """Change one style row (user_id 0: the server default); reset deletes it."""
    if reset:
        await RankCardStyle.filter(guild_id=guild_id, user_id=user_id).delete()
        return None
    row, _ = await RankCardStyle.get_or_create(guild_id=guild_id, user_id=user_id)
    if accent is not None:
        row.accent = accent
    if background is not None:
        row.background = background
    await row.save()
    return row


async def export_styles(user_id: int) -> list[dict[str, object]]:
    """A member's rank card styles for /privacy export (the background as base64 JPEG)."""
    import base64

    rows = await RankCardStyle.filter(user_id=user_id).order_by("guild_id")
    return [{"guild_id": row.guild_id, "accent": row.accent,
             "background_jpeg_base64": (base64.b64encode(bytes(row.background)).decode()
                                        if row.background else None),
             "updated_at": row.updated_at.isoformat() if row.updated_at else None}
            for row in rows if row.user_id != SERVER_DEFAULT_STYLE]
