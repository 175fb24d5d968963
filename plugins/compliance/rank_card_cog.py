"""/rankcard: a member styles their own rank card (accent colour, background image).

A member's own background is an unreviewed picture: nothing can tell whether it shows
cannabis. So uploading one takes a member verified 21+ (the age gate, audited), and /rank
shows it only where every reader is verified 21+ (rank_styles.style_for). The server default
is set by admins and shown everywhere: what it shows is their responsibility.
"""

from __future__ import annotations

import asyncio

import nextcord
from nextcord.ext import commands

from bot.api import GUILD_ONLY, PluginContext, UserError, guild_of, user_of
from plugins.compliance.attachments import read_checked
from plugins.compliance.models import SERVER_DEFAULT_STYLE
from plugins.compliance.rank_styles import (
    check_background_size,
    parse_accent,
    prepare_background,
    save_style,
)

# The age gate's feature name for a member's own background (in the audit log).
BACKGROUND_FEATURE = "compliance.rank_card_background"
MEMBER_NOTE = ("Your background shows on /rank only in channels where everyone is verified "
               "21+; elsewhere your card uses the server's background.")
SERVER_NOTE = ("Members' own accent colours win; the server background shows on every card "
               "in every channel (members' own backgrounds only in 21+ channels), so keep it "
               "fit for all ages.")


# Options of /rankcard and /levels card (a fresh object per command).
def accent_option() -> str:
    return nextcord.SlashOption(description="Accent colour, e.g. #58B25C", required=False,
                                max_length=7)


def background_option() -> nextcord.Attachment:
    return nextcord.SlashOption(
        description="Background image (PNG, JPEG, GIF or WebP, up to 8 MB)", required=False)


def reset_option(description: str) -> bool:
    return nextcord.SlashOption(description=description, required=False)


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
        if user_id != SERVER_DEFAULT_STYLE:
            # Asked before the download: a refused member costs nothing.
            decision = await ctx.services.age_gate.check(guild_id, actor_id, BACKGROUND_FEATURE)
            if not decision.allowed:
                raise UserError("A background picture of your own takes a member verified "
                                "21+ (a picture can't be checked for cannabis content). "
                                + (decision.message or ""), view=ctx.verify_prompt())
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


async def answer_style_change(ctx: PluginContext, interaction: nextcord.Interaction,
                              user_id: int, note: str, *, accent: str | None,
                              background: nextcord.Attachment | None,
                              reset: bool | None) -> None:
    """/rankcard and /levels card: one style change, answered to the invoker only."""
    # Downloading and re-encoding an image can take a moment: acknowledge first (3 s).
    await interaction.response.defer(ephemeral=True)
    text = await change_style(ctx, guild_of(interaction), user_id, user_of(interaction),
                              accent=accent, background=background, reset=reset)
    await interaction.send(f"{text}\n{note}", ephemeral=True)


class RankCardCog(commands.Cog, name="compliance.rank_card"):
    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx

    @nextcord.slash_command(name="rankcard", description="Style your rank card",
                            contexts=GUILD_ONLY)
    async def rankcard(
        self, interaction: nextcord.Interaction, accent: str = accent_option(),
        background: nextcord.Attachment = background_option(),
        reset: bool = reset_option("Back to the server's style"),
    ) -> None:
        await answer_style_change(self.ctx, interaction, user_of(interaction), MEMBER_NOTE,
                                  accent=accent, background=background, reset=reset)
