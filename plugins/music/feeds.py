"""Reading podcast feeds with feedparser (RSS 0.9x/1.0/2.0, Atom, iTunes tags, any declared
encoding), with XML bombs defused.

feedparser hands the XML to the first SAX parser `xml.sax.make_parser` finds, in the order of
its `PREFERRED_XML_PARSERS`; we put defusedxml's expat reader first, which refuses every entity
declaration (the "billion laughs" expansion) and external entities and DTDs (a feed that reads
local files or makes the bot fetch URLs). feedparser itself already drops entity declarations
that refer to other entities and turns off external entities, so this is a second lock.

The body is given to feedparser as a stream, never as bytes: feedparser treats a `str`/`bytes`
argument as a URL or a *file name* first, so a feed whose body read "/etc/passwd" would be
opened from the local disk.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.api
import structlog
from defusedxml import DefusedXmlException

from bot.api import UserError

log = structlog.get_logger("plugins.music.feeds")

feedparser.api.PREFERRED_XML_PARSERS = ["defusedxml.expatreader"]

# A select menu shows at most 25 options; the listing shows as many episodes.
MAX_EPISODES = 25
NOT_A_FEED = "That link isn't an RSS or Atom podcast feed."
AUDIO_TYPES = ("audio/", "video/")


@dataclass(frozen=True)
class Episode:
    title: str
    url: str  # "" when the episode has no audio file (no enclosure): listed, not playable
    published: str = ""
    duration_s: int | None = None
    guid: str = ""

    @property
    def playable(self) -> bool:
        return bool(self.url)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Feed:
    title: str
    description: str
    episodes: list[Episode]

    @property
    def playable(self) -> list[Episode]:
        return [e for e in self.episodes if e.playable]


def parse_duration(value: Any) -> int | None:
    """iTunes durations: "3723", "62:03", "1:02:03" (seconds), or nothing usable."""
    text = str(value or "").strip()
    if not re.fullmatch(r"\d+(:\d{1,2}){0,2}(\.\d+)?", text):
        return None
    seconds = 0
    for part in text.split(".")[0].split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def _clean(text: Any) -> str:
    return " ".join(str(text or "").split())


def _audio_link(entry: Any, base_url: str) -> str:
    """The entry's enclosure (RSS `<enclosure>`, Atom `rel="enclosure"`), preferring audio."""
    links = [ln for ln in entry.get("links", []) if ln.get("rel") == "enclosure"
             and ln.get("href")]
    links.sort(key=lambda ln: not str(ln.get("type", "audio/")).startswith(AUDIO_TYPES))
    return urljoin(base_url, links[0]["href"]) if links else ""


def parse_feed(data: bytes, base_url: str) -> Feed:
    """Up to 25 episodes as the feed lists them (newest first in practice), with or without
    audio; a feed that isn't one, or that declares XML entities, is refused."""
    try:
        # The XML declaration names the encoding (feedparser falls back to UTF-8, then
        # Windows-1252); the HTTP Content-Type is not kept, and servers often get it wrong.
        parsed = feedparser.parse(io.BytesIO(data), response_headers={
            "content-location": base_url, "content-type": "application/xml"})
    except DefusedXmlException as exc:
        log.warning("music.feed_refused", reason=type(exc).__name__, url=base_url[:200])
        raise UserError("That feed declares XML entities (which podcast feeds never need), "
                        "so it was refused.") from None
    if not parsed.get("version") or (not parsed.entries and not parsed.feed.get("title")):
        if parsed.get("bozo"):
            log.info("music.feed_malformed", url=base_url[:200],
                     error=type(parsed.get("bozo_exception")).__name__)
        raise UserError(NOT_A_FEED)
    if parsed.get("bozo"):
        # A feed with an XML mistake that feedparser's lenient parser could still read.
        log.info("music.feed_lenient", url=base_url[:200],
                 error=type(parsed.get("bozo_exception")).__name__)
    episodes = []
    for entry in parsed.entries[:MAX_EPISODES]:
        url = _audio_link(entry, base_url)
        episodes.append(Episode(
            title=_clean(entry.get("title"))[:300] or "Untitled",
            url=url,
            published=_clean(entry.get("published") or entry.get("updated"))[:64],
            duration_s=parse_duration(entry.get("itunes_duration")),
            guid=_clean(entry.get("id") or url or entry.get("title"))[:500],
        ))
    feed = parsed.feed
    return Feed(_clean(feed.get("title"))[:200] or "Podcast",
                _clean(feed.get("subtitle") or feed.get("description"))[:2000], episodes)


def episodes_from_state(data: dict[str, Any]) -> list[Episode]:
    return [Episode(**e) for e in data.get("episodes", [])]
