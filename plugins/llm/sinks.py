"""MessageSinks over nextcord: where a streamed reply is written. Every message is sent with
allowed_mentions=none, so nothing the model writes can ping anyone."""

from __future__ import annotations

from typing import Any

import nextcord

NO_PINGS = nextcord.AllowedMentions.none()


class ChannelSink:
    """New messages in a thread or channel."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    async def send(self, content: str) -> Any:
        return await self.channel.send(content, allowed_mentions=NO_PINGS)

    async def edit(self, handle: Any, content: str) -> None:
        await handle.edit(content=content, allowed_mentions=NO_PINGS)

    async def delete(self, handle: Any) -> None:
        await handle.delete()


class InteractionSink:
    """The interaction's response, then followups for the parts past 2,000 characters."""

    def __init__(self, interaction: nextcord.Interaction) -> None:
        self.interaction = interaction

    async def send(self, content: str) -> Any:
        # `send` answers the interaction first and follows up after that; a deferred
        # interaction is finished by its first followup.
        return await self.interaction.send(content, allowed_mentions=NO_PINGS)

    async def edit(self, handle: Any, content: str) -> None:
        await handle.edit(content=content, allowed_mentions=NO_PINGS)

    async def delete(self, handle: Any) -> None:
        await handle.delete()
