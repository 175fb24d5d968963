"""`/music effects` and `/music equalizer` in Discord: the effects menu (the core's select,
whose state row keeps the offered presets, so a pick after a restart still works) and the
answers. The decisions are in effects.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.api import Option, guild_of, user_of
from plugins.music.cog import is_dj, member_channel
from plugins.music.effects import describe, effect_options

if TYPE_CHECKING:
    import nextcord

    from bot.api import ComponentContext
    from plugins.music.plugin import MusicPlugin

PICK_CALLBACK = "music.effect_pick"


class EffectsUi:
    def __init__(self, plugin: MusicPlugin) -> None:
        self.plugin = plugin

    async def _dj(self, interaction: nextcord.Interaction) -> bool:
        guild_id = guild_of(interaction)
        return await is_dj(interaction, await self.plugin.service.guild_settings(guild_id))

    def _who(self, interaction: nextcord.Interaction) -> tuple[int, int, int | None]:
        return guild_of(interaction), user_of(interaction), member_channel(interaction)

    async def open(self, interaction: nextcord.Interaction, speed: float | None,
                   pitch: float | None) -> None:
        effects = self.plugin.effects
        if speed is not None or pitch is not None:
            text = await effects.speed_pitch(*self._who(interaction), speed, pitch,
                                             is_dj=await self._dj(interaction))
            await interaction.send(text)
            return
        # Refuse before showing the menu, not after a pick.
        await effects.check(*self._who(interaction), is_dj=await self._dj(interaction))
        guild_id = guild_of(interaction)
        session = await self.plugin.playback.session(guild_id)
        options = [Option(label, value, desc) for label, value, desc in effect_options()]
        await self.plugin.ctx.select(
            interaction, options, PICK_CALLBACK, placeholder="Effect…",
            prompt=f"Pick an effect for everyone listening. {describe(session)}")

    async def on_pick(self, ctx: ComponentContext, result: dict[str, Any]) -> None:
        interaction = ctx.interaction
        text = await self.plugin.effects.apply_preset(
            *self._who(interaction), str(result.get("value", "")),
            is_dj=await self._dj(interaction))
        await ctx.edit(content=text, view=None)
        # Everyone hears it, so the channel learns who changed it (mentions never ping).
        await ctx.send(f"🎛️ <@{ctx.user_id}>: {text}", ephemeral=False)

    async def equalizer(self, interaction: nextcord.Interaction, band: int,
                        gain: float) -> None:
        text = await self.plugin.effects.equalizer(*self._who(interaction), band, gain,
                                                   is_dj=await self._dj(interaction))
        await interaction.send(text)
