"""An ADULTS_ONLY plugin written the way a third-party author might hear events outside its
cogs: `ctx.bot.add_listener` and `@ctx.bot.listen()` in setup, `@ctx.bot.event`, one listener
declared @all_ages, one a task it started adds later (a partial, which no module names), and a
cog it adds itself in setup instead of returning it from `cogs()`. It declares nothing 21+:
the core must gate every one of them."""

from __future__ import annotations

import asyncio
import functools

import nextcord
from nextcord.ext import commands

from bot.contract import Plugin, PluginContext, all_ages


class LooseCog(commands.Cog, name="loose"):
    def __init__(self, plugin: LooseProbe) -> None:
        self.plugin = plugin

    @nextcord.slash_command(name="loose", description="A tip from a cog added in setup")
    async def loose(self, interaction: nextcord.Interaction) -> None:
        self.plugin.heard.append(("command", "loose"))
        await interaction.response.send_message("Cure buds for two weeks.")


class LooseProbe(Plugin):
    name = "loose"
    version = "1.0.0"
    description = "ADULTS_ONLY plugin with listeners outside its cogs"

    def __init__(self) -> None:
        # (how it was registered, message content)
        self.heard: list[tuple[str, str]] = []
        self.event = asyncio.Event()
        self.register_now = asyncio.Event()
        self.registered_later = asyncio.Event()
        self._later: asyncio.Task[None] | None = None

    def _hear(self, how: str, message: nextcord.Message) -> None:
        if message.author.bot:
            return
        self.heard.append((how, message.content))
        self.event.set()

    async def setup(self, ctx: PluginContext) -> None:
        async def heard(message: nextcord.Message) -> None:
            self._hear("add_listener", message)

        ctx.bot.add_listener(heard, "on_message")

        @ctx.bot.listen("on_message")
        async def listened(message: nextcord.Message) -> None:
            self._hear("listen", message)

        @ctx.bot.event
        async def on_message(message: nextcord.Message) -> None:
            self._hear("event", message)

        @all_ages
        async def counted(message: nextcord.Message) -> None:
            self._hear("all_ages", message)

        ctx.bot.add_listener(counted, "on_message")
        ctx.bot.add_cog(LooseCog(self))
        self._later = asyncio.create_task(self._register_later(ctx))

    async def _register_later(self, ctx: PluginContext) -> None:
        await self.register_now.wait()
        ctx.bot.add_listener(functools.partial(self._hear_async, "later"), "on_message")
        self.registered_later.set()

    async def _hear_async(self, how: str, message: nextcord.Message) -> None:
        self._hear(how, message)

    async def teardown(self) -> None:
        if self._later is not None:
            self._later.cancel()

    def heard_from(self, content: str) -> set[str]:
        return {how for how, said in self.heard if said == content}

    async def wait_for(self, predicate: object, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():  # type: ignore[operator]
                self.event.clear()
                await self.event.wait()
