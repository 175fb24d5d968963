"""Slash commands: each one reads who/where from the interaction and calls the service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from plugins.music.controls import LOOP_MODES, MAX_VOLUME
from plugins.music.models import MusicGuildSettings
from plugins.music.service import CANNABIS_FEATURE, QUEUE_CEILING
from plugins.music.tracks import parse_time
from plugins.music.transcripts import MAX_PER_DAY as MAX_TRANSCRIPTS
from plugins.music.views import CONTROLS_TTL, NP_KIND, control_buttons, now_playing

if TYPE_CHECKING:
    from bot.api import PluginContext
    from plugins.music.plugin import MusicPlugin
    from plugins.music.service import MusicService

def member_channel(interaction: nextcord.Interaction) -> int | None:
    voice = getattr(interaction.user, "voice", None)
    channel = getattr(voice, "channel", None)
    return channel.id if channel is not None else None


async def is_dj(interaction: nextcord.Interaction, settings: MusicGuildSettings) -> bool:
    """DJs: members with Manage Server, or with the guild's DJ role."""
    perms = getattr(interaction.user, "guild_permissions", None)
    if perms is not None and (perms.administrator or perms.manage_guild):
        return True
    roles = getattr(interaction.user, "roles", []) or []
    return settings.dj_role_id is not None and any(r.id == settings.dj_role_id for r in roles)


def dj_role_warning(guild: nextcord.Guild | None, role: nextcord.Role) -> str | None:
    """What an admin should know about `role` as the DJ role, with the fix; None if nothing.

    The bot never gives the DJ role (it only reads who has it), so nothing here refuses the
    setting the way compliance refuses a verified role it could not give: it is saved and the
    admin is warned at once, instead of finding out when members can't get or use it."""
    cached = (guild.get_role(role.id) if guild is not None else None) or role
    if cached.is_default():
        return ("@everyone as the DJ role makes every member a DJ: anyone can skip, stop and "
                "clear the queue without a vote. Fix: run `/music settings` with a role only "
                "your DJs have.")
    if cached.managed:
        return (f"<@&{cached.id}> is managed by an integration (a bot or a subscription): "
                "Discord lets nobody give it, so only that integration decides who is a DJ. "
                "Fix: create an ordinary role for DJs and run `/music settings` with it.")
    me = guild.me if guild is not None else None
    top = getattr(me, "top_role", None)
    if top is not None and cached >= top:
        return (f"<@&{cached.id}> sits at or above my highest role <@&{top.id}>. DJ checks "
                "still work (I only read who has the role; I never give it), but I can't "
                "manage it for you, so staff hand it out themselves. Fix, if you want me to "
                f"manage it: Server Settings → Roles → drag <@&{top.id}> above "
                f"<@&{cached.id}>.")
    return None


class MusicCog(commands.Cog, name="music"):
    def __init__(self, plugin: MusicPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @property
    def service(self) -> MusicService:
        return self.plugin.service

    # -- wavelink events -----------------------------------------------------------------
    @commands.Cog.listener()
    async def on_wavelink_track_start(self, payload: Any) -> None:
        await self.plugin.playback.dispatch("wavelink_track_start", payload)

    @commands.Cog.listener()
    async def on_wavelink_track_end(self, payload: Any) -> None:
        await self.plugin.playback.dispatch("wavelink_track_end", payload)

    @commands.Cog.listener()
    async def on_wavelink_track_exception(self, payload: Any) -> None:
        await self.plugin.playback.dispatch("wavelink_track_exception", payload)

    @commands.Cog.listener()
    async def on_wavelink_track_stuck(self, payload: Any) -> None:
        await self.plugin.playback.dispatch("wavelink_track_stuck", payload)

    @commands.Cog.listener()
    async def on_wavelink_player_update(self, payload: Any) -> None:
        await self.plugin.playback.dispatch("wavelink_player_update", payload)

    @commands.Cog.listener()
    async def on_wavelink_node_ready(self, payload: Any) -> None:
        await self.plugin.playback.dispatch("wavelink_node_ready", payload)

    @commands.Cog.listener()
    async def on_wavelink_node_disconnected(self, payload: Any) -> None:
        await self.plugin.playback.dispatch("wavelink_node_disconnected", payload)

    @commands.Cog.listener()
    async def on_music_voice_lost(self, player: Any) -> None:
        await self.plugin.playback.voice_lost(player)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: nextcord.Guild) -> None:
        # After a restart: rejoin this guild's session once its channels are known.
        await self.plugin.playback.recovery.restore_all()

    # -- playing -------------------------------------------------------------------------
    @nextcord.slash_command(name="play", description="Play a song or add it to the queue",
                            contexts=GUILD_ONLY)
    async def play(
        self, interaction: nextcord.Interaction,
        query: str = nextcord.SlashOption(description="Song name or http(s) link",
                                          autocomplete=True, max_length=300),
        next_up: bool = nextcord.SlashOption(
            name="next", required=False, default=False,
            description="Put it at the front of the queue (DJs, or when only yours wait)"),
    ) -> None:
        if next_up:
            await self.plugin.verbs.check_play_next(guild_of(interaction), user_of(interaction),
                                                    is_dj=await self._dj(interaction))
        text = await self.service.play(guild_of(interaction), user_of(interaction),
                                       member_channel(interaction), interaction.channel_id,
                                       query, front=next_up)
        await self.plugin.audience.answer(interaction, text)

    @play.on_autocomplete("query")
    async def _play_suggestions(self, interaction: nextcord.Interaction, query: str) -> None:
        user_id, guild_id = user_of(interaction), interaction.guild_id
        await answer_autocomplete(
            interaction, query, lambda typed: self.service.suggestions(guild_id, user_id, typed))

    async def _dj(self, interaction: nextcord.Interaction) -> bool:
        return await is_dj(interaction, await self.service.guild_settings(guild_of(interaction)))

    def _who(self, interaction: nextcord.Interaction) -> tuple[int, int, int | None]:
        return guild_of(interaction), user_of(interaction), member_channel(interaction)

    @nextcord.slash_command(name="pause", description="Pause the music",
                            contexts=GUILD_ONLY)
    async def pause(self, interaction: nextcord.Interaction) -> None:
        await interaction.send(await self.plugin.controls.pause(*self._who(interaction), True))

    @nextcord.slash_command(name="resume", description="Resume the music",
                            contexts=GUILD_ONLY)
    async def resume(self, interaction: nextcord.Interaction) -> None:
        await interaction.send(await self.plugin.controls.pause(*self._who(interaction), False))

    @nextcord.slash_command(name="skip", description="Skip the track (DJs at once, others vote)",
                            contexts=GUILD_ONLY)
    async def skip(self, interaction: nextcord.Interaction) -> None:
        dj = await self._dj(interaction)
        text = await self.plugin.controls.skip(*self._who(interaction), is_dj=dj)
        await self.plugin.audience.answer(interaction, text)

    @nextcord.slash_command(name="stop", description="Stop, clear the queue and leave",
                            contexts=GUILD_ONLY)
    async def stop(self, interaction: nextcord.Interaction) -> None:
        dj = await self._dj(interaction)
        await interaction.send(await self.plugin.controls.stop(*self._who(interaction), is_dj=dj))

    @nextcord.slash_command(name="volume", description="Set the volume (0–150)",
                            contexts=GUILD_ONLY)
    async def volume(
        self, interaction: nextcord.Interaction,
        level: int = nextcord.SlashOption(description="0 to 150", min_value=0,
                                          max_value=MAX_VOLUME),
    ) -> None:
        await interaction.send(await self.plugin.controls.volume(*self._who(interaction), level))

    @nextcord.slash_command(name="loop", description="Loop nothing, the track or the queue",
                            contexts=GUILD_ONLY)
    async def loop(
        self, interaction: nextcord.Interaction,
        mode: str = nextcord.SlashOption(choices=list(LOOP_MODES)),
    ) -> None:
        await interaction.send(await self.plugin.controls.loop(*self._who(interaction), mode))

    @nextcord.slash_command(name="seek", description="Jump to a time in the track",
                            contexts=GUILD_ONLY)
    async def seek(
        self, interaction: nextcord.Interaction,
        time: str = nextcord.SlashOption(description="Like 1:30 or 90", max_length=12),
    ) -> None:
        await interaction.send(await self.plugin.controls.seek(*self._who(interaction),
                                                       parse_time(time)))

    @nextcord.slash_command(name="nowplaying", description="What's playing, with controls",
                            contexts=GUILD_ONLY)
    async def nowplaying(self, interaction: nextcord.Interaction) -> None:
        guild_id = guild_of(interaction)
        playback = self.plugin.playback
        session = await playback.session(guild_id)
        current = playback.current.get(guild_id)
        if session is None or current is None:
            raise UserError("Nothing is playing. Use /play to start.")
        # A 21+ track is named publicly only where verified members alone read; elsewhere a
        # verified member gets the card for their eyes only, anyone else the placeholder.
        audience = self.plugin.audience
        reveal = ephemeral = False
        if current.cannabis:
            reveal = await audience.adults_only_place(interaction.channel)
            if not reveal and interaction.user is not None:
                reveal = ephemeral = await audience.verified(guild_id, interaction.user.id)
        state = await self.ctx.components.create(
            NP_KIND, {"guild": guild_id}, guild_id=guild_id, ttl=CONTROLS_TTL,
            age_feature=CANNABIS_FEATURE if current.cannabis else None,
        )
        embed = await now_playing(playback, self.plugin.queue, guild_id, reveal=reveal)
        await interaction.send(embed=embed, ephemeral=ephemeral, view=control_buttons(
            self.ctx.components, state.id, paused=session.paused))

    @nextcord.slash_command(name="podcast", description="Play a podcast from its feed",
                            contexts=GUILD_ONLY)
    async def podcast(
        self, interaction: nextcord.Interaction,
        url: str = nextcord.SlashOption(description="RSS/Atom feed or episode link",
                                        max_length=500),
    ) -> None:
        await self.plugin.podcast_ui.open(interaction, url)

    # -- the queue -----------------------------------------------------------------------
    @nextcord.slash_command(name="queue", description="See and change the queue",
                            contexts=GUILD_ONLY)
    async def queue(self, interaction: nextcord.Interaction) -> None:
        """Group: Discord never runs a command that has subcommands."""

    @queue.subcommand(name="show", description="Show the queue, page by page")
    async def queue_show(self, interaction: nextcord.Interaction) -> None:
        guild_id = guild_of(interaction)
        reveal = ephemeral = False
        if await self.plugin.queue.has_adult_content(guild_id) or getattr(
            self.plugin.playback.current.get(guild_id), "cannabis", False
        ):
            # Pages name 21+ tracks only in a 21+-only channel or, for a verified member,
            # on pages only they see; otherwise the placeholder stands in.
            audience = self.plugin.audience
            reveal = await audience.adults_only_place(interaction.channel)
            if not reveal and interaction.user is not None:
                reveal = ephemeral = await audience.verified(guild_id, interaction.user.id)
        await self.ctx.paginate(interaction, "music.queue",
                                {"guild": guild_id, "reveal": reveal}, ephemeral=ephemeral,
                                age_feature=CANNABIS_FEATURE if reveal else None)

    @queue.subcommand(name="remove", description="Remove a track from the queue")
    async def queue_remove(
        self, interaction: nextcord.Interaction,
        position: int = nextcord.SlashOption(description="Its number in /queue show",
                                             min_value=1, max_value=QUEUE_CEILING),
    ) -> None:
        dj = await self._dj(interaction)
        text = await self.plugin.controls.remove(*self._who(interaction), position, is_dj=dj)
        await self.plugin.audience.answer(interaction, text)

    @queue.subcommand(name="move", description="Move a track to another position")
    async def queue_move(
        self, interaction: nextcord.Interaction,
        source: int = nextcord.SlashOption(name="from", min_value=1, max_value=QUEUE_CEILING),
        target: int = nextcord.SlashOption(name="to", min_value=1, max_value=QUEUE_CEILING),
    ) -> None:
        dj = await self._dj(interaction)
        text = await self.plugin.controls.move(*self._who(interaction), source, target,
                                               is_dj=dj)
        await self.plugin.audience.answer(interaction, text)

    @queue.subcommand(name="shuffle", description="Shuffle the queue")
    async def queue_shuffle(self, interaction: nextcord.Interaction) -> None:
        await interaction.send(await self.plugin.controls.shuffle(*self._who(interaction)))

    @queue.subcommand(name="clear", description="Empty the queue (DJs)")
    async def queue_clear(self, interaction: nextcord.Interaction) -> None:
        dj = await self._dj(interaction)
        await interaction.send(await self.plugin.controls.clear(*self._who(interaction), is_dj=dj))

    @queue.subcommand(name="dedupe", description="Remove tracks queued more than once")
    async def queue_dedupe(self, interaction: nextcord.Interaction) -> None:
        await interaction.send(await self.plugin.verbs.dedupe(*self._who(interaction)))

    # -- settings and preferences ------------------------------------------------------------
    @nextcord.slash_command(name="music", description="Music settings and preferences",
                            contexts=GUILD_ONLY)
    async def music(self, interaction: nextcord.Interaction) -> None:
        """Group."""

    @music.subcommand(name="settings", description="Server music settings (Manage Server)")
    @requires_permissions(manage_guild=True)
    async def music_settings(
        self, interaction: nextcord.Interaction,
        dj_role: nextcord.Role | None = nextcord.SlashOption(required=False),
        max_queue_size: int | None = nextcord.SlashOption(required=False, min_value=1,
                                                          max_value=QUEUE_CEILING),
        max_track_minutes: int | None = nextcord.SlashOption(required=False, min_value=1,
                                                             max_value=24 * 60),
        idle_minutes: int | None = nextcord.SlashOption(required=False, min_value=1,
                                                        max_value=120),
        always_on: bool | None = nextcord.SlashOption(name="24-7", required=False),
        cannabis_source: str | None = nextcord.SlashOption(
            required=False, max_length=100,
            description="A host whose tracks and feeds are 21+ (again to unflag)"),
        transcripts_per_member: int | None = nextcord.SlashOption(
            required=False, min_value=0, max_value=MAX_TRANSCRIPTS,
            description="Paid podcast transcripts a member may make a day (0: none)"),
        transcripts_per_server: int | None = nextcord.SlashOption(
            required=False, min_value=0, max_value=MAX_TRANSCRIPTS,
            description="Paid podcast transcripts the whole server may make a day"),
        autoplay: bool | None = nextcord.SlashOption(
            required=False,
            description="Allow auto-queue here (members still choose it in their preferences)"),
    ) -> None:
        text = await self.plugin.settings_editor.update(
            guild_of(interaction), user_of(interaction),
            dj_role_id=dj_role.id if dj_role else None, max_queue_size=max_queue_size,
            max_track_minutes=max_track_minutes, idle_minutes=idle_minutes,
            always_on=always_on, cannabis_source=cannabis_source,
            transcripts_per_member=transcripts_per_member,
            transcripts_per_server=transcripts_per_server, autoplay=autoplay,
        )
        warning = dj_role_warning(interaction.guild, dj_role) if dj_role else None
        if warning:
            text += f"\n⚠️ DJ role saved, but: {warning}"
        await interaction.send(text, ephemeral=True)

    @music.subcommand(name="preferences", description="Your own music preferences")
    async def music_preferences(
        self, interaction: nextcord.Interaction,
        volume: int | None = nextcord.SlashOption(required=False, min_value=0,
                                                  max_value=MAX_VOLUME),
        auto_queue: bool | None = nextcord.SlashOption(required=False),
        explicit_filter: bool | None = nextcord.SlashOption(required=False),
        blocked_sources: str | None = nextcord.SlashOption(
            required=False, max_length=200, description="Comma-separated, e.g. soundcloud"),
        favourite_genres: str | None = nextcord.SlashOption(required=False, max_length=200),
        meditation_mode: bool | None = nextcord.SlashOption(required=False),
        cannabis_content: bool | None = nextcord.SlashOption(
            required=False, description="Show 21+ cannabis tracks in suggestions"),
    ) -> None:
        guild_id, user_id = guild_of(interaction), user_of(interaction)
        if cannabis_content:
            # Turning 21+ suggestions on is itself a 21+ choice: audited, refused unverified.
            await self.service.require_adult(
                guild_id, user_id, "21+ suggestions",
                reason="Showing 21+ cannabis tracks in suggestions needs a verified 21+ "
                       "status in this server.")
        text = await self.plugin.settings_editor.preferences(
            guild_id, user_id, volume=volume, auto_queue=auto_queue,
            explicit_filter=explicit_filter, blocked_sources=blocked_sources,
            favourite_genres=favourite_genres, meditation_mode=meditation_mode,
            cannabis_opt_in=cannabis_content,
        )
        await interaction.send(text, ephemeral=True)

    # -- effects, equalizer and lyrics (effects_ui.py, lyrics_ui.py) -------------------------
    @music.subcommand(name="effects", description="Sound effects for everyone listening")
    async def music_effects(
        self, interaction: nextcord.Interaction,
        speed: float | None = nextcord.SlashOption(
            required=False, description="Custom speed, 0.5 to 2 (1 is normal)"),
        pitch: float | None = nextcord.SlashOption(
            required=False, description="Custom pitch, 0.5 to 2 (1 is normal)"),
    ) -> None:
        await self.plugin.effects_ui.open(interaction, speed, pitch)

    @music.subcommand(name="equalizer", description="Set one of the 15 equalizer bands")
    async def music_equalizer(
        self, interaction: nextcord.Interaction,
        band: int = nextcord.SlashOption(description="0 (25 Hz, bass) to 14 (16 kHz)",
                                         min_value=0, max_value=14),
        gain: float = nextcord.SlashOption(description="-0.25 (muted) to 1.0; 0 is flat"),
    ) -> None:
        await self.plugin.effects_ui.equalizer(interaction, band, gain)

    @music.subcommand(name="lyrics", description="Lyrics of the playing track")
    async def music_lyrics(self, interaction: nextcord.Interaction) -> None:
        await self.plugin.lyrics_ui.show(interaction)
