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
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from plugins.music.lavalink import from_playable

if TYPE_CHECKING:
    import wavelink

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
