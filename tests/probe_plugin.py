"""A plugin used only by the core's tests: commands that misbehave on purpose, a 21+ command,
a listener, and a component handler, so routing, gating and errors are tested for real."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import nextcord
from nextcord.ext import commands

from bot.components.context import ComponentContext
from bot.components.ids import build
from bot.components.registry import Page
from bot.components.ui import button, controls
from bot.contract import (
    MIXED,
    ComponentHandler,
    Plugin,
    PluginContext,
    age_restricted,
    public_response,
    stateless,
)
from bot.loader import PluginRegistry, discover
from bot.services import GateDecision


class ProbeCog(commands.Cog, name="probe"):
    def __init__(self, plugin: ProbePlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @nextcord.slash_command(name="probe", description="Test commands")
    async def probe(self, interaction: nextcord.Interaction) -> None:
        """Group."""

    @probe.subcommand(name="ping", description="Answers pong")
    async def ping(self, interaction: nextcord.Interaction) -> None:
        self.plugin.calls.append("ping")
        await interaction.response.send_message("pong")

    @probe.subcommand(name="boom", description="Raises")
    async def boom(self, interaction: nextcord.Interaction) -> None:
        self.plugin.calls.append("boom")
        raise RuntimeError("kaboom with secret " + self.ctx.core_settings.require_token())

    @probe.subcommand(name="slow", description="Takes longer than Discord's 3 s")
    async def slow(self, interaction: nextcord.Interaction) -> None:
        await self.plugin.release.wait()
        await interaction.send("done slowly")

    @probe.subcommand(name="slowpublic", description="Slow, answered for everyone")
    @public_response
    async def slow_public(self, interaction: nextcord.Interaction) -> None:
        await self.plugin.release.wait()
        await interaction.send("done slowly, publicly")

    @probe.subcommand(name="secret", description="21+ only")
    @age_restricted("probe.secret")
    async def secret(self, interaction: nextcord.Interaction) -> None:
        self.plugin.calls.append("secret")
        await interaction.response.send_message("21+ stuff")

    @probe.subcommand(name="pick", description="Autocomplete")
    async def pick(self, interaction: nextcord.Interaction,
                   thing: str = nextcord.SlashOption(autocomplete=True)) -> None:
        await interaction.response.send_message(f"picked {thing}")

    @pick.on_autocomplete("thing")
    async def _things(self, interaction: nextcord.Interaction, thing: str) -> None:
        self.plugin.calls.append("autocomplete")
        await interaction.response.send_autocomplete(["alpha", "beta"])

    @probe.subcommand(name="button", description="Sends a counter button")
    async def counter(self, interaction: nextcord.Interaction) -> None:
        assert interaction.user is not None
        state = await self.ctx.services.components.create(
            "probe", "count", {"n": 0}, owner_id=interaction.user.id,
            guild_id=interaction.guild_id,
        )
        await interaction.response.send_message(
            "counter", view=controls(button("+1", build("probe", "count", state.id)))
        )

    @probe.subcommand(name="pages", description="A paginator over 95 numbered rows")
    async def pages(self, interaction: nextcord.Interaction) -> None:
        from bot.components.paginator import send_paginator

        await send_paginator(self.ctx.bot, interaction, plugin="probe", source="probe.rows",
                             params={"rows": 95})

    @commands.Cog.listener()
    async def on_message(self, message: nextcord.Message) -> None:
        if message.author.bot:
            return
        self.plugin.messages.append(message.content)
        async with self.plugin.seen:
            self.plugin.seen.notify_all()


class Rows:
    """A lazily rendered source: it only ever reads the rows of the requested page."""

    def __init__(self) -> None:
        self.rendered: list[int] = []

    async def page_count(self, params: dict[str, Any]) -> int:
        return -(-int(params["rows"]) // 10)

    async def render(self, params: dict[str, Any], page: int) -> Page:
        self.rendered.append(page)
        start = page * 10
        rows = range(start + 1, min(start + 10, int(params["rows"])) + 1)
        return Page(embed=nextcord.Embed(title="Rows", description="\n".join(map(str, rows))))


class AllowList:
    """A stand-in age verifier: members in `verified` are 21+."""

    def __init__(self) -> None:
        self.verified: set[int] = set()
        self.fail = False
        # Every member asked about, so tests can wait for a decision instead of sleeping.
        self.asked: list[int] = []
        self.asked_event = asyncio.Event()

    async def wait_asked(self, user_id: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while user_id not in self.asked:
                self.asked_event.clear()
                await self.asked_event.wait()

    async def decide(self, guild_id: int, user_id: int) -> GateDecision:
        self.asked.append(user_id)
        self.asked_event.set()
        if self.fail:
            raise ConnectionError("database down")
        if user_id in self.verified:
            return GateDecision(True, "verified")
        return GateDecision(False, "unverified", "Verify your age with /verify first.")


class ProbePlugin(Plugin):
    name = "probe"
    version = "9.9.9"
    description = "Core test plugin"
    rating = MIXED

    def __init__(self, *, provide_gate: bool = True) -> None:
        self.calls: list[str] = []
        self.messages: list[str] = []
        self.seen = asyncio.Condition()
        self.release = asyncio.Event()
        self.gate = AllowList()
        self.rows = Rows()
        self.click_barrier: asyncio.Barrier | None = None
        self.provide_gate = provide_gate

    async def wait_messages(self, count: int, timeout: float = 5.0) -> list[str]:
        async with asyncio.timeout(timeout), self.seen:
            await self.seen.wait_for(lambda: len(self.messages) >= count)
        return self.messages

    async def setup(self, ctx: PluginContext) -> None:
        if self.provide_gate:
            ctx.services.age_gate.provide("probe", self.gate, prompt_custom_id="probe:verify")
        ctx.services.blocks.page_source("probe.rows", self.rows)

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        return [ProbeCog(self, ctx)]

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        return {"count": self.on_count, "verify": self.on_verify}

    async def on_count(self, ctx: ComponentContext) -> None:
        if self.click_barrier is not None:
            # Hold each click after its state was loaded until the other one has loaded too:
            # both handlers then act on the same version, as with two truly simultaneous clicks.
            await self.click_barrier.wait()
        n = int(ctx.data["n"]) + 1
        await ctx.advance({"n": n})
        self.calls.append(f"count:{n}")
        await ctx.edit(content=f"counter {n}")

    @stateless
    async def on_verify(self, ctx: ComponentContext) -> None:
        await ctx.send("verification would start here")


class BrokenPlugin(Plugin):
    name = "broken"
    description = "Raises in setup"

    async def setup(self, ctx: PluginContext) -> None:
        raise RuntimeError("cannot reach its service")


def registry_with(*extra: Plugin, allow: list[str] | None = None) -> PluginRegistry:
    registry = discover(allow)
    for plugin in extra:
        registry.plugins[plugin.name] = plugin
    return registry
