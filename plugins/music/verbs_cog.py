"""/previous and /history: each reads who/where from the interaction and calls QueueVerbs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nextcord
from nextcord.ext import commands

from bot.api import GUILD_ONLY, ControlExpired, guild_of, user_of
from plugins.music.cog import is_dj, member_channel
from plugins.music.history import HISTORY_SIZE
from plugins.music.history_ui import replay_options
from plugins.music.service import CANNABIS_FEATURE

if TYPE_CHECKING:
    from bot.api import ComponentContext, PluginContext
    from plugins.music.plugin import MusicPlugin

HISTORY_PAGES = "music.history"
# The replay select's callback (core select → this name → on_replay).
REPLAY = "music.history_replay"


class QueueVerbsCog(commands.Cog, name="music_queue_verbs"):
    def __init__(self, plugin: MusicPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    async def _dj(self, interaction: nextcord.Interaction) -> bool:
        settings = await self.plugin.service.guild_settings(guild_of(interaction))
        return await is_dj(interaction, settings)

    @nextcord.slash_command(name="previous", description="Play the previous track again",
                            contexts=GUILD_ONLY)
    async def previous(self, interaction: nextcord.Interaction) -> None:
        text = await self.plugin.verbs.previous(
            guild_of(interaction), user_of(interaction), member_channel(interaction),
            interaction.channel_id, is_dj=await self._dj(interaction))
        await self.plugin.audience.answer(interaction, text)

    @nextcord.slash_command(name="history", description="Recently played here; replay one",
                            contexts=GUILD_ONLY)
    async def history(self, interaction: nextcord.Interaction) -> None:
        guild_id = guild_of(interaction)
        entries = await self.plugin.history.page(guild_id, 0, HISTORY_SIZE)
        reveal = ephemeral = False
        if any(e.cannabis for e in entries):
            # As /queue show: 21+ titles only in a 21+-only channel or, for a verified
            # member, on pages only they see.
            audience = self.plugin.audience
            reveal = await audience.adults_only_place(interaction.channel)
            if not reveal and interaction.user is not None:
                reveal = ephemeral = await audience.verified(guild_id, interaction.user.id)
        feature = CANNABIS_FEATURE if reveal else None
        await self.ctx.paginate(interaction, HISTORY_PAGES,
                                {"guild": guild_id, "reveal": reveal}, ephemeral=ephemeral,
                                age_feature=feature)
        if entries:
            await self.ctx.select(
                interaction, replay_options(entries, reveal), REPLAY,
                prompt="Queue one of these again:", placeholder="Replay…",
                payload={"guild": guild_id}, age_feature=feature)


async def on_replay(plugin: MusicPlugin, ctx: ComponentContext, result: dict[str, Any]) -> None:
    """A history entry picked in the replay select: queue it like /play would."""
    guild_id = int(result.get("payload", {}).get("guild", 0))
    if guild_id != ctx.guild_id:
        raise ControlExpired()
    try:
        entry_id = int(result.get("value", ""))
    except ValueError:
        raise ControlExpired() from None
    text = await plugin.verbs.replay(guild_id, ctx.user_id, member_channel(ctx.interaction),
                                     ctx.interaction.channel_id, entry_id)
    await plugin.audience.answer(ctx.interaction, text)
