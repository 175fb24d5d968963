"""What members see: the now-playing embed with its buttons, and queue pages."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nextcord

from bot.api import Page, button, controls
from plugins.music.tracks import ADULT_PLACEHOLDER, duration_text, format_ms

if TYPE_CHECKING:
    from bot.api import PluginComponents
    from plugins.music.playback import Playback
    from plugins.music.queue import QueueRepository

PER_PAGE = 10
BAR_WIDTH = 16
# Buttons outlive a restart: their state row is kept a week, and refers to the guild's player,
# not to one track, so they control whatever plays when pressed.
CONTROLS_TTL = timedelta(days=7)
# The kind of the state row behind every now-playing button; the buttons accept no other.
NP_KIND = "np"
# Discord: embed description at most 4,096 characters.
MAX_DESCRIPTION = 4096


def progress_bar(position_ms: int, length_ms: int) -> str:
    if length_ms <= 0:
        return "🔴 live"
    filled = min(BAR_WIDTH - 1, int(BAR_WIDTH * max(position_ms, 0) / length_ms))
    bar = "▬" * filled + "🔘" + "▬" * (BAR_WIDTH - filled - 1)
    return f"{bar} {format_ms(position_ms)} / {format_ms(length_ms)}"


async def now_playing(playback: Playback, queue: QueueRepository, guild_id: int,
                      *, reveal: bool = False) -> nextcord.Embed:
    """The now-playing card; a 21+ track shows as the placeholder (no title, artist or link)
    unless `reveal` (a verified reader, or a place only verified members can read)."""
    session = await playback.session(guild_id)
    current = playback.current.get(guild_id)
    player = playback.players.get(guild_id)
    if session is None or current is None or player is None:
        return nextcord.Embed(title="Nothing is playing", description="Use /play to start.")
    position = player.position if player.current else session.position_ms
    length = 0 if current.is_stream else current.length_ms
    shown = reveal or not current.cannabis
    author = current.author if shown else ""
    # A length the node didn't know (NodeLink: -1) is neither "live" nor "0:00".
    bar = (progress_bar(position, length) if current.is_stream or current.length_known
           else f"{format_ms(position)} · unknown length")
    description = f"{author}\n\n{bar}".strip()
    embed = nextcord.Embed(title=current.title_for(reveal)[:256],
                           url=(current.uri or None) if shown else None,
                           description=description[:MAX_DESCRIPTION])
    embed.add_field(name="Requested by", value=f"<@{current.requester_id}>")
    embed.add_field(name="Loop", value=session.loop_mode)
    embed.add_field(name="Volume", value=str(session.volume))
    state = "Paused" if session.paused else "Playing"
    embed.set_footer(text=f"{state} · {await queue.count(guild_id)} in queue"
                     + (" · 21+" if current.cannabis else ""))
    return embed


def control_buttons(components: PluginComponents, state_id: str, *,
                    paused: bool) -> nextcord.ui.View:
    def cid(action: str) -> str:
        return components.custom_id(action, state_id)

    return controls(
        button("Resume" if paused else "Pause", cid("np.pause"), emoji="⏯"),
        button("Skip", cid("np.skip"), emoji="⏭"),
        button("Stop", cid("np.stop"), emoji="⏹", style=nextcord.ButtonStyle.danger),
        button("Loop", cid("np.loop"), emoji="🔁"),
        button("Shuffle", cid("np.shuffle"), emoji="🔀"),
    )


class QueuePages:
    """Queue pages for the core paginator: each page reads only its ten rows."""

    def __init__(self, playback: Playback, queue: QueueRepository) -> None:
        self.playback = playback
        self.queue = queue

    async def page_count(self, params: dict[str, Any]) -> int:
        count = await self.queue.count(int(params["guild"]))
        return max(1, -(-count // PER_PAGE))

    async def render(self, params: dict[str, Any], page: int) -> Page:
        guild_id = int(params["guild"])
        # Set when the pages were opened: True only for a verified viewer's ephemeral pages or
        # a channel only verified members can read.
        reveal = bool(params.get("reveal"))
        entries = await self.queue.page(guild_id, page * PER_PAGE, PER_PAGE)
        lines = []
        if page == 0:
            current = self.playback.current.get(guild_id)
            if current is not None:
                lines.append(f"**Now:** {current.label_for(reveal)}\n")
        for n, entry in enumerate(entries, start=page * PER_PAGE + 1):
            if entry.cannabis and not reveal:
                what = ADULT_PLACEHOLDER
            else:
                what = f"{entry.title} — {entry.author} ({duration_text(entry.length_ms)})"
            flag = " 🔞" if entry.cannabis else ""
            lines.append(f"`{n}.` {what} · <@{entry.requester_id}>{flag}")
        if not entries and page == 0:
            lines.append("The queue is empty. Add tracks with /play.")
        total = await self.queue.count(guild_id)
        embed = nextcord.Embed(title=f"Queue — {total} tracks",
                               description="\n".join(lines)[:MAX_DESCRIPTION])
        return Page(embed=embed)
