"""Core slash commands: `/help` for every member, `/plugins list|enable|disable` for server
admins."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import nextcord
from nextcord.ext import commands

from bot.components.autocomplete import answer_autocomplete
from bot.components.paginator import send_paginator
from bot.contract import requires_permissions
from bot.errors import UserError
from bot.help import HELP_PAGES, HelpPages, entries_for, intro, jumps_of, pages_of
from bot.routing import CORE
from bot.toggles import UnknownPlugin

if TYPE_CHECKING:
    from bot.client import GrowmiesBot

MANAGE_GUILD = nextcord.Permissions(manage_guild=True)
GUILD_ONLY = [nextcord.InteractionContextType.guild]


class AdminCog(commands.Cog, name="core.admin"):
    def __init__(self, bot: GrowmiesBot) -> None:
        self.bot = bot
        bot.services.blocks.page_source(HELP_PAGES, HelpPages())

    # A core command: open to every member (no age gate), answered only to the asker.
    @nextcord.slash_command(name="help", description="What you can use here, page by page",
                            contexts=GUILD_ONLY)
    async def help(self, interaction: nextcord.Interaction) -> None:
        assert interaction.user is not None
        entries = await entries_for(self.bot, interaction)
        decision = await self.bot.services.age_gate.decide(interaction.guild_id,
                                                           interaction.user.id)
        pages = pages_of(entries, decision.allowed)
        await send_paginator(
            self.bot, interaction, plugin=CORE, source=HELP_PAGES, ephemeral=True,
            jumps=jumps_of(pages),
            params={"pages": pages,
                    "intro": intro(decision.allowed, any(e.adults_only for e in entries))})

    @nextcord.slash_command(name="ping", description="Check that the bot is alive")
    async def ping(self, interaction: nextcord.Interaction) -> None:
        latency = self.bot.latency
        # nextcord reports nan/inf until the first heartbeat is acknowledged.
        shown = f"{latency * 1000:.0f} ms" if math.isfinite(latency) else "n/a"
        await interaction.response.send_message(f"Pong! Gateway latency {shown}.", ephemeral=True)

    # Discord hides /plugins from members without Manage Server; the core still checks the
    # subcommands, because admins can override command permissions per channel or role.
    @nextcord.slash_command(name="plugins", description="Turn bot features on or off here",
                            contexts=GUILD_ONLY, default_member_permissions=MANAGE_GUILD)
    async def plugins(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare (Discord does not allow running a command with subcommands)."""

    @plugins.subcommand(name="list", description="Show which features are on in this server")
    async def list_(self, interaction: nextcord.Interaction) -> None:
        states = await self.bot.services.toggles.states(interaction.guild_id or 0)
        lines = []
        for name, enabled in states.items():
            plugin = self.bot.plugins.plugins[name]
            mark = "🟢 on" if enabled else "⚪ off"
            lines.append(f"**{name}** — {mark} · v{plugin.version}\n{plugin.description[:150]}")
        for name, reason in sorted(self.bot.plugins.failed.items()):
            lines.append(f"**{name}** — ⚠️ not loaded ({reason[:120]})")
        embed = nextcord.Embed(title="Plugins in this server",
                               description="\n\n".join(lines)[:4096] or "No plugins installed.")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @plugins.subcommand(name="enable", description="Turn a feature on in this server")
    @requires_permissions(manage_guild=True)
    async def enable(
        self,
        interaction: nextcord.Interaction,
        plugin: str = nextcord.SlashOption(description="Plugin name", max_length=32),
    ) -> None:
        await self._set(interaction, plugin, True)

    @plugins.subcommand(name="disable", description="Turn a feature off in this server")
    @requires_permissions(manage_guild=True)
    async def disable(
        self,
        interaction: nextcord.Interaction,
        plugin: str = nextcord.SlashOption(description="Plugin name", max_length=32),
    ) -> None:
        await self._set(interaction, plugin, False)

    @enable.on_autocomplete("plugin")
    @disable.on_autocomplete("plugin")
    async def _plugin_names(self, interaction: nextcord.Interaction, plugin: str) -> None:
        async def matching(typed: str) -> list[str]:
            return [n for n in sorted(self.bot.plugins.plugins) if typed.lower() in n]

        await answer_autocomplete(interaction, plugin, matching)

    async def _set(self, interaction: nextcord.Interaction, plugin: str, enabled: bool) -> None:
        assert interaction.guild_id is not None and interaction.user is not None
        name = plugin.strip().lower()
        try:
            await self.bot.services.toggles.set(
                interaction.guild_id, name, enabled, actor_id=interaction.user.id
            )
        except UnknownPlugin:
            known = ", ".join(sorted(self.bot.plugins.plugins)) or "none"
            raise UserError(
                f"There is no plugin called `{plugin[:32]}`. Installed: {known}."
            ) from None
        word = "on" if enabled else "off"
        await interaction.response.send_message(f"**{name}** is now {word} in this server.",
                                                ephemeral=True)

