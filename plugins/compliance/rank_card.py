"""The /rank card: a PNG (JPEG over a background picture) with avatar, name, level, tier and
a progress bar (Pillow).

Rendering is CPU work (~10 ms), run in a thread so the event loop keeps serving others.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 800, 220
BACKGROUND = (24, 32, 27)
ACCENT = (88, 178, 92)
TEXT = (235, 240, 235)
MUTED = (150, 165, 150)


@dataclass(frozen=True)
class RankInfo:
    name: str
    level: int
    tier: str
    xp_total: int
    into_level: int
    needed: int
    rank: int | None


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def _avatar(avatar_png: bytes | None, name: str, size: int,
            accent: tuple[int, int, int] = ACCENT) -> Image.Image:
    if avatar_png:
        try:
            picture = Image.open(io.BytesIO(avatar_png)).convert("RGBA").resize((size, size))
            mask = Image.new("L", (size, size), 0)
            ImageDraw.Draw(mask).ellipse((0, 0, size, size), fill=255)
            picture.putalpha(mask)
            return picture
        except Exception:  # a broken avatar must not break /rank
            pass
    # No custom avatar: a circle with the member's initial.
    picture = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((0, 0, size, size), fill=accent)
    initial = (name.strip()[:1] or "?").upper()
    draw.text((size / 2, size / 2), initial, font=_font(size // 2), fill=TEXT, anchor="mm")
    return picture


def _canvas(background_jpeg: bytes | None) -> Image.Image:
    if background_jpeg:
        try:
            # Stored card-sized and darkened (rank_styles.prepare_background): paste only.
            with Image.open(io.BytesIO(background_jpeg)) as stored:
                picture = stored.convert("RGBA")
            if picture.size == (WIDTH, HEIGHT):
                return picture
        except Exception:  # a damaged stored background falls back to the plain card
            pass
    return Image.new("RGBA", (WIDTH, HEIGHT), BACKGROUND)


def render_rank_card(info: RankInfo, avatar_png: bytes | None = None,
                     accent: tuple[int, int, int] | None = None,
                     background_jpeg: bytes | None = None) -> bytes:
    """The card; `accent` colours the bar and the initial's circle, `background_jpeg` is a
    stored background (see rank_styles)."""
    accent = accent or ACCENT
    image = _canvas(background_jpeg)
    draw = ImageDraw.Draw(image)
    avatar = _avatar(avatar_png, info.name, 160, accent)
    image.paste(avatar, (30, 30), avatar)
    left = 220
    draw.text((left, 30), info.name[:28], font=_font(36), fill=TEXT)
    rank = f"Rank #{info.rank}" if info.rank else "Unranked"
    draw.text((left, 80), f"Level {info.level} · {info.tier} · {rank}", font=_font(26),
              fill=MUTED)
    bar_top, bar_bottom, bar_right = 140, 172, WIDTH - 40
    draw.rounded_rectangle((left, bar_top, bar_right, bar_bottom), radius=16, fill=(50, 60, 52))
    fraction = min(1.0, info.into_level / info.needed) if info.needed else 0.0
    if fraction > 0:
        filled = left + max(32, int((bar_right - left) * fraction))
        draw.rounded_rectangle((left, bar_top, filled, bar_bottom), radius=16, fill=accent)
    draw.text((left, 182), f"{info.into_level:,} / {info.needed:,} XP  ·  {info.xp_total:,} total",
              font=_font(20), fill=MUTED)
    out = io.BytesIO()
    if background_jpeg:
        # A picture behind the card makes PNG slow to compress (~40-160 ms against the
        # card's ~10 ms budget) and large; JPEG (4:4:4, so the text stays crisp) takes ~2 ms.
        image.convert("RGB").save(out, format="JPEG", quality=92, subsampling=0)
    else:
        image.convert("RGB").save(out, format="PNG", optimize=False)
    return out.getvalue()


def card_filename(card: bytes) -> str:
    return "rank.png" if card.startswith(b"\x89PNG") else "rank.jpg"


def rank_text(info: RankInfo) -> str:
    """The text fallback when the card cannot be rendered."""
    rank = f"#{info.rank}" if info.rank else "unranked"
    filled = int(10 * (info.into_level / info.needed)) if info.needed else 0
    bar = "█" * filled + "░" * (10 - filled)
    return (f"**{info.name[:64]}** — level {info.level} ({info.tier}), rank {rank}\n"
            f"{bar} {info.into_level:,}/{info.needed:,} XP · {info.xp_total:,} total")
