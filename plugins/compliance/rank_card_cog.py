"""/rankcard: a member styles their own rank card (accent colour, background image)."""

from __future__ import annotations

import asyncio

import nextcord
from nextcord.ext import commands

from bot.api import GUILD_ONLY, PluginContext, UserError, guild_of, user_of
from plugins.compliance.attachments import read_checked
from plugins.compliance.rank_styles import (
    check_background_size,
    parse_accent,
    prepare_background,
    save_style,
)


async def change_style(ctx: PluginContext, guild_id: int, user_id: int, actor_id: int, *,
                       accent: str | None, background: nextcord.Attachment | None,
                       reset: bool | None) -> str:
    """Validate, store and audit one style change (user_id 0: the server default); the
    answer to show."""
    if not (accent or background or reset):
        raise UserError("Give an accent colour, a background image, or reset.")
    colour = parse_accent(accent) if accent else None
    stored: bytes | None = None
    if background is not None:
        data = await read_checked(background, check_background_size)
        stored = await asyncio.to_thread(prepare_background, data)
    await save_style(guild_id, user_id, accent=colour, background=stored, reset=bool(reset))
    await ctx.services.audit.record(
        "levels.card_style_changed", guild_id=guild_id, actor_id=actor_id,
        target=user_id or "server default",
        details={"accent": colour, "background": stored is not None, "reset": bool(reset)})
    if reset:
        return "Rank card style reset."
    parts = [f"accent {colour}" if colour else "", "new background" if stored else ""]
    return "Saved: " + ", ".join(p for p in parts if p) + ". See it with /rank."


class RankCardCog(commands.Cog, name="compliance.rank_card"):
    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx

    @nextcord.slash_command(name="rankcard", description="Style your rank card",
                            contexts=GUILD_ONLY)
    async def rankcard(
        self, interaction: nextcord.Interaction,
        accent: str = nextcord.SlashOption(description="Accent colour, e.g. #58B25C",
                                           required=False, max_length=7),
        background: nextcord.Attachment = nextcord.SlashOption(
            description="Background image (PNG, JPEG, GIF or WebP, up to 8 MB)",
            required=False),
        reset: bool = nextcord.SlashOption(description="Back to the server's style",
                                           required=False),
    ) -> None:
        # Downloading and re-encoding an image can take a moment: acknowledge first (3 s).
        await interaction.response.defer(ephemeral=True)
        user_id = user_of(interaction)
        text = await change_style(self.ctx, guild_of(interaction), user_id, user_id,
                                  accent=accent, background=background, reset=reset)
        await interaction.send(text, ephemeral=True)
