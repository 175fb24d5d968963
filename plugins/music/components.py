"""The plugin's component handlers, declared in one place: the now-playing buttons (here) and
the podcast controls (podcast_ui.py).

Now-playing buttons' state names only the guild, so after a restart they control whatever the
restored player is playing; after /stop they say nothing is playing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.api import ControlExpired, uses_state
from plugins.music.cog import is_dj, member_channel
from plugins.music.views import NP_KIND, control_buttons, now_playing

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.api import ComponentContext, ComponentHandler
    from plugins.music.plugin import MusicPlugin


class MusicComponents:
    def __init__(self, plugin: MusicPlugin) -> None:
        self.plugin = plugin

    def handlers(self) -> Mapping[str, ComponentHandler]:
        podcast_ui = self.plugin.podcast_ui
        return {"np.pause": self.on_pause, "np.skip": self.on_skip, "np.stop": self.on_stop,
                "np.loop": self.on_loop, "np.shuffle": self.on_shuffle,
                "pod.pick": podcast_ui.on_pick, "pod.tx": podcast_ui.on_transcribe}

    @staticmethod
    def _who(ctx: ComponentContext) -> tuple[int, int, int | None]:
        if ctx.state is None or ctx.state.kind != NP_KIND:
            raise ControlExpired()  # the core refuses these first; never act on a stray row
        guild_id = int(ctx.data.get("guild", 0))
        if guild_id != ctx.guild_id:
            raise ControlExpired()
        return guild_id, ctx.user_id, member_channel(ctx.interaction)

    async def _refresh(self, ctx: ComponentContext, note: str) -> None:
        plugin = self.plugin
        guild_id = int(ctx.data["guild"])
        session = await plugin.playback.session(guild_id)
        assert ctx.state is not None
        # The card is re-rendered for whatever plays now: it names a 21+ track only on the
        # clicker's own (ephemeral) card if they are verified, or in a 21+-only channel.
        message = ctx.interaction.message
        private = bool(message is not None and message.flags.ephemeral)
        reveal = await plugin.audience.reveal_to(ctx.interaction, ephemeral=private)
        embed = await now_playing(plugin.playback, plugin.queue, guild_id, reveal=reveal)
        await ctx.edit(embed=embed, view=control_buttons(
            plugin.ctx.components, ctx.state.id, paused=bool(session and session.paused)))
        await plugin.audience.answer(ctx.interaction, note, ephemeral=True)

    async def _is_dj(self, ctx: ComponentContext, guild_id: int) -> bool:
        return await is_dj(ctx.interaction, await self.plugin.service.guild_settings(guild_id))

    @uses_state(NP_KIND)
    async def on_pause(self, ctx: ComponentContext) -> None:
        guild_id, user_id, channel = self._who(ctx)
        session = await self.plugin.playback.session(guild_id)
        paused = not (session.paused if session else False)
        await self._refresh(ctx, await self.plugin.controls.pause(guild_id, user_id, channel,
                                                                  paused))

    @uses_state(NP_KIND)
    async def on_skip(self, ctx: ComponentContext) -> None:
        guild_id, user_id, channel = self._who(ctx)
        dj = await self._is_dj(ctx, guild_id)
        await self._refresh(ctx, await self.plugin.controls.skip(guild_id, user_id, channel,
                                                                 is_dj=dj))

    @uses_state(NP_KIND)
    async def on_stop(self, ctx: ComponentContext) -> None:
        guild_id, user_id, channel = self._who(ctx)
        dj = await self._is_dj(ctx, guild_id)
        await self._refresh(ctx, await self.plugin.controls.stop(guild_id, user_id, channel,
                                                                 is_dj=dj))

    @uses_state(NP_KIND)
    async def on_loop(self, ctx: ComponentContext) -> None:
        guild_id, user_id, channel = self._who(ctx)
        await self._refresh(ctx, await self.plugin.controls.cycle_loop(guild_id, user_id,
                                                                       channel))

    @uses_state(NP_KIND)
    async def on_shuffle(self, ctx: ComponentContext) -> None:
        guild_id, user_id, channel = self._who(ctx)
        await self._refresh(ctx, await self.plugin.controls.shuffle(guild_id, user_id, channel))
