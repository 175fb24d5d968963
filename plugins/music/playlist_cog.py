"""`/playlist`: saved playlists. Each subcommand reads who/where from the interaction and calls
the playlist service; answers about a member's own playlists are ephemeral, playing one is
public like /play."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

import nextcord
from nextcord.ext import commands

from bot.api import GUILD_ONLY, answer_autocomplete, guild_of, user_of
from plugins.music.cog import is_dj, member_channel
from plugins.music.playlist_store import SERVER
from plugins.music.playlist_views import PAGES_SOURCE
from plugins.music.playlists import ADULT_NAME, MAX_NAME, adult_name, shown
from plugins.music.service import CANNABIS_FEATURE

if TYPE_CHECKING:
    from bot.api import ComponentContext, PluginContext
    from plugins.music.playlists import PlaylistService
    from plugins.music.plugin import MusicPlugin

DELETE_CALLBACK = "music.playlist_delete"
# The largest playlist MUSIC_MAX_PLAYLIST_TRACKS allows.
POSITION_MAX = 5_000


def _option(description: str = "Its name (suggestions as you type)") -> Any:
    return nextcord.SlashOption(name="playlist", description=description, autocomplete=True,
                                max_length=100)


class PlaylistCog(commands.Cog, name="music playlists"):
    def __init__(self, plugin: MusicPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx
        ctx.services.blocks.callback(DELETE_CALLBACK, self._delete_confirmed)

    @property
    def playlists(self) -> PlaylistService:
        return self.plugin.playlists

    async def _dj(self, interaction: nextcord.Interaction) -> bool:
        return await is_dj(interaction,
                           await self.plugin.service.guild_settings(guild_of(interaction)))

    async def _suggest(self, interaction: nextcord.Interaction, typed: str) -> None:
        """Playlists the member may see: one indexed query, no Lavalink."""
        guild_id, user_id = guild_of(interaction), user_of(interaction)

        async def choices(text: str) -> list[tuple[str, str]]:
            out = []
            reveal: bool | None = None  # asked once, and only when a name needs it
            for p in await self.playlists.store.visible(guild_id, user_id, text):
                name = p.name
                if adult_name(name):
                    if reveal is None:
                        reveal = await self.plugin.audience.verified(guild_id, user_id)
                    if not reveal:
                        if text:
                            continue  # matching what is typed would spell the name out
                        name = ADULT_NAME
                whose = ("" if p.owner_id == user_id else
                         " · server" if p.owner_id == SERVER else " · shared")
                out.append((f"{name}{whose} ({p.track_count})", f"#{p.id}"))
            return out

        await answer_autocomplete(interaction, typed, choices)

    @nextcord.slash_command(name="playlist", description="Saved playlists",
                            contexts=GUILD_ONLY)
    async def playlist(self, interaction: nextcord.Interaction) -> None:
        """Group: Discord never runs a command that has subcommands."""

    @playlist.subcommand(name="create", description="Save the current queue as a playlist")
    async def create(
        self, interaction: nextcord.Interaction,
        name: str = nextcord.SlashOption(max_length=MAX_NAME),
        server: bool = nextcord.SlashOption(required=False, default=False,
                                            description="A server playlist (DJs)"),
    ) -> None:
        text = await self.playlists.create_from_queue(
            guild_of(interaction), user_of(interaction), name, server=server,
            is_dj=await self._dj(interaction))
        await self.plugin.audience.answer(interaction, text, ephemeral=True)

    @playlist.subcommand(name="import", description="Save a public playlist from a link")
    async def import_(
        self, interaction: nextcord.Interaction,
        link: str = nextcord.SlashOption(description="A public playlist's http(s) link",
                                         max_length=500),
        name: str | None = nextcord.SlashOption(required=False, max_length=MAX_NAME,
                                                description="Default: the playlist's own"),
        server: bool = nextcord.SlashOption(required=False, default=False,
                                            description="A server playlist (DJs)"),
    ) -> None:
        # Lavalink may take seconds for a long playlist; Discord wants an answer within 3.
        await interaction.response.defer(ephemeral=True)
        text = await self.playlists.import_link(
            guild_of(interaction), user_of(interaction), link, name, server=server,
            is_dj=await self._dj(interaction))
        await self.plugin.audience.answer(interaction, text, ephemeral=True)

    @playlist.subcommand(name="add", description="Add a song (or a playlist link's songs)")
    async def add(
        self, interaction: nextcord.Interaction, playlist: str = _option(),
        query: str = nextcord.SlashOption(description="Song name or http(s) link",
                                          max_length=300),
    ) -> None:
        text = await self.playlists.add(guild_of(interaction), user_of(interaction), playlist,
                                        query, is_dj=await self._dj(interaction))
        await self.plugin.audience.answer(interaction, text, ephemeral=True)

    @playlist.subcommand(name="remove", description="Remove a track from a playlist")
    async def remove(
        self, interaction: nextcord.Interaction, playlist: str = _option(),
        position: int = nextcord.SlashOption(description="Its number in /playlist show",
                                             min_value=1, max_value=POSITION_MAX),
    ) -> None:
        text = await self.playlists.remove(guild_of(interaction), user_of(interaction),
                                           playlist, position, is_dj=await self._dj(interaction))
        await self.plugin.audience.answer(interaction, text, ephemeral=True)

    @playlist.subcommand(name="move", description="Move a track within a playlist")
    async def move(
        self, interaction: nextcord.Interaction, playlist: str = _option(),
        source: int = nextcord.SlashOption(name="from", min_value=1, max_value=POSITION_MAX),
        target: int = nextcord.SlashOption(name="to", min_value=1, max_value=POSITION_MAX),
    ) -> None:
        text = await self.playlists.move(guild_of(interaction), user_of(interaction), playlist,
                                         source, target, is_dj=await self._dj(interaction))
        await self.plugin.audience.answer(interaction, text, ephemeral=True)

    @playlist.subcommand(name="rename", description="Rename a playlist")
    async def rename(
        self, interaction: nextcord.Interaction, playlist: str = _option(),
        name: str = nextcord.SlashOption(description="The new name", max_length=MAX_NAME),
    ) -> None:
        text = await self.playlists.rename(guild_of(interaction), user_of(interaction),
                                           playlist, name, is_dj=await self._dj(interaction))
        await self.plugin.audience.answer(interaction, text, ephemeral=True)

    @playlist.subcommand(name="share", description="Let everyone here view and play it")
    async def share(
        self, interaction: nextcord.Interaction, playlist: str = _option(),
        shared: bool = nextcord.SlashOption(description="On: shared read-only; off: private"),
    ) -> None:
        text = await self.playlists.share(guild_of(interaction), user_of(interaction),
                                          playlist, shared)
        await self.plugin.audience.answer(interaction, text, ephemeral=True)

    @playlist.subcommand(name="delete", description="Delete a playlist (asks first)")
    async def delete(self, interaction: nextcord.Interaction,
                     playlist: str = _option()) -> None:
        found = await self.playlists.check_delete(guild_of(interaction), user_of(interaction),
                                                  playlist, is_dj=await self._dj(interaction))
        # Asked of the member alone: the name as they may read it.
        reveal = adult_name(found.name) and await self.plugin.audience.verified(
            guild_of(interaction), user_of(interaction))
        await self.ctx.confirm(
            interaction, f"Delete {shown(found, reveal)} and its "
                         f"{found.track_count} tracks? This cannot be undone.",
            DELETE_CALLBACK, {"id": found.id}, confirm_label="Delete playlist")

    async def _delete_confirmed(self, ctx: ComponentContext, payload: Any) -> None:
        guild_id = ctx.guild_id
        assert guild_id is not None
        text = await self.playlists.delete(
            guild_id, ctx.user_id, int(payload["id"]),
            is_dj=await is_dj(ctx.interaction,
                              await self.plugin.service.guild_settings(guild_id)))
        reveal = text.names_adult_content and await self.plugin.audience.verified(
            guild_id, ctx.user_id)
        await ctx.send(text.revealed if reveal else str(text))

    @playlist.subcommand(name="list", description="Your playlists, the server's and shared ones")
    async def list_(self, interaction: nextcord.Interaction) -> None:
        text = await self.playlists.listing(guild_of(interaction), user_of(interaction))
        await self.plugin.audience.answer(interaction, text, ephemeral=True)

    @playlist.subcommand(name="show", description="A playlist's tracks, page by page")
    async def show(self, interaction: nextcord.Interaction, playlist: str = _option()) -> None:
        guild_id = guild_of(interaction)
        found = await self.playlists.resolve(guild_id, user_of(interaction), playlist)
        reveal = ephemeral = False
        if adult_name(found.name) or await self.playlists.has_adult(guild_id, found):
            # Like /queue show: 21+ titles (and a cannabis-themed name) only in a 21+-only
            # channel or, for a verified member, on pages only they see; otherwise the
            # placeholder stands in.
            audience = self.plugin.audience
            reveal = await audience.adults_only_place(interaction.channel)
            if not reveal:
                reveal = ephemeral = await audience.verified(guild_id, user_of(interaction))
        await self.ctx.paginate(interaction, PAGES_SOURCE, {"id": found.id, "reveal": reveal},
                                ephemeral=ephemeral,
                                age_feature=CANNABIS_FEATURE if reveal else None)

    @playlist.subcommand(name="play", description="Queue a playlist (shuffled on request)")
    async def play(
        self, interaction: nextcord.Interaction, playlist: str = _option(),
        shuffle: bool = nextcord.SlashOption(required=False, default=False),
    ) -> None:
        text = await self.playlists.play(
            guild_of(interaction), user_of(interaction), member_channel(interaction),
            interaction.channel_id, playlist, shuffle=shuffle)
        await self.plugin.audience.answer(interaction, text)

    @playlist.subcommand(name="export", description="Download a playlist as a text file")
    async def export(self, interaction: nextcord.Interaction,
                     playlist: str = _option()) -> None:
        guild_id = guild_of(interaction)
        # The file only goes to the asker; 21+ titles only if they are verified.
        reveal = await self.plugin.audience.verified(guild_id, user_of(interaction))
        found, text = await self.playlists.export(guild_id, user_of(interaction), playlist,
                                                  reveal=reveal)
        name = found.name if reveal or not adult_name(found.name) else "playlist"
        filename = (re.sub(r"[^\w-]+", "-", name).strip("-") or "playlist")[:40] + ".txt"
        await interaction.send(
            f"{found.track_count} tracks, one line each: title — link.", ephemeral=True,
            file=nextcord.File(io.BytesIO(text.encode()), filename=filename))

    @add.on_autocomplete("playlist")
    async def _add_names(self, interaction: nextcord.Interaction, playlist: str) -> None:
        await self._suggest(interaction, playlist)

    @remove.on_autocomplete("playlist")
    async def _remove_names(self, interaction: nextcord.Interaction, playlist: str) -> None:
        await self._suggest(interaction, playlist)

    @move.on_autocomplete("playlist")
    async def _move_names(self, interaction: nextcord.Interaction, playlist: str) -> None:
        await self._suggest(interaction, playlist)

    @rename.on_autocomplete("playlist")
    async def _rename_names(self, interaction: nextcord.Interaction, playlist: str) -> None:
        await self._suggest(interaction, playlist)

    @share.on_autocomplete("playlist")
    async def _share_names(self, interaction: nextcord.Interaction, playlist: str) -> None:
        await self._suggest(interaction, playlist)

    @delete.on_autocomplete("playlist")
    async def _delete_names(self, interaction: nextcord.Interaction, playlist: str) -> None:
        await self._suggest(interaction, playlist)

    @show.on_autocomplete("playlist")
    async def _show_names(self, interaction: nextcord.Interaction, playlist: str) -> None:
        await self._suggest(interaction, playlist)

    @play.on_autocomplete("playlist")
    async def _play_names(self, interaction: nextcord.Interaction, playlist: str) -> None:
        await self._suggest(interaction, playlist)

    @export.on_autocomplete("playlist")
    async def _export_names(self, interaction: nextcord.Interaction, playlist: str) -> None:
        await self._suggest(interaction, playlist)
