"""How /history looks: pages for the core paginator and the options of the replay select."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nextcord

from bot.api import Option, Page
from plugins.music.history import HISTORY_SIZE
from plugins.music.tracks import ADULT_PLACEHOLDER, format_ms

if TYPE_CHECKING:
    from plugins.music.history import PlayHistory
    from plugins.music.models import MusicHistoryEntry

PER_PAGE = 10
# Discord: embed description at most 4,096 characters; select labels at most 100.
MAX_DESCRIPTION = 4096
MAX_LABEL = 100


def describe(entry: MusicHistoryEntry, reveal: bool) -> str:
    """ "Title — Author (3:05)", or the placeholder for a 21+ track unless `reveal`."""
    if entry.cannabis and not reveal:
        return ADULT_PLACEHOLDER
    tail = "live" if entry.is_stream else format_ms(entry.length_ms)
    who = f" — {entry.author}" if entry.author else ""
    return f"{entry.title}{who} ({tail})"


class HistoryPages:
    """The server's history, newest first, ten per page; each page reads only its rows."""

    def __init__(self, history: PlayHistory) -> None:
        self.history = history

    async def page_count(self, params: dict[str, Any]) -> int:
        return max(1, -(-await self.history.count(int(params["guild"])) // PER_PAGE))

    async def render(self, params: dict[str, Any], page: int) -> Page:
        guild_id = int(params["guild"])
        reveal = bool(params.get("reveal"))
        entries = await self.history.page(guild_id, page * PER_PAGE, PER_PAGE)
        lines = []
        for n, entry in enumerate(entries, start=page * PER_PAGE + 1):
            when = int(entry.played_at.timestamp())
            flag = " 🔞" if entry.cannabis else ""
            lines.append(f"`{n}.` {nextcord.utils.escape_markdown(describe(entry, reveal))}"
                         f" · <@{entry.requester_id}> · <t:{when}:R>{flag}")
        if not lines:
            lines.append("Nothing has been played here yet. Use /play to start.")
        embed = nextcord.Embed(title=f"Recently played — last {HISTORY_SIZE} kept",
                               description="\n".join(lines)[:MAX_DESCRIPTION])
        return Page(embed=embed)


def replay_options(entries: list[MusicHistoryEntry], reveal: bool) -> list[Option]:
    return [Option(f"{n}. {describe(e, reveal)}"[:MAX_LABEL], str(e.id))
            for n, e in enumerate(entries, start=1)]
