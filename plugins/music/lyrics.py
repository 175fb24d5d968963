"""Lyrics of the playing track through the LavaLyrics plugin on the Lavalink node.

LavaLyrics answers `GET /v4/sessions/{session}/players/{guild}/track/lyrics` with
{sourceName, provider, text, lines: [{timestamp, duration, line, plugin}], plugin}, 204 when
no source has lyrics, and 404 when the node's player has no track. `GET /v4/lyrics?track=`
looks up an encoded track without a player (after a failover the node may not know it yet).
Lookups go to outside services, so each has a bounded time. Nothing here knows Discord.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog
import wavelink

from bot.api import UserError, new_ref
from plugins.music.node_info import LYRICS_PLUGIN
from plugins.music.tracks import format_ms

if TYPE_CHECKING:
    from plugins.music.node_info import NodeFeaturesCache
    from plugins.music.playback import Playback
    from plugins.music.tracks import TrackInfo

log = structlog.get_logger("plugins.music.lyrics")

# Lines per page: at ~60 characters a line, well under an embed's 4,096 characters.
LINES_PER_PAGE = 25
MAX_LINES = 1000


# One shown line: its time in the track ("1:23", None for plain text) and its words.
Line = tuple[str | None, str]


@dataclass(frozen=True)
class FoundLyrics:
    track: TrackInfo
    lines: list[Line]
    source: str


def lines_of(data: Any) -> list[Line]:
    """The lyrics as display lines: timed lines with their time, else the plain text."""
    if not isinstance(data, dict):
        return []
    out: list[Line] = []
    for item in data.get("lines") or []:
        if not isinstance(item, dict):
            continue
        text = str(item.get("line") or "").strip()
        if not text:
            continue
        stamp = item.get("timestamp")
        out.append((format_ms(stamp) if isinstance(stamp, int) else None, text))
    if not out:
        plain = [line.rstrip() for line in str(data.get("text") or "").splitlines()]
        while plain and not plain[-1]:
            plain.pop()
        out = [(None, line) for line in plain]
    return out[:MAX_LINES]


class Lyrics:
    def __init__(self, playback: Playback, features: NodeFeaturesCache,
                 timeout: float) -> None:
        self.playback = playback
        self.features = features
        self.timeout = timeout

    async def of_current(self, guild_id: int) -> FoundLyrics:
        player = self.playback.players.get(guild_id)
        track = self.playback.current.get(guild_id)
        if player is None or track is None:
            raise UserError("Nothing is playing. Use /play first, then ask for the lyrics.")
        node = player.node
        features = await self.features.of(node)
        if features.known and LYRICS_PLUGIN not in features.plugins:
            raise UserError(
                "Lyrics need the LavaLyrics plugin on the music server, and it doesn't have it. "
                "An admin adds it to lavalink/application.yml (see the music README) and "
                "restarts Lavalink.")
        try:
            async with asyncio.timeout(self.timeout):
                data = await self._lookup(node, guild_id, track)
        except TimeoutError:
            log.warning("music.lyrics_timeout", guild=guild_id, seconds=self.timeout)
            raise UserError(f"The lyrics search took longer than {self.timeout:g} s, so I "
                            "stopped waiting. Try again in a moment.") from None
        except (wavelink.LavalinkException, wavelink.NodeException,
                aiohttp.ClientError, OSError) as exc:
            ref = new_ref()
            log.warning("music.lyrics_failed", ref=ref, guild=guild_id,
                        status=getattr(exc, "status", None),
                        error=str(getattr(exc, "error", "") or type(exc).__name__)[:300])
            raise UserError(f"The music server couldn't look up the lyrics; try again later. "
                            f"(ref {ref})") from None
        lines = lines_of(data)
        if not lines:
            raise UserError(f"No lyrics found for **{track.title_for(True)[:100]}**.")
        source = str((data or {}).get("sourceName") or "") if isinstance(data, dict) else ""
        provider = str(data.get("provider") or "") if isinstance(data, dict) else ""
        shown = " via ".join(p for p in (source, provider) if p)
        return FoundLyrics(track, lines, shown)

    async def _lookup(self, node: Any, guild_id: int, track: TrackInfo) -> Any:
        try:
            return await node.send(
                "GET", path=f"v4/sessions/{node.session_id}/players/{guild_id}/track/lyrics",
                params={"skipTrackSource": "false"})
        except wavelink.LavalinkException as exc:
            if exc.status != 404:
                raise
        # The node's player has no track (yet): look the track itself up. Older LavaLyrics
        # names the parameter encodedTrack, newer ones track; each ignores the other.
        try:
            return await node.send("GET", path="v4/lyrics", params={
                "track": track.encoded, "encodedTrack": track.encoded,
                "skipTrackSource": "false"})
        except wavelink.LavalinkException as exc:
            if exc.status == 404:
                return None
            raise
