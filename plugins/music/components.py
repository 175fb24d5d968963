"""Now-playing buttons. Their state names only the guild, so after a restart they control
whatever the restored player is playing; after /stop they say nothing is playing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.contract import uses_state
from bot.errors import ControlExpired
from plugins.music.cog import is_dj, member_channel
from plugins.music.views import NP_KIND, control_buttons, now_playing

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from bot.components.context import ComponentContext
    from plugins.music.plugin import MusicPlugin


def handlers(plugin: MusicPlugin) -> Mapping[str, Callable[[ComponentContext], Awaitable[None]]]:
    def who(ctx: ComponentContext) -> tuple[int, int, int | None]:
        if ctx.state is None or ctx.state.kind != NP_KIND:
            raise ControlExpired()  # the core refuses these first; never act on a stray row
        guild_id = int(ctx.data.get("guild", 0))
        if guild_id != ctx.guild_id:
            raise ControlExpired()
        return guild_id, ctx.user_id, member_channel(ctx.interaction)

    async def refresh(ctx: ComponentContext, note: str) -> None:
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
            ctx.state.id, paused=bool(session and session.paused)))
        await plugin.audience.answer(ctx.interaction, note, ephemeral=True)

    @uses_state(NP_KIND)
    async def on_pause(ctx: ComponentContext) -> None:
        guild_id, user_id, channel = who(ctx)
        session = await plugin.playback.session(guild_id)
        paused = not (session.paused if session else False)
        await refresh(ctx, await plugin.controls.pause(guild_id, user_id, channel, paused))

    @uses_state(NP_KIND)
    async def on_skip(ctx: ComponentContext) -> None:
        guild_id, user_id, channel = who(ctx)
        dj = await is_dj(ctx.interaction, await plugin.service.guild_settings(guild_id))
        note = await plugin.controls.skip(guild_id, user_id, channel, is_dj=dj)
        await refresh(ctx, note)

    @uses_state(NP_KIND)
    async def on_stop(ctx: ComponentContext) -> None:
        guild_id, user_id, channel = who(ctx)
        dj = await is_dj(ctx.interaction, await plugin.service.guild_settings(guild_id))
        await refresh(ctx, await plugin.controls.stop(guild_id, user_id, channel, is_dj=dj))

    @uses_state(NP_KIND)
    async def on_loop(ctx: ComponentContext) -> None:
        guild_id, user_id, channel = who(ctx)
        await refresh(ctx, await plugin.controls.cycle_loop(guild_id, user_id, channel))

    @uses_state(NP_KIND)
    async def on_shuffle(ctx: ComponentContext) -> None:
        guild_id, user_id, channel = who(ctx)
        await refresh(ctx, await plugin.controls.shuffle(guild_id, user_id, channel))

    return {"np.pause": on_pause, "np.skip": on_skip, "np.stop": on_stop,
            "np.loop": on_loop, "np.shuffle": on_shuffle}
