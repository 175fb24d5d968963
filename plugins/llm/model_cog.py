"""/model (a member picks among the models admins allowed) and `where_of`, which reads the
channel and roles the admins' allow-lists are checked against from an interaction or a
message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nextcord
from nextcord.ext import commands

from bot.api import GUILD_ONLY, PluginContext, guild_of, open_to_all_when, user_of
from plugins.llm.budget import general_chat_open
from plugins.llm.sinks import NO_PINGS

if TYPE_CHECKING:
    from plugins.llm.model_catalog import ModelCatalog
    from plugins.llm.plugin import LLMPlugin


def where_of(channel: Any, author: Any) -> dict[str, Any]:
    """ChatRequest's `channel_id` (a thread counts as its parent channel) and `role_ids`."""
    channel_id: int | None = getattr(channel, "id", None)
    if isinstance(channel, nextcord.Thread):
        channel_id = channel.parent_id
    roles = getattr(author, "roles", None)
    role_ids = tuple(r.id for r in roles) if roles is not None else None
    return {"channel_id": channel_id, "role_ids": role_ids}


class ModelCog(commands.Cog, name="llm_model"):
    def __init__(self, plugin: LLMPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @property
    def catalog(self) -> ModelCatalog:
        assert self.plugin.chat is not None
        return self.plugin.chat.models

    @nextcord.slash_command(name="model", description="Choose the AI model you talk to here "
                            "(no name: show the choices)", contexts=GUILD_ONLY)
    # Like /chat settings: open to everyone only where general chat is.
    @open_to_all_when(general_chat_open)
    async def model(self, interaction: nextcord.Interaction,
                    name: str | None = nextcord.SlashOption(
                        description="A model the admins allowed", required=False,
                        max_length=100)) -> None:
        guild_id, user_id = guild_of(interaction), user_of(interaction)
        assert guild_id is not None  # GUILD_ONLY
        if name is not None:
            choice = await self.catalog.choose(guild_id, user_id, name)
            tools = " It searches the knowledge base itself." if choice.tools else ""
            await interaction.send(f"You now talk to `{choice.name}` here.{tools}",
                                   ephemeral=True, allowed_mentions=NO_PINGS)
            return
        current = await self.catalog.resolve(guild_id, user_id)
        names = await self.catalog.names(guild_id)
        if not names or current is None:
            await interaction.send("No AI model is set up here yet.", ephemeral=True)
            return
        listed = "\n".join(f"{'▶' if n == current.name else '•'} `{n}`"
                           + (" (default)" if n == self.catalog.default else "") for n in names)
        await interaction.send(f"**AI models you can choose here**\n{listed}\n"
                               "Choose one with `/model name:<model>`.", ephemeral=True,
                               allowed_mentions=NO_PINGS)
