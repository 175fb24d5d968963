"""The two places playback meets Discord: joining voice and saying things in a channel."""

from __future__ import annotations

import contextlib
from typing import Any

import nextcord
import structlog
import wavelink

from bot.api import UserError
from plugins.music.lavalink import Player

log = structlog.get_logger("plugins.music.discord")

# Discord rejects message content over 2,000 characters.
MAX_CONTENT = 2000


class DiscordVoice:
    def __init__(self, bot: Any) -> None:
        self.bot = bot

    def has_guild(self, guild_id: int) -> bool:
        return self.bot.get_guild(guild_id) is not None

    async def join(self, guild_id: int, channel_id: int, node: wavelink.Node) -> wavelink.Player:
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel(channel_id) if guild else None
        if not isinstance(channel, nextcord.VoiceChannel | nextcord.StageChannel):
            raise UserError("That voice channel no longer exists.")
        stale = guild.voice_client
        if stale is not None:
            # A player wavelink dropped (destroyed, or from before a node restart) still sits in
            # nextcord's registry and would make connect() refuse.
            with contextlib.suppress(Exception):
                await stale.disconnect(force=True)
            with contextlib.suppress(Exception):
                stale.cleanup()

        def make(client: Any, target: Any) -> Player:
            return Player(client, target, nodes=[node])

        return await channel.connect(cls=make, timeout=10.0, reconnect=True)

    def listeners(self, guild_id: int, channel_id: int) -> set[int]:
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel(channel_id) if guild else None
        members = getattr(channel, "members", []) or []
        return {m.id for m in members if not m.bot}


class ChannelNotifier:
    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def say(self, channel_id: int | None, text: str) -> None:
        channel = self.bot.get_channel(channel_id) if channel_id else None
        if channel is None:
            return
        try:
            # The bot's default allowed_mentions pings nobody; track titles cannot ping.
            await channel.send(text[:MAX_CONTENT])
        except nextcord.HTTPException as exc:
            log.warning("music.notify_failed", status=exc.status)
