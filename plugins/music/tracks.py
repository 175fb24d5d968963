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
    # What the node said (isSeekable); None for tracks stored before it was kept: not a stream.
    seekable: bool | None = None

    @property
    def length_known(self) -> bool:
        """NodeLink reports -1 for a length it does not know (Lavalink streams: Long.MAX)."""
        return not self.is_stream and self.length_ms > 0

    @property
    def can_seek(self) -> bool:
        return (not self.is_stream) if self.seekable is None else self.seekable

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
        tail = duration_text(self.length_ms, is_stream=self.is_stream)
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


def duration_text(length_ms: int, *, is_stream: bool = False) -> str:
    """"3:05", "live", or "unknown length" (never "0:00" for a length the node didn't know)."""
    if is_stream:
        return "live"
    return format_ms(length_ms) if length_ms > 0 else "unknown length"


def start_position(position_ms: int, track: TrackInfo) -> int:
    """Where to (re)start `track`: never below 0 (Lavalink refuses it with 400), never past a
    known end, and 0 for a track the node can't seek in."""
    if not track.can_seek:
        return 0
    position = max(0, int(position_ms))
    return min(position, track.length_ms) if track.length_known else position


def parse_time(text: str) -> int | None:
    """"90", "1:30" or "1:02:03" as milliseconds; None when it is not a time."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(p.strip().isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds * 1000
