"""Strain data: the shipped starter set, lookups, autocomplete, recommendations and browsing.

Free of Discord types; cards.py turns these rows into embeds.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from plugins.ui.models import Strain

DATA_DIR = Path(__file__).parent / "data"
STRAIN_TYPES = ("indica", "sativa", "hybrid")
EFFECTS = (
    "Relaxed", "Happy", "Euphoric", "Uplifted", "Creative", "Energetic", "Focused", "Sleepy",
    "Hungry",
)
EXPERIENCE = ("beginner", "intermediate", "experienced")
# Explore categories: the three types, high-CBD strains and everything.
CATEGORIES = {
    "indica": "Indica",
    "sativa": "Sativa",
    "hybrid": "Hybrid",
    "cbd": "High CBD (≥ 5 %)",
    "all": "All strains",
}
HIGH_CBD = 5.0
# Discord shows at most 25 autocomplete choices.
AUTOCOMPLETE_LIMIT = 25
PAGE_SIZE = 10
_KEY_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class StrainDataError(ValueError):
    """Strain fields an admin typed that cannot be stored; the message says what to fix."""


def name_key(text: str) -> str:
    """The lookup key of a name: accents folded, lowercase ASCII letters and digits only.

    Keeping only [0-9a-z] makes byte order and every database collation agree, so the
    prefix range below is correct on SQLite and PostgreSQL alike."""
    folded = unicodedata.normalize("NFKD", text).casefold()
    return "".join(ch for ch in folded if ch in _KEY_ALPHABET)[:100]


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest key greater than every key starting with `prefix` (None: no bound)."""
    chars = list(prefix)
    while chars:
        last = chars.pop()
        index = _KEY_ALPHABET.index(last)
        if index + 1 < len(_KEY_ALPHABET):
            return "".join(chars) + _KEY_ALPHABET[index + 1]
    return None


def effects_key(effects: list[str]) -> str:
    return "|" + "|".join(e.casefold() for e in effects) + "|" if effects else ""


@dataclass(frozen=True)
class StrainFields:
    """Validated strain data, ready to store."""

    name: str
    type: str
    thc: tuple[float, float]
    cbd: tuple[float, float]
    effects: list[str]
    flavors: list[str]
    description: str = ""
    source_url: str = ""
    growing: dict[str, Any] | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "name": self.name, "name_key": name_key(self.name), "type": self.type,
            "thc_min": self.thc[0], "thc_max": self.thc[1],
            "cbd_min": self.cbd[0], "cbd_max": self.cbd[1],
            "effects": self.effects, "effects_key": effects_key(self.effects)[:300],
            "flavors": self.flavors, "description": self.description,
            "source_url": self.source_url, "growing": self.growing or {},
        }


_RANGE = re.compile(r"^(\d{1,2}(?:\.\d{1,2})?)\s*(?:-|–|to)\s*(\d{1,2}(?:\.\d{1,2})?)\s*%?$")
_SINGLE = re.compile(r"^(\d{1,2}(?:\.\d{1,2})?)\s*%?$")


def parse_percent_range(raw: str) -> tuple[float, float]:
    """"18-24", "18 to 24 %" or "0.5" -> (low, high) in percent, 0 to 99."""
    text = raw.strip()
    match = _RANGE.match(text)
    if match:
        low, high = float(match.group(1)), float(match.group(2))
    elif (single := _SINGLE.match(text)) is not None:
        low = high = float(single.group(1))
    else:
        raise ValueError("write a percentage range like 18-24 (or one number like 0.5)")
    if low > high:
        raise ValueError("the first number of the range must not be larger than the second")
    return low, high


def parse_strain_type(raw: str) -> str:
    value = raw.strip().casefold()
    if value not in STRAIN_TYPES:
        raise ValueError("type must be indica, sativa or hybrid")
    return value


def parse_word_list(raw: str, *, limit: int = 8) -> list[str]:
    """"relaxed, happy" -> ["Relaxed", "Happy"]; commas or new lines separate items."""
    items = [" ".join(p.split()) for p in re.split(r"[,\n]", raw)]
    words = [w[:30].title() for w in items if w]
    if not words:
        raise ValueError("list at least one, separated by commas")
    return list(dict.fromkeys(words))[:limit]


def parse_source_url(raw: str) -> str:
    text = raw.strip()
    if not re.match(r"^https://[^\s<>]{3,290}$", text):
        raise ValueError("the source must be an https:// link")
    return text


def parse_strain_name(raw: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not name_key(text) or len(text) > 100:
        raise ValueError("a strain name needs letters or digits (at most 100 characters)")
    return text


def load_shipped_strains() -> list[StrainFields]:
    raw = json.loads((DATA_DIR / "strains.json").read_text(encoding="utf-8"))
    return [
        StrainFields(
            name=item["name"], type=item["type"], thc=tuple(item["thc"]),
            cbd=tuple(item["cbd"]),
            effects=item["effects"], flavors=item["flavors"],
            description=item["description"], source_url=item["source"],
            growing=item.get("growing"),
        )
        for item in raw
    ]


async def seed_strains() -> int:
    """Insert shipped strains that are missing (by name key); returns how many were added."""
    shipped = load_shipped_strains()
    existing = set(await Strain.all().values_list("name_key", flat=True))
    missing = [s for s in shipped if name_key(s.name) not in existing]
    if missing:
        async with in_transaction():
            await Strain.bulk_create([Strain(**s.columns()) for s in missing])
    return len(missing)


async def autocomplete_strains(query: str, limit: int = AUTOCOMPLETE_LIMIT) -> list[Strain]:
    """Strains whose name key starts with the query's key: one index range scan."""
    key = name_key(query)
    if query.strip() and not key:
        # Only symbols or emoji: nothing can match, and scanning everything would be useless.
        return []
    rows = Strain.filter(name_key__gte=key) if key else Strain.all()
    upper = prefix_upper_bound(key) if key else None
    if upper is not None:
        rows = rows.filter(name_key__lt=upper)
    return await rows.order_by("name_key").limit(limit)


async def find_strain(name: str) -> Strain | None:
    key = name_key(name)
    if not key:
        return None
    return await Strain.get_or_none(name_key=key)


async def suggestions(name: str, limit: int = 3) -> list[str]:
    """Names close to what was typed, for a "did you mean" hint."""
    key = name_key(name)
    for cut in (len(key), 4, 2):
        if cut <= 0:
            break
        found = await autocomplete_strains(key[:cut], limit)
        if found:
            return [s.name for s in found]
    return []


async def recommend(effect: str, experience: str | None, limit: int = 5) -> list[Strain]:
    """Strains with the effect, ordered for the member's experience: gentle THC first for
    beginners (CBD softens THC), strongest first for experienced members."""
    wanted = effect.casefold()
    rows = await Strain.filter(effects_key__contains=f"|{wanted}|")
    level = experience or "intermediate"

    def order(strain: Strain) -> tuple[float, ...]:
        # Effects are listed most-reported first; an earlier position fits better.
        position = [e.casefold() for e in strain.effects].index(wanted)
        if level == "beginner":
            return (strain.thc_max > 20, position, strain.thc_max, -strain.cbd_max)
        if level == "experienced":
            return (position, -strain.thc_max)
        return (position, abs(strain.thc_max - 20))

    return sorted(rows, key=order)[:limit]


def _category_query(category: str) -> Any:
    if category in STRAIN_TYPES:
        return Strain.filter(type=category)
    if category == "cbd":
        return Strain.filter(cbd_max__gte=HIGH_CBD)
    return Strain.all()


async def category_count(category: str) -> int:
    return await _category_query(category).count()


async def category_page(category: str, page: int, size: int = PAGE_SIZE) -> list[Strain]:
    return await _category_query(category).order_by("name_key").offset(page * size).limit(size)


async def category_names(category: str, limit: int = 5000) -> list[tuple[str, str]]:
    rows = await _category_query(category).order_by("name_key").limit(limit).values_list(
        "name", "type"
    )
    return [(str(n), str(t)) for n, t in rows]


async def save_strain(fields: StrainFields, *, strain_id: int | None, actor_id: int) -> Strain:
    """Create or update a strain; refuses a name another strain already uses."""
    key = name_key(fields.name)
    clash = await Strain.filter(name_key=key).exclude(id=strain_id or 0).first()
    if clash is not None:
        raise StrainDataError(f"**{clash.name}** already exists; edit it instead.")
    columns = fields.columns()
    if strain_id is None:
        return await Strain.create(**columns, created_by=actor_id)
    strain = await Strain.get_or_none(id=strain_id)
    if strain is None:
        raise StrainDataError("That strain no longer exists.")
    strain.update_from_dict(columns)
    await strain.save()
    return strain
