"""What a track's metadata says about it, for the member filters (explicit, blocked sources).

Lavalink carries source-specific facts in a track's `pluginInfo`. No key for "explicit" is
standard: LavaSrc (as of its 2026 releases) sends album/artist/preview fields only, while
other sources and servers (forks of LavaSrc, NodeLink, Deezer- or Spotify-backed plugins)
send one of the keys below. A track is explicit when its source flags it (even with a clean
title) or its title or artist says so ("Song (Explicit)", as before): a filter the member
turned on errs towards filtering, and tracks stored without the flag are still judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from plugins.music.lavalink import from_playable

if TYPE_CHECKING:
    import wavelink

    from plugins.music.member_prefs import Preferences
    from plugins.music.models import MusicGuildSettings
    from plugins.music.tracks import TrackInfo

# Keys seen in pluginInfo for a track's explicit-content flag.
EXPLICIT_KEYS = ("isExplicit", "explicit", "explicitLyrics", "explicit_lyrics")
# Titles like "Song (Explicit)" or "Song [Explicit Version]"; "[E]" is Apple Music's mark.
EXPLICIT_WORDS = re.compile(r"\bexplicit\b|\[e\]", re.IGNORECASE)


def explicit_flag(plugin_info: Any) -> bool | None:
    """The source's own explicit flag, or None when it gave none."""
    if not isinstance(plugin_info, dict):
        return None
    for key in EXPLICIT_KEYS:
        value = plugin_info.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    return None


def track_from(playable: wavelink.Playable) -> TrackInfo:
    """Our track from wavelink's, with the explicit flag its pluginInfo gives (if any)."""
    track = from_playable(playable)
    raw = getattr(playable, "raw_data", None) or {}
    return replace(track, explicit=True) if explicit_flag(raw.get("pluginInfo")) else track


def is_explicit(track: TrackInfo) -> bool:
    return track.explicit or bool(EXPLICIT_WORDS.search(f"{track.title} {track.author}"))


@dataclass(frozen=True)
class Admission:
    """Whether a track may be queued for a member; if not, why (shown to them) and which
    rule said so: "length" (the server's), "blocked" or "explicit" (the member's)."""

    allowed: bool
    reason: str = ""
    rule: str = ""


def admission(track: TrackInfo, settings: MusicGuildSettings,
              prefs: Preferences) -> Admission:
    """The rules of `MusicService.admissible`, given the server's settings and the member's
    preferences there (read once for a whole playlist)."""
    minutes = settings.max_track_minutes
    if minutes and not track.is_stream and track.length_ms > minutes * 60_000:
        return Admission(False, f"That's longer than this server's limit of {minutes} "
                                "minutes per track.", "length")
    blocked = prefs.blocked_sources  # saved lowercased (settings._split)
    host = ""
    # A blocked entry with a dot is a host ("bandcamp.com"); parse links only for those.
    hosts = [b for b in blocked or () if "." in b]
    if hosts and track.uri and track.source.lower() not in blocked:
        host = (urlsplit(track.uri).hostname or "").lower()
    if blocked and (track.source.lower() in blocked or any(
            host == b or host.endswith("." + b) for b in hosts)):
        return Admission(False, f"Tracks from {track.source or host} are blocked by your "
                                "preferences in this server (/music preferences).",
                         "blocked")
    if prefs.explicit_filter and is_explicit(track):
        return Admission(False, "That track is marked explicit and your explicit filter "
                                "is on in this server (/music preferences).", "explicit")
    return Admission(True)
