"""An ADULTS_ONLY plugin written the way a third-party author might hear events outside its
cogs: `ctx.bot.add_listener` and `@ctx.bot.listen()` in setup, `@ctx.bot.event`, one listener
declared @all_ages, one a task it started adds later (a partial, which no module names), two
put straight into nextcord's tables, `bot.wait_for` in a command, and a cog it adds itself in
setup instead of returning it from `cogs()`. It declares nothing 21+:
the core must gate every one of them."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

import nextcord
from nextcord.ext import commands

from bot.contract import Plugin, PluginContext, all_ages


class LooseCog(commands.Cog, name="loose"):
    def __init__(self, plugin: LooseProbe, bot: nextcord.Client) -> None:
        self.plugin = plugin
        self.bot = bot

    @nextcord.slash_command(name="loose", description="Commands of a cog added in setup")
    async def loose(self, interaction: nextcord.Interaction) -> None:
        """Group."""

    @loose.subcommand(name="tip", description="A cannabis tip")
    async def tip(self, interaction: nextcord.Interaction) -> None:
        self.plugin.heard.append(("command", "tip"))
        await interaction.response.send_message("Cure buds for two weeks.")

    @loose.subcommand(name="ask", description="Waits for the next message in this channel")
    async def ask(self, interaction: nextcord.Interaction) -> None:
        await interaction.response.send_message("Name a strain.")
        self.plugin.waiting.set()
        message = await self.bot.wait_for(
            "message", check=lambda m: m.channel.id == interaction.channel_id, timeout=5)
        self.plugin.heard.append(("wait_for", message.content))
        self.plugin.event.set()


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
        self.waiting = asyncio.Event()
        self.funcs: dict[str, Callable[..., Awaitable[None]]] = {}
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

        # The marker above the registration: it lands after the listener was added.
        @all_ages
        @ctx.bot.listen("on_message")
        async def counted(message: nextcord.Message) -> None:
            self._hear("all_ages", message)

        self.funcs = {"add_listener": heard, "listen": listened}

        # Past add_listener altogether: the core adopts these at the first dispatch.
        async def appended(message: nextcord.Message) -> None:
            self._hear("extra_events", message)

        async def assigned(message: nextcord.Message) -> None:
            self._hear("assigned", message)

        ctx.bot.extra_events.setdefault("on_message", []).append(appended)
        setattr(ctx.bot, "on_message", assigned)  # noqa: B010  # as careless code would
        ctx.bot.add_cog(LooseCog(self, ctx.bot))
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


# A module-level listener: registered from outside any plugin code, it is still the plugin's
# because this module defines the plugin (bot.listeners, attribution by module).
OVERHEARD: list[str] = []
OVERHEARD_EVENT = asyncio.Event()


async def overheard(message: nextcord.Message) -> None:
    OVERHEARD.append(message.content)
    OVERHEARD_EVENT.set()
