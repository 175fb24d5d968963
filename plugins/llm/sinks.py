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


class NotedSink:
    """A sink whose first message carries a note above the answer (why only the asker sees
    it, that an idle conversation was restarted); the relay's edits keep it while it fits in
    Discord's 2,000 characters. Subclasses send and remember their first handle."""

    def __init__(self, note: str = "") -> None:
        self.note = note
        self._first: Any = None

    def _with_note(self, handle: Any, content: str) -> str:
        if self.note and handle is self._first and len(content) + len(self.note) <= 2000:
            return self.note + content
        return content

    async def edit(self, handle: Any, content: str) -> None:
        await handle.edit(content=self._with_note(handle, content), allowed_mentions=NO_PINGS)

    async def delete(self, handle: Any) -> None:
        await handle.delete()


class InteractionSink(NotedSink):
    """The interaction's response, then followups for the parts past 2,000 characters."""

    def __init__(self, interaction: nextcord.Interaction, *, ephemeral: bool = False,
                 note: str = "") -> None:
        super().__init__(note)
        self.interaction = interaction
        self.ephemeral = ephemeral

    async def send(self, content: str) -> Any:
        # `send` answers the interaction first and follows up after that; a deferred
        # interaction is finished by its first followup.
        handle = await self.interaction.send(
            (self.note if self._first is None else "") + content,
            allowed_mentions=NO_PINGS, ephemeral=self.ephemeral)
        if self._first is None:
            self._first = handle
        return handle
