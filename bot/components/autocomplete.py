"""Autocomplete that always answers within Discord's limits: 25 choices, 100-character names
and values, and the 3 s deadline (we give the source 2 s)."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Awaitable, Callable, Iterable

import nextcord
import structlog

log = structlog.get_logger("bot.autocomplete")

MAX_CHOICES = 25
MAX_CHOICE_CHARS = 100
SOURCE_DEADLINE = 2.0
MAX_QUERY = 100

Choice = tuple[str, str]  # (name shown, value sent back)
ChoiceSource = Callable[[str], Awaitable[Iterable[Choice | str]]]


def clean_query(raw: object) -> str:
    """Normalise what the member typed: NFKC, no control characters, at most 100 characters."""
    text = unicodedata.normalize("NFKC", str(raw or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return " ".join(text.split())[:MAX_QUERY]


def clip_choices(items: Iterable[Choice | str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, value = (item, item) if isinstance(item, str) else item
        name, value = str(name)[:MAX_CHOICE_CHARS], str(value)[:MAX_CHOICE_CHARS]
        if name and value and name not in out:
            out[name] = value
        if len(out) >= MAX_CHOICES:
            break
    return out


async def answer_autocomplete(
    interaction: nextcord.Interaction, query: object, source: ChoiceSource
) -> None:
    """Run `source` on the cleaned query and answer; a slow or failing source answers empty."""
    try:
        items = await asyncio.wait_for(source(clean_query(query)), SOURCE_DEADLINE)
        choices = clip_choices(items)
    except TimeoutError:
        log.warning("autocomplete.slow")
        choices = {}
    except Exception as exc:
        log.warning("autocomplete.failed", error=type(exc).__name__)
        choices = {}
    if not interaction.response.is_done():
        await interaction.response.send_autocomplete(choices)
