"""An example third-party plugin: `/hello` answers with a Wave button that survives restarts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import nextcord
from nextcord.ext import commands

from bot.api import (
    MIXED,
    ComponentContext,
    ComponentHandler,
    Plugin,
    PluginContext,
    button,
    controls,
)


class HelloCog(commands.Cog, name="hello"):
    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx

    @nextcord.slash_command(name="hello", description="Say hello")
    async def hello(self, interaction: nextcord.Interaction) -> None:
        assert interaction.user is not None
        state = await self.ctx.components.create(
            "wave", {"waves": 0}, guild_id=interaction.guild_id
        )
        await interaction.response.send_message(
            f"Hello, {interaction.user.display_name}!",
            view=controls(button("Wave 👋", self.ctx.components.custom_id("wave", state))),
        )


async def on_wave(ctx: ComponentContext) -> None:
    waves = int(ctx.data.get("waves", 0)) + 1
    await ctx.advance({"waves": waves})
    await ctx.send(f"👋 waved {waves} time(s)")


class HelloPlugin(Plugin):
    name = "hello"
    version = "1.0.0"
    description = "Example plugin: /hello and a wave button."
    # Nothing here is 21+ content. A plugin that says nothing is rated ADULTS_ONLY: every
    # surface behind the age gate unless marked @all_ages.
    rating = MIXED

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        return [HelloCog(ctx)]

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        return {"wave": on_wave}


plugin = HelloPlugin()
