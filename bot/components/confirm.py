"""A confirmation dialog: Confirm runs a named callback exactly once; Cancel closes it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nextcord

from bot.components import ids
from bot.components.ui import button, controls
from bot.errors import ControlExpired

if TYPE_CHECKING:
    from bot.client import GrowmiesBot
    from bot.components.context import ComponentContext


async def ask_confirmation(
    bot: GrowmiesBot,
    interaction: nextcord.Interaction,
    *,
    plugin: str,
    prompt: str,
    callback: str,
    payload: dict[str, Any] | None = None,
    confirm_label: str = "Confirm",
    danger: bool = True,
    ttl: timedelta = timedelta(minutes=15),
    ephemeral: bool = True,
) -> None:
    """Ask the invoker to confirm; `callback` (registered in services.blocks) gets `payload`."""
    assert interaction.user is not None
    state = await bot.services.components.create(
        plugin, "confirm", {"callback": callback, "payload": payload or {}, "done": False},
        owner_id=interaction.user.id, guild_id=interaction.guild_id, ttl=ttl,
    )
    view = controls(
        button(confirm_label, ids.build("core", "cf.yes", state.id),
               style=nextcord.ButtonStyle.danger if danger else nextcord.ButtonStyle.success),
        button("Cancel", ids.build("core", "cf.no", state.id)),
    )
    await interaction.send(prompt[:2000], view=view, ephemeral=ephemeral)


async def on_yes(ctx: ComponentContext) -> None:
    data = ctx.data
    if data.get("done"):
        raise ControlExpired("this was already answered")
    func = ctx.bot.services.blocks.callbacks.get(data.get("callback", ""))
    if func is None:
        raise ControlExpired()
    # Claim first: of two simultaneous clicks only one passes this compare-and-set.
    await ctx.advance({**data, "done": True, "answer": "yes"})
    await ctx.edit(view=controls())
    await func(ctx, data.get("payload", {}))


async def on_no(ctx: ComponentContext) -> None:
    data = ctx.data
    if data.get("done"):
        raise ControlExpired("this was already answered")
    await ctx.advance({**data, "done": True, "answer": "no"})
    await ctx.edit(content="Cancelled.", view=controls())
