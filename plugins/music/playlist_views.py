"""A saved playlist's pages for the core paginator: each page reads only its ten rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nextcord

from bot.api import Page
from plugins.music.playlist_store import SERVER
from plugins.music.playlists import escape, name_for
from plugins.music.tracks import ADULT_PLACEHOLDER, format_ms

if TYPE_CHECKING:
    from plugins.music.playlists import PlaylistService

PER_PAGE = 10
# Discord: embed description at most 4,096 characters, title 256.
MAX_DESCRIPTION = 4096
PAGES_SOURCE = "music.playlist"


class PlaylistPages:
    def __init__(self, playlists: PlaylistService) -> None:
        self.playlists = playlists

    async def page_count(self, params: dict[str, Any]) -> int:
        playlist = await self.playlists.store.get(int(params["id"]))
        count = playlist.track_count if playlist is not None else 0
        return max(1, -(-count // PER_PAGE))

    async def render(self, params: dict[str, Any], page: int) -> Page:
        playlist = await self.playlists.store.get(int(params["id"]))
        if playlist is None:
            return Page(embed=nextcord.Embed(title="Playlist deleted",
                                             description="This playlist no longer exists."))
        # Set when the pages were opened: True only for a verified viewer's ephemeral pages or
        # a channel only verified members can read.
        reveal = bool(params.get("reveal"))
        adult = await self.playlists.adult_test(playlist.guild_id)
        rows = await self.playlists.store.page(playlist.id, page * PER_PAGE, PER_PAGE)
        lines = []
        for n, row in enumerate(rows, start=page * PER_PAGE + 1):
            if adult(row) and not reveal:
                what = ADULT_PLACEHOLDER
            else:
                what = (f"{escape(row.title)} — {escape(row.author)} "
                        f"({'live' if row.is_stream else format_ms(row.length_ms)})")
            lines.append(f"`{n}.` {what}" + (" 🔞" if adult(row) else ""))
        if not rows and page == 0:
            lines.append("This playlist is empty. Add tracks with `/playlist add`.")
        owner = ("Server playlist" if playlist.owner_id == SERVER
                 else f"By <@{playlist.owner_id}>" + (" · shared" if playlist.shared else ""))
        embed = nextcord.Embed(
            title=f"{escape(name_for(playlist.name, reveal))} — "
                  f"{playlist.track_count} tracks"[:256],
            description=(owner + "\n\n" + "\n".join(lines))[:MAX_DESCRIPTION])
        return Page(embed=embed)
