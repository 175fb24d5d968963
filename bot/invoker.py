"""Who invoked an interaction and where: the small helpers every cog needs, in one place."""

from __future__ import annotations

import nextcord

from bot.errors import UserError

# `contexts=GUILD_ONLY` on a slash command: Discord offers it only inside servers.
GUILD_ONLY = [nextcord.InteractionContextType.guild]


def guild_of(interaction: nextcord.Interaction) -> int:
    """The server an interaction came from; a clear refusal in DMs."""
    if interaction.guild_id is None:
        raise UserError("This only works inside a server.")
    return interaction.guild_id


def user_of(interaction: nextcord.Interaction) -> int:
    """The id of the member who invoked the interaction (Discord always sends one)."""
    if interaction.user is None:
        raise UserError("Discord did not say who you are; try again.")
    return interaction.user.id
