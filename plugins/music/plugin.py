from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from bot.api import MIXED, ComponentHandler, Plugin, PluginContext
from plugins.music.env import MusicSettings

if TYPE_CHECKING:
    from nextcord.ext import commands

    from plugins.music.audience import Audience
    from plugins.music.controls import PlayerControls
    from plugins.music.effects import Effects
    from plugins.music.effects_ui import EffectsUi
    from plugins.music.lavalink import LavalinkConnection
    from plugins.music.lyrics import Lyrics
    from plugins.music.lyrics_ui import LyricsUi
    from plugins.music.meditation import MeditationRunner
    from plugins.music.playback import Playback
    from plugins.music.podcast_ui import PodcastUi
    from plugins.music.podcasts import Podcasts
    from plugins.music.queue import QueueRepository
    from plugins.music.service import MusicService
    from plugins.music.settings import SettingsEditor
    from plugins.music.transcripts import Transcripts


class MusicPlugin(Plugin):
    name = "music"
    version = "0.1.0"
    description = "Lavalink music: queue, meditation sessions, podcasts."
    data_statement = (
        "Stores your music preferences, the tracks you queued (title, link, your id) while "
        "they are in a queue, each server's current playback session, and how many paid "
        "podcast transcripts you made per day (kept a week, also after a deletion request, "
        "so deleting can't reset the day's budget)."
    )
    models = "plugins.music.models"
    # Most music is for everyone; 21+ is decided per track or feed (an admin-flagged host, or
    # cannabis words in its title), so the gate is asked where such content is queued, shown
    # or controlled (the `music.cannabis` feature), and state rows of 21+ controls carry it.
    rating = MIXED
    # MUSIC_* settings (Lavalink nodes, queue size, volume, transcription endpoint); see env.py.
    settings_model = MusicSettings

    lavalink: LavalinkConnection
    audience: Audience
    playback: Playback
    queue: QueueRepository
    service: MusicService
    controls: PlayerControls
    settings_editor: SettingsEditor
    meditation: MeditationRunner
    podcasts: Podcasts
    podcast_ui: PodcastUi
    transcripts: Transcripts
    effects: Effects
    effects_ui: EffectsUi
    lyrics: Lyrics
    lyrics_ui: LyricsUi
    ctx: PluginContext

    async def setup(self, ctx: PluginContext) -> None:
        from plugins.music.audience import Audience
        from plugins.music.controls import PlayerControls
        from plugins.music.discord_io import ChannelNotifier, DiscordVoice
        from plugins.music.lavalink import LavalinkConnection
        from plugins.music.listening import ListeningXp
        from plugins.music.meditation import MeditationRunner
        from plugins.music.models import MusicGuildSettings, UserMusicPreferences
        from plugins.music.playback import Playback
        from plugins.music.podcast_ui import PodcastUi
        from plugins.music.podcasts import HttpFetcher, Podcasts, Transcriber
        from plugins.music.queue import QueueRepository
        from plugins.music.service import Defaults, MusicService
        from plugins.music.settings import SettingsEditor
        from plugins.music.transcripts import PER_MEMBER_DAY, PER_SERVER_DAY, Transcripts
        from plugins.music.views import QueuePages

        settings = cast("MusicSettings", ctx.settings)
        self.ctx = ctx
        self.lavalink = LavalinkConnection(ctx.bot, settings.lavalink_nodes)
        self.queue = QueueRepository()
        listening = ListeningXp(ctx.services.xp)
        guild_config = ctx.guild_config.table(MusicGuildSettings,
                                              defaults={"cannabis_sources": []})
        member_preferences = ctx.guild_config.table(
            UserMusicPreferences, key_field="user_id",
            defaults={"blocked_sources": [], "favourite_genres": []})

        async def queue_limit(guild_id: int) -> int:
            return await self.service.queue_limit(guild_id)

        async def related(guild_id: int, finished: Any) -> Any:
            return await self.service.related(guild_id, finished)

        async def idle_minutes(guild_id: int) -> int | None:
            return await self.service.idle_minutes(guild_id)

        self.playback = Playback(
            self.lavalink, self.queue, DiscordVoice(ctx.bot), ChannelNotifier(ctx.bot),
            queue_limit=queue_limit, on_listened=listening.listened, related=related,
            idle_minutes=idle_minutes,
        )
        self.service = MusicService(
            self.playback, self.queue, ctx.services,
            Defaults(settings.max_queue_size, settings.default_volume),
            verify_view=ctx.verify_prompt,
            guild_config=guild_config, member_preferences=member_preferences,
        )
        self.controls = PlayerControls(self.service)
        self.audience = Audience(ctx)
        self.settings_editor = SettingsEditor(ctx.services.audit, settings.max_queue_size,
                                              guild_config, member_preferences)
        self.meditation = MeditationRunner(self.service, ctx.services.xp, ctx.services.audit)
        transcriber = None
        if settings.transcribe_base_url:
            key = (settings.transcribe_api_key.get_secret_value()
                   if settings.transcribe_api_key else "")
            transcriber = Transcriber(settings.transcribe_base_url, key,
                                      settings.transcribe_timeout)
        self.podcasts = Podcasts(HttpFetcher(), transcriber)

        async def transcript_limits(guild_id: int) -> tuple[int, int]:
            guild = await self.service.guild_settings(guild_id)
            # 0 is an admin's "no transcripts"; None is "the defaults".
            member, server = guild.transcripts_per_member, guild.transcripts_per_server
            return (PER_MEMBER_DAY if member is None else member,
                    PER_SERVER_DAY if server is None else server)

        self.transcripts = Transcripts(self.podcasts, transcript_limits)
        self.podcast_ui = PodcastUi(self)
        ctx.services.blocks.page_source("music.queue", QueuePages(self.playback, self.queue))
        self._setup_effects_lyrics_sources(ctx, settings)
        await self.lavalink.start()

    def _setup_effects_lyrics_sources(self, ctx: PluginContext, settings: MusicSettings) -> None:
        """Effects and equalizer, lyrics, and links of other services: each asks the node's
        /v4/info what it offers (one cache for all three)."""
        from plugins.music.effects import Effects
        from plugins.music.effects_ui import PICK_CALLBACK, EffectsUi
        from plugins.music.lyrics import Lyrics
        from plugins.music.lyrics_ui import PAGES, LyricsPages, LyricsUi
        from plugins.music.node_info import NodeFeaturesCache
        from plugins.music.sources import OtherServices

        features = NodeFeaturesCache()
        self.effects = Effects(self.service, ctx.services.audit, features)
        self.playback.prepare_player = self.effects.prepare
        self.effects_ui = EffectsUi(self)
        ctx.services.blocks.callback(PICK_CALLBACK, self.effects_ui.on_pick)
        self.lyrics = Lyrics(self.playback, features, settings.lyrics_timeout)
        self.lyrics_ui = LyricsUi(self)
        ctx.services.blocks.page_source(PAGES, LyricsPages())
        self.service.other_services = OtherServices(settings, features)

    async def teardown(self) -> None:
        if hasattr(self, "meditation"):
            await self.meditation.close()
        if hasattr(self, "podcasts") and self.podcasts.transcriber is not None:
            await self.podcasts.transcriber.close()
        if hasattr(self, "playback"):
            await self.playback.close()
        if hasattr(self, "lavalink"):
            await self.lavalink.close()

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        from plugins.music.cog import MusicCog

        return [MusicCog(self, ctx)]

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        from plugins.music.components import MusicComponents

        return MusicComponents(self).handlers()

    async def delete_user_data(self, user_id: int) -> int:
        from plugins.music.models import MusicQueueEntry, UserMusicPreferences

        removed = await UserMusicPreferences.filter(user_id=user_id).delete()
        removed += await MusicQueueEntry.filter(requester_id=user_id).delete()
        if hasattr(self, "queue"):
            self.queue.forget_sizes()
            self.service.member_preferences.changed(user_id)
        return removed

    async def export_user_data(self, user_id: int) -> dict[str, Any]:
        from plugins.music.models import (
            MusicQueueEntry,
            MusicTranscriptUsage,
            UserMusicPreferences,
        )

        prefs = await UserMusicPreferences.filter(user_id=user_id).values(
            "volume", "auto_queue", "explicit_filter", "blocked_sources", "favourite_genres",
            "meditation_mode", "cannabis_opt_in")
        queued = await MusicQueueEntry.filter(requester_id=user_id).values(
            "guild_id", "title", "uri")
        usage = await MusicTranscriptUsage.filter(user_id=user_id).values(
            "guild_id", "day", "count")
        return {"preferences": prefs[0] if prefs else None, "queued_tracks": queued,
                "transcripts_per_day": [{**u, "day": str(u["day"])} for u in usage]}
