"""`/podcasts transcript` (a stored transcript in pages, and as a file) and
`/podcasts auto-transcribe` (admins): Discord in, podcast library calls out."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import nextcord
from nextcord.ext import commands

from bot.api import (
    GUILD_ONLY,
    UserError,
    answer_autocomplete,
    guild_of,
    requires_permissions,
    user_of,
)
from plugins.music.podcasts import NO_TRANSCRIPTION
from plugins.music.service import CANNABIS_FEATURE, CANNABIS_WORDS
from plugins.music.validation import check_query

if TYPE_CHECKING:
    from bot.api import PluginContext
    from plugins.music.models import MusicGuildSettings, PodcastEpisode, PodcastFeed
    from plugins.music.plugin import MusicPlugin

TRANSCRIPT_SOURCE = "music.transcript"


class PodcastCog(commands.Cog, name="music_podcasts"):
    def __init__(self, plugin: MusicPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @nextcord.slash_command(name="podcasts", description="Podcast transcripts and feeds",
                            contexts=GUILD_ONLY)
    async def podcasts(self, interaction: nextcord.Interaction) -> None:
        """Group: Discord never runs a command that has subcommands."""

    @podcasts.subcommand(name="transcript", description="Read an episode's transcript")
    async def transcript(
        self, interaction: nextcord.Interaction,
        episode: str = nextcord.SlashOption(description="A transcribed episode",
                                            autocomplete=True, max_length=20),
    ) -> None:
        if not episode.isdigit():
            raise UserError("Pick an episode from the list.")
        guild_id, user_id = guild_of(interaction), user_of(interaction)
        row, feed, text = await self.plugin.podcast_library.transcript(int(episode))
        service = self.plugin.service
        cannabis = self._adult(feed, row, await service.guild_settings(guild_id))
        ephemeral = False
        if cannabis:
            # A 21+ episode's transcript: verified members only, and public only where
            # verified members alone read.
            await service.require_adult(guild_id, user_id, "This transcript")
            ephemeral = not await self.plugin.audience.adults_only_place(interaction.channel)
        await self.ctx.paginate(interaction, TRANSCRIPT_SOURCE, {"episode": row.id},
                                ephemeral=ephemeral,
                                age_feature=CANNABIS_FEATURE if cannabis else None)
        await interaction.send(
            f"Transcript of **{row.title}** as a file:", ephemeral=ephemeral,
            file=nextcord.File(io.BytesIO(text.encode()), filename="transcript.txt"))

    def _adult(self, feed: PodcastFeed, row: PodcastEpisode,
               settings: MusicGuildSettings) -> bool:
        """21+ like /podcast decides it: a flagged host, or cannabis words in the feed."""
        return self.plugin.service.is_flagged_host(feed.url, settings) or bool(
            CANNABIS_WORDS.search(f"{feed.title} {feed.description} {row.title}"))

    @transcript.on_autocomplete("episode")
    async def _episodes(self, interaction: nextcord.Interaction, episode: str) -> None:
        guild_id, user_id = interaction.guild_id, user_of(interaction)

        async def choices(typed: str) -> list[tuple[str, str]]:
            rows = await self.plugin.podcast_library.transcribed(typed)
            settings = await self.plugin.service.guild_settings(guild_id) if guild_id else None
            adult_ok: bool | None = None
            out = []
            for row in rows:
                # A 21+ episode's title is suggested to verified members only.
                if settings is None or self._adult(row.feed, row, settings):
                    if adult_ok is None:
                        adult_ok = await self.plugin.audience.verified(guild_id, user_id)
                    if not adult_ok:
                        continue
                out.append((row.title[:100], str(row.id)))
            return out

        await answer_autocomplete(interaction, episode, choices)

    @podcasts.subcommand(name="auto-transcribe",
                         description="Transcribe a feed's new episodes as they appear (staff)")
    @requires_permissions(manage_guild=True)
    async def auto_transcribe(
        self, interaction: nextcord.Interaction,
        feed: str = nextcord.SlashOption(description="RSS/Atom feed link", max_length=500),
        enabled: bool = nextcord.SlashOption(description="On or off"),
    ) -> None:
        guild_id = guild_of(interaction)
        checked = await check_query(feed, self.plugin.service.resolver)
        if not checked.is_url:
            raise UserError("Give a podcast feed link (http or https).")
        if enabled and self.plugin.podcasts.transcriber is None:
            raise UserError(NO_TRANSCRIPTION)
        text = await self.plugin.podcast_library.set_auto(guild_id, checked.identifier,
                                                          enabled)
        await self.ctx.services.audit.record(
            "music.podcast_auto_transcribe", guild_id=guild_id, actor_id=user_of(interaction),
            target=checked.identifier[:200], details={"enabled": enabled})
        await interaction.send(text, ephemeral=True)
