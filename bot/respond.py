"""Answering interactions safely: one initial response, deferral before Discord's 3 s deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import nextcord
import structlog
from nextcord.enums import InteractionResponseType, InteractionType
from nextcord.webhook.async_ import async_context

if TYPE_CHECKING:
    from bot.services import CoreServices

log = structlog.get_logger("bot.respond")

# Discord drops an interaction not acknowledged within 3 s; defer with margin for the round trip.
DEFER_AFTER = 2.0


async def claim_defer(interaction: nextcord.Interaction, *, ephemeral: bool = True) -> bool:
    """Defer unless already answered. The response is marked done *before* the HTTP call, so
    a handler answering at the same moment goes to a followup instead of a second response."""
    response = interaction.response
    if response.is_done():
        return False
    if interaction.type is InteractionType.application_command:
        kind = InteractionResponseType.deferred_channel_message.value
        data = {"flags": 64} if ephemeral else None
    elif interaction.type in (InteractionType.component, InteractionType.modal_submit):
        kind, data = InteractionResponseType.deferred_message_update.value, None
    else:
        return False
    response._responded = True
    try:
        await async_context.get().create_interaction_response(
            interaction.id, interaction.token, session=interaction._session, type=kind, data=data
        )
    except nextcord.HTTPException as exc:
        log.warning("interaction.defer_failed", status=exc.status, code=exc.code)
        return False
    return True


@contextlib.asynccontextmanager
async def defer_watchdog(
    interaction: nextcord.Interaction, *, ephemeral: bool = True
) -> AsyncIterator[None]:
    """Defers the interaction if the body has not answered within `DEFER_AFTER` seconds."""

    async def watch() -> None:
        await asyncio.sleep(DEFER_AFTER)
        if await claim_defer(interaction, ephemeral=ephemeral):
            log.info("interaction.auto_deferred")

    task = asyncio.create_task(watch())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# Shown above 21+ content that could not be posted where everyone in the channel would see it.
ADULT_NOTE = (
    "-# Shown only to you: this channel is open to members who are not verified 21+."
)


async def send_adult(
    interaction: nextcord.Interaction, services: CoreServices, content: str | None = None,
    **kwargs: Any,
) -> bool:
    """Answer with 21+ content: publicly only where verified members alone can read it (a
    private thread the bot opened, a channel marked 21+ whose permissions were checked),
    ephemerally everywhere else, saying why. Returns whether the answer was public."""
    kwargs.pop("ephemeral", None)
    public = await services.age_gate.is_adults_only_place(interaction.channel)
    if not public:
        content = f"{ADULT_NOTE}\n{content}" if content else ADULT_NOTE
    await interaction.send(content, ephemeral=not public, **kwargs)
    return public
