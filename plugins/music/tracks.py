"""A track as the music plugin stores and shows it, free of wavelink and Discord types."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

# Discord shows at most 256 characters of an embed title; our columns hold 200.
MAX_TITLE = 200
# What anyone who might not be verified 21+ sees instead of a 21+ track's or feed's name.
ADULT_PLACEHOLDER = "21+ track"


@dataclass(frozen=True)
class TrackInfo:
    encoded: str
    title: str
    author: str = ""
    uri: str | None = None
    length_ms: int = 0
    source: str = ""
    is_stream: bool = False
    requester_id: int = 0
    cannabis: bool = False
    # The source says so (Lavalink pluginInfo, see metadata.py); titles are checked apart.
    explicit: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrackInfo:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def with_requester(self, requester_id: int, *, cannabis: bool) -> TrackInfo:
        return TrackInfo(**{**asdict(self), "requester_id": requester_id, "cannabis": cannabis})

    def label(self) -> str:
        """One line for lists and messages: "Title — Author (3:05)"."""
        tail = "live" if self.is_stream else format_ms(self.length_ms)
        who = f" — {self.author}" if self.author else ""
        return f"{self.title}{who} ({tail})"

    def title_for(self, reveal: bool) -> str:
        """The title, or the placeholder for a 21+ track unless `reveal` (the reader is known
        to be verified, or the place is one only verified members can read)."""
        return self.title if reveal or not self.cannabis else ADULT_PLACEHOLDER

    def label_for(self, reveal: bool) -> str:
        return self.label() if reveal or not self.cannabis else ADULT_PLACEHOLDER


def track_id(track: TrackInfo) -> str:
    """What audit rows name a track by, besides its title: its link, or a digest of the
    encoded track (which can run to kilobytes) when it has none."""
    if track.uri:
        return track.uri[:200]
    return "enc:" + hashlib.sha256(track.encoded.encode()).hexdigest()[:16]


def format_ms(ms: int) -> str:
    seconds = max(0, int(ms) // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def parse_time(text: str) -> int | None:
    """"90", "1:30" or "1:02:03" as milliseconds; None when it is not a time."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(p.strip().isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds * 1000
