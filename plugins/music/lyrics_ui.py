"""`/music lyrics` in Discord: pages of the playing track's lyrics for the asker (the core's
paginator; the lines live in its state row, so paging works after a restart). They are shown
to the asker alone: a lookup can take seconds (the answer is deferred, and a failure must stay
private), and a 21+ track's lyrics go only to verified members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nextcord

from bot.api import Page, guild_of, user_of
from plugins.music.lyrics import LINES_PER_PAGE
from plugins.music.service import CANNABIS_FEATURE

if TYPE_CHECKING:
    from plugins.music.plugin import MusicPlugin

PAGES = "music.lyrics"
MAX_DESCRIPTION = 4096


class LyricsPages:
    async def page_count(self, params: dict[str, Any]) -> int:
        return max(1, -(-len(params.get("lines") or []) // LINES_PER_PAGE))

    async def render(self, params: dict[str, Any], page: int) -> Page:
        lines = list(params.get("lines") or [])[page * LINES_PER_PAGE:(page + 1) * LINES_PER_PAGE]
        # Lyrics come from outside services: no markdown tricks, no mentions.
        body = "\n".join(
            (f"`{stamp}` " if stamp else "")
            + nextcord.utils.escape_mentions(nextcord.utils.escape_markdown(text))
            for stamp, text in lines)
        embed = nextcord.Embed(title=f"Lyrics — {params.get('title', '')}"[:256],
                               description=body[:MAX_DESCRIPTION])
        if params.get("source"):
            embed.set_author(name=str(params["source"])[:256])
        return Page(embed=embed)


class LyricsUi:
    def __init__(self, plugin: MusicPlugin) -> None:
        self.plugin = plugin

    async def show(self, interaction: nextcord.Interaction) -> None:
        guild_id, user_id = guild_of(interaction), user_of(interaction)
        plugin = self.plugin
        current = plugin.playback.current.get(guild_id)
        if current is not None and current.cannabis:
            # Audited, and refused with the Verify button for anyone not verified 21+.
            await plugin.service.require_adult(guild_id, user_id, "This track")
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True)  # outside services: slow
        found = await plugin.lyrics.of_current(guild_id)
        # The escaped title: it is shown as the embed title (markdown renders there).
        title = nextcord.utils.escape_markdown(found.track.title)
        await plugin.ctx.paginate(
            interaction, PAGES, {"title": title, "lines": found.lines, "source": found.source},
            ephemeral=True,
            age_feature=CANNABIS_FEATURE if found.track.cannabis else None)
