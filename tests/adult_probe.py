"""An ADULTS_ONLY plugin used by the core's gate tests: it declares nothing 21+ itself, so every
surface it has (subcommands, autocomplete, components, listeners) must be gated by the core."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import nextcord
from nextcord.ext import commands

from bot.components.context import ComponentContext
from bot.components.ids import build
from bot.components.ui import button, controls
from bot.contract import (
    ComponentHandler,
    Plugin,
    PluginContext,
    all_ages,
    open_to_all_when,
    stateless,
    uses_state,
)
from bot.respond import send_adult


class AdultCog(commands.Cog, name="adult"):
    def __init__(self, plugin: AdultProbe, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @nextcord.slash_command(name="adult", description="21+ test commands")
    async def adult(self, interaction: nextcord.Interaction) -> None:
        """Group."""

    @adult.subcommand(name="tip", description="A cannabis tip")
    async def tip(self, interaction: nextcord.Interaction) -> None:
        self.plugin.calls.append("tip")
        await interaction.response.send_message("Store flower in a cool, dark place.")

    @adult.subcommand(name="rules", description="House rules (all ages)")
    @all_ages
    async def rules(self, interaction: nextcord.Interaction) -> None:
        await interaction.response.send_message("Be kind.")

    @adult.subcommand(name="chat", description="Open to all when an admin says so")
    @open_to_all_when(lambda guild_id: AdultProbe.opened(guild_id))
    async def chat(self, interaction: nextcord.Interaction) -> None:
        self.plugin.calls.append("chat")
        await interaction.response.send_message("chatting")

    @adult.subcommand(name="strain", description="Autocompleted strain names")
    async def strain(self, interaction: nextcord.Interaction,
                     name: str = nextcord.SlashOption(autocomplete=True)) -> None:
        await interaction.response.send_message(f"picked {name}")

    @strain.on_autocomplete("name")
    async def _names(self, interaction: nextcord.Interaction, name: str) -> None:
        self.plugin.calls.append("autocomplete")
        await interaction.response.send_autocomplete(["Blue Dream", "Sour Diesel"])

    @adult.subcommand(name="card", description="A card with a Flip button")
    async def card(self, interaction: nextcord.Interaction) -> None:
        assert interaction.user is not None
        card = await self.ctx.services.components.create(
            "adult", "card", {"side": "front"}, guild_id=interaction.guild_id)
        other = await self.ctx.services.components.create(
            "adult", "note", {"text": "x"}, guild_id=interaction.guild_id)
        self.plugin.note_state = other.id
        await interaction.response.send_message("card", view=controls(
            button("Flip", build("adult", "card.flip", card.id)),
            button("Menu", "adult:menu")))

    @adult.subcommand(name="room", description="Opens a private 21+ thread with you")
    async def room(self, interaction: nextcord.Interaction) -> None:
        assert interaction.user is not None and isinstance(
            interaction.channel, nextcord.TextChannel)
        thread = await interaction.channel.create_thread(
            name="21+ room", type=nextcord.ChannelType.private_thread, invitable=True)
        await thread.add_user(interaction.user)
        await send_adult(interaction, self.ctx.services, f"Your room: {thread.mention}")
        await thread.send("Welcome: strain talk starts here.")

    @adult.subcommand(name="legacy", description="A nextcord View with a callback")
    @all_ages
    async def legacy(self, interaction: nextcord.Interaction) -> None:
        view = nextcord.ui.View(timeout=None)
        reveal = nextcord.ui.Button(label="Reveal", custom_id="adult:reveal")

        async def callback(click: nextcord.Interaction) -> None:
            self.plugin.calls.append("legacy-callback")
            await click.response.send_message("Blue Dream, 21% THC")

        reveal.callback = callback  # type: ignore[method-assign]
        view.add_item(reveal)
        await interaction.response.send_message("press it", view=view)

    @adult.subcommand(name="say", description="21+ text, placed by send_adult")
    async def say(self, interaction: nextcord.Interaction) -> None:
        await send_adult(interaction, self.ctx.services, "Blue Dream is a sativa-leaning hybrid.")

    @commands.Cog.listener("on_message")
    async def heard(self, message: nextcord.Message) -> None:
        self.plugin.heard.append(message.content)
        self.plugin.event.set()

    @commands.Cog.listener("on_message")
    @open_to_all_when(lambda guild_id: AdultProbe.opened(guild_id))
    async def heard_when_open(self, message: nextcord.Message) -> None:
        self.plugin.heard_open.append(message.content)
        self.plugin.event.set()

    @commands.Cog.listener("on_message")
    @all_ages
    async def counted(self, message: nextcord.Message) -> None:
        self.plugin.counted.append(message.content)
        self.plugin.event.set()


class AdultProbe(Plugin):
    name = "adult"
    version = "1.0.0"
    description = "ADULTS_ONLY core test plugin"
    open_guilds: set[int] = set()
    open_fails = False

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.heard: list[str] = []
        self.heard_open: list[str] = []
        self.counted: list[str] = []
        self.event = asyncio.Event()
        self.note_state: str | None = None

    @classmethod
    async def opened(cls, guild_id: int | None) -> bool:
        if cls.open_fails:
            raise ConnectionError("settings unavailable")
        return guild_id in cls.open_guilds

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        return [AdultCog(self, ctx)]

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        return {"card.flip": self.on_flip, "menu": self.on_menu}

    @uses_state("card")
    async def on_flip(self, ctx: ComponentContext) -> None:
        self.calls.append("flip")
        await ctx.send("The back of the card: Blue Dream, 21% THC.")

    @stateless
    async def on_menu(self, ctx: ComponentContext) -> None:
        self.calls.append("menu")
        await ctx.send("menu")

    async def wait_for(self, predicate: object, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():  # type: ignore[operator]
                self.event.clear()
                await self.event.wait()
