"""`/meditate start` and `/meditate history`: Discord in, meditation runner calls out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nextcord
from nextcord.ext import commands

from bot.api import GUILD_ONLY, Page, guild_of, user_of
from plugins.music.cog import member_channel
from plugins.music.meditation import HISTORY_PAGE, MAX_MINUTES, MeditationRunner
from plugins.music.models import MeditationSession

if TYPE_CHECKING:
    from bot.api import PluginContext
    from plugins.music.plugin import MusicPlugin

HISTORY_SOURCE = "music.meditations"


def history_line(row: MeditationSession) -> str:
    when = f"<t:{int(row.started_at.timestamp())}:f>"
    if row.ended_at is None:
        state = f"running, ends <t:{int(row.ends_at.timestamp())}:R>"
    elif row.xp_granted:
        state = f"completed, {row.stayed} stayed, +{row.xp_granted} XP each"
    else:
        state = f"completed, {row.stayed} stayed"
    return f"{when} · {row.minutes} min · {state}"


class MeditationHistory:
    """A member's own sessions, newest first, ten a page (the core paginator's source)."""

    def __init__(self, runner: MeditationRunner) -> None:
        self.runner = runner

    async def page_count(self, params: dict[str, Any]) -> int:
        total, _ = await self.runner.history(int(params["user"]), 0)
        return max(1, -(-total // HISTORY_PAGE))

    async def render(self, params: dict[str, Any], page: int) -> Page:
        total, rows = await self.runner.history(int(params["user"]), page)
        text = "\n".join(history_line(r) for r in rows) or "No meditation sessions yet."
        embed = nextcord.Embed(title="Your meditation sessions", description=text)
        embed.set_footer(text=f"{total} session(s)")
        return Page(embed=embed)


class MeditationCog(commands.Cog, name="music_meditation"):
    def __init__(self, plugin: MusicPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @nextcord.slash_command(name="meditate", description="Timed meditation sessions",
                            contexts=GUILD_ONLY)
    async def meditate(self, interaction: nextcord.Interaction) -> None:
        """Group: Discord never runs a command that has subcommands."""

    @meditate.subcommand(name="start", description="A timed meditation session")
    async def meditate_start(
        self, interaction: nextcord.Interaction,
        minutes: int = nextcord.SlashOption(description="1 to 120", min_value=1,
                                            max_value=MAX_MINUTES),
        query: str | None = nextcord.SlashOption(required=False, max_length=300,
                                                 description="Track, playlist or words"),
    ) -> None:
        text = await self.plugin.meditation.start(
            guild_of(interaction), user_of(interaction), member_channel(interaction),
            interaction.channel_id, minutes, query)
        await interaction.send(text)

    @meditate.subcommand(name="history", description="Your meditation sessions")
    async def meditate_history(self, interaction: nextcord.Interaction) -> None:
        await self.ctx.paginate(interaction, HISTORY_SOURCE, {"user": user_of(interaction)},
                                ephemeral=True)
