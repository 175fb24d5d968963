from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from bot.api import MIXED, ComponentHandler, PeriodicTask, Plugin, PluginContext
from plugins.music.env import MusicSettings

if TYPE_CHECKING:
    from nextcord.ext import commands

    from plugins.music.audience import Audience
    from plugins.music.controls import PlayerControls
    from plugins.music.effects import Effects
    from plugins.music.effects_ui import EffectsUi
    from plugins.music.history import PlayHistory
    from plugins.music.lavalink import LavalinkConnection
    from plugins.music.lyrics import Lyrics
    from plugins.music.lyrics_ui import LyricsUi
    from plugins.music.meditation import MeditationRunner
    from plugins.music.playback import Playback
    from plugins.music.playlists import PlaylistService
    from plugins.music.podcast_library import PodcastLibrary
    from plugins.music.podcast_ui import PodcastUi
    from plugins.music.podcasts import Podcasts
    from plugins.music.queue import QueueRepository
    from plugins.music.service import MusicService
    from plugins.music.settings import SettingsEditor
    from plugins.music.transcripts import Transcripts
    from plugins.music.verbs import QueueVerbs


class MusicPlugin(Plugin):
    name = "music"
    version = "0.1.0"
    description = "Lavalink music: queue, meditation sessions, podcasts."
    data_statement = (
        "Stores your music preferences (per server), the tracks you queued (title, link, your "
        "id) while they are in a queue, your saved playlists (name, tracks, shared or not) and, "
        "for each server's last 100 played tracks, who queued them; each server's current "
        "playback session, and how many paid "
        "podcast transcripts you made per day (kept a week, also after a deletion request, "
        "so deleting can't reset the day's budget), and the meditation sessions you started "
        "(length, times, XP; who was present only while one runs)."
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
    podcast_library: PodcastLibrary
    podcast_poll: PeriodicTask
    transcripts: Transcripts
    history: PlayHistory
    verbs: QueueVerbs
    playlists: PlaylistService
    effects: Effects
    effects_ui: EffectsUi
    lyrics: Lyrics
    lyrics_ui: LyricsUi
    ctx: PluginContext

    async def setup(self, ctx: PluginContext) -> None:
        from plugins.music.audience import Audience
        from plugins.music.controls import PlayerControls
        from plugins.music.discord_io import ChannelNotifier, DiscordVoice
        from plugins.music.history import PlayHistory
        from plugins.music.history_ui import HistoryPages
        from plugins.music.lavalink import LavalinkConnection
        from plugins.music.listening import ListeningXp
        from plugins.music.meditation import KIND as MEDITATION
        from plugins.music.meditation import MeditationRunner
        from plugins.music.meditation_cog import HISTORY_SOURCE, MeditationHistory
        from plugins.music.member_prefs import MemberPreferences
        from plugins.music.models import MusicGuildSettings, UserMusicPreferences
        from plugins.music.playback import Playback
        from plugins.music.podcast_cog import TRANSCRIPT_SOURCE
        from plugins.music.podcast_library import (
            POLL_INTERVAL,
            POLL_RETRY,
            PodcastLibrary,
            TranscriptPages,
        )
        from plugins.music.podcast_ui import PodcastUi
        from plugins.music.podcasts import HttpFetcher, Podcasts, Transcriber
        from plugins.music.queue import QueueRepository
        from plugins.music.service import Defaults, MusicService
        from plugins.music.settings import SettingsEditor
        from plugins.music.transcripts import PER_MEMBER_DAY, PER_SERVER_DAY, Transcripts
        from plugins.music.verbs import QueueVerbs
        from plugins.music.verbs_cog import HISTORY_PAGES, REPLAY, on_replay
        from plugins.music.views import QueuePages

        settings = cast("MusicSettings", ctx.settings)
        self.ctx = ctx
        self.lavalink = LavalinkConnection(ctx.bot, settings.lavalink_nodes)
        self.queue = QueueRepository()
        listening = ListeningXp(ctx.services.xp)
        guild_config = ctx.guild_config.table(MusicGuildSettings,
                                              defaults={"cannabis_sources": []})
        member_preferences = MemberPreferences(ctx.guild_config, ctx.guild_config.table(
            UserMusicPreferences, key_field="user_id",
            defaults={"blocked_sources": [], "favourite_genres": []}))
        self.history = PlayHistory()

        async def queue_limit(guild_id: int) -> int:
            return await self.service.queue_limit(guild_id)

        async def related(guild_id: int, finished: Any) -> Any:
            return await self.service.related(guild_id, finished)

        async def idle_minutes(guild_id: int) -> int | None:
            return await self.service.idle_minutes(guild_id)

        self.playback = Playback(
            self.lavalink, self.queue, DiscordVoice(ctx.bot), ChannelNotifier(ctx.bot),
            queue_limit=queue_limit, on_listened=listening.listened, related=related,
            idle_minutes=idle_minutes, on_started=self.history.record,
        )
        self.service = MusicService(
            self.playback, self.queue, ctx.services,
            Defaults(settings.max_queue_size, settings.default_volume),
            verify_view=ctx.verify_prompt,
            guild_config=guild_config, member_preferences=member_preferences,
        )
        self.controls = PlayerControls(self.service)
        self.verbs = QueueVerbs(self.service, self.controls, self.history)
        self.audience = Audience(ctx)
        self.settings_editor = SettingsEditor(ctx.services.audit, settings.max_queue_size,
                                              guild_config, member_preferences)
        self.meditation = MeditationRunner(self.service, ctx.services.xp, ctx.services.audit)
        # Typed sessions: recovery asks the meditation runner before restoring one of its own.
        self.playback.recovery.session_types[MEDITATION] = self.meditation
        self.playback.on_ended = self.meditation.abandon
        ctx.services.blocks.page_source(HISTORY_SOURCE, MeditationHistory(self.meditation))
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

        # Each paid transcription also spends the server's AI budget where the llm plugin is on.
        self.transcripts = Transcripts(
            self.podcasts, transcript_limits, paid_usage=ctx.services.paid_usage,
            tokens_per_minute=settings.transcribe_tokens_per_minute)
        self.podcast_ui = PodcastUi(self)
        # Stored feeds and episodes; a bounded poll transcribes new episodes of followed feeds.
        self.podcast_library = PodcastLibrary(self.podcasts, self.transcripts)
        ctx.services.blocks.page_source(TRANSCRIPT_SOURCE, TranscriptPages(self.podcast_library))
        self.podcast_poll = PeriodicTask("music-podcast-poll", POLL_INTERVAL,
                                         self.podcast_library.poll, retry=POLL_RETRY)
        self.podcast_poll.start()
        ctx.services.blocks.page_source("music.queue", QueuePages(self.playback, self.queue))
        ctx.services.blocks.page_source(HISTORY_PAGES, HistoryPages(self.history))

        async def replay(component: Any, result: dict[str, Any]) -> None:
            await on_replay(self, component, result)

        ctx.services.blocks.callback(REPLAY, replay)
        self._setup_playlists(ctx, settings)
        self._setup_effects_lyrics_sources(ctx, settings)
        await self.lavalink.start()

    def _setup_playlists(self, ctx: PluginContext, settings: MusicSettings) -> None:
        from plugins.music.playlist_store import PlaylistStore
        from plugins.music.playlist_views import PAGES_SOURCE, PlaylistPages
        from plugins.music.playlists import Limits, PlaylistService

        self.playlists = PlaylistService(
            PlaylistStore(), self.service,
            Limits(settings.max_playlists, settings.max_playlist_tracks))
        ctx.services.blocks.page_source(PAGES_SOURCE, PlaylistPages(self.playlists))

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
        if hasattr(self, "podcast_poll"):
            await self.podcast_poll.stop()
        if hasattr(self, "meditation"):
            await self.meditation.close()
        if hasattr(self, "transcripts"):
            await self.transcripts.close()
        if hasattr(self, "podcasts") and self.podcasts.transcriber is not None:
            await self.podcasts.transcriber.close()
        if hasattr(self, "playback"):
            await self.playback.close()
        if hasattr(self, "lavalink"):
            await self.lavalink.close()

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        from plugins.music.cog import MusicCog
        from plugins.music.meditation_cog import MeditationCog
        from plugins.music.playlist_cog import PlaylistCog
        from plugins.music.podcast_cog import PodcastCog
        from plugins.music.verbs_cog import QueueVerbsCog

        return [MusicCog(self, ctx), QueueVerbsCog(self, ctx), PlaylistCog(self, ctx),
                MeditationCog(self, ctx), PodcastCog(self, ctx)]

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        from plugins.music.components import MusicComponents

        return MusicComponents(self).handlers()

    async def delete_user_data(self, user_id: int) -> int:
        from plugins.music.models import (
            MeditationSession,
            MusicHistoryEntry,
            MusicMemberPreferences,
            MusicQueueEntry,
            UserMusicPreferences,
        )
        from plugins.music.playlist_store import PlaylistStore

        removed = await UserMusicPreferences.filter(user_id=user_id).delete()
        removed += await MusicMemberPreferences.filter(user_id=user_id).delete()
        removed += await MusicQueueEntry.filter(requester_id=user_id).delete()
        # Their plays leave every server's history (the rest of the history stays).
        removed += await MusicHistoryEntry.filter(requester_id=user_id).delete()
        removed += await PlaylistStore().delete_owned_by(user_id)
        removed += await MeditationSession.filter(started_by=user_id).delete()
        if hasattr(self, "queue"):
            self.queue.forget_sizes()
            self.service.member_preferences.forget(user_id)
        return removed

    async def export_user_data(self, user_id: int) -> dict[str, Any]:
        from plugins.music.models import (
            MeditationSession,
            MusicHistoryEntry,
            MusicMemberPreferences,
            MusicQueueEntry,
            MusicTranscriptUsage,
            UserMusicPreferences,
        )
        from plugins.music.playlist_store import PlaylistStore

        prefs = await UserMusicPreferences.filter(user_id=user_id).values(
            "volume", "auto_queue", "explicit_filter", "blocked_sources", "favourite_genres",
            "meditation_mode", "cannabis_opt_in")
        queued = await MusicQueueEntry.filter(requester_id=user_id).values(
            "guild_id", "title", "uri")
        usage = await MusicTranscriptUsage.filter(user_id=user_id).values(
            "guild_id", "day", "count")
        per_server = await MusicMemberPreferences.filter(user_id=user_id).values(
            "guild_id", "volume", "auto_queue", "explicit_filter", "blocked_sources",
            "favourite_genres", "meditation_mode", "cannabis_opt_in")
        meditations = await MeditationSession.filter(started_by=user_id).values(
            "guild_id", "minutes", "started_at", "ended_at", "completed", "xp_granted")
        played = await MusicHistoryEntry.filter(requester_id=user_id).order_by("id").values(
            "guild_id", "title", "uri", "played_at")
        return {"preferences": prefs[0] if prefs else None, "queued_tracks": queued,
                "transcripts_per_day": [{**u, "day": str(u["day"])} for u in usage],
                "preferences_per_server": per_server,
                "played_tracks": [{**p, "played_at": p["played_at"].isoformat()}
                                  for p in played],
                "playlists": await PlaylistStore().export_owned_by(user_id),
                "meditation_sessions": [
                    {**m, "started_at": str(m["started_at"]), "ended_at": str(m["ended_at"])}
                    for m in meditations]}
