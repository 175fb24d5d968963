"""Reading an uploaded attachment: its declared size is checked before any download."""

from __future__ import annotations

from collections.abc import Callable

import nextcord

from bot.api import UserError


async def read_checked(attachment: nextcord.Attachment, check_size: Callable[[int], None]) -> bytes:
    """The attachment's bytes; `check_size` raises UserError for a size it refuses."""
    check_size(int(attachment.size))  # Discord's declared size: nothing downloaded yet
    try:
        data = await attachment.read()
    except nextcord.HTTPException:
        raise UserError("I could not download that file from Discord; try again.") from None
    check_size(len(data))  # in case the declared size was wrong
    return data
