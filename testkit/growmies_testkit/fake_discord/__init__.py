"""A fake Discord (HTTP API v10 + gateway v10) for testing real nextcord bots.

:class:`FakeDiscord` is an aiohttp server on ``127.0.0.1`` (random port) run inside the test's
event loop. The *unmodified* nextcord 3.2 bot talks to it over real sockets once
``nextcord.http.Route.BASE`` points at :attr:`FakeDiscord.api_base`::

    fake = FakeDiscord(token="fake-token")
    await fake.start()
    guild = fake.create_guild("Test Guild")
    alice = guild.add_member("alice", admin=True)

    nextcord.http.Route.BASE = fake.api_base
    bot = commands.Bot(intents=intents, default_guild_ids=[guild.id])
    task = asyncio.create_task(bot.start(fake.token))
    await fake.wait_until_connected()
    await fake.wait_for_command("ping", guild_id=guild.id)

    ix = await fake.slash(alice, "ping")
    assert (await ix.response())["type"] == 4
    assert "pong" in fake.text_of(ix.original)

    await bot.close()
    await fake.close()

Synchronisation: every ``wait_*`` is event-driven (no polling). ``await fake.settle()`` returns
once the bot has *parsed* every gateway event sent so far (a heartbeat-request round trip), e.g.
after synchronous world building such as ``guild.add_member(...)`` on a connected bot.

Users are not trusted: ``click``/``select``/``submit_modal`` send stale or forged input (unknown
custom ids, values outside the options, empty required fields) unless ``strict=True`` asks for
only what the Discord client can send. Slash options are always checked against the registered
command, as Discord does server-side.

What it does like Discord: login (``GET /users/@me``, 401 → ``LoginFailure``), gateway
HELLO/heartbeat ACK/IDENTIFY/READY/GUILD_CREATE/RESUME/op 7/op 8 chunks/op 4 voice, sharding by
``(guild_id >> 22) % shard_count``, intents (including MESSAGE_CONTENT redaction), command
CRUD, interactions (one response, 3 s window, 15 min tokens, deferred "thinking" messages
replaced by the first followup), message/embed/component/modal/autocomplete limits answered
with ``400 Invalid Form Body`` (code 50035) trees, permissions and role hierarchy (403 50013),
X-RateLimit headers, injected 429s and errors. Everything the bot sends is recorded.
"""

from __future__ import annotations

from .errors import DiscordAPIError, FormErrors
from .gateway import GatewaySession, Intents
from .http import RecordedRequest
from .interactions import CallbackType, FakeInteraction, InteractionType
from .messages import UploadedFile, text_of
from .permissions import (
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    Permission,
)
from .server import FakeDiscord
from .world import ChannelType, FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser

__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "CallbackType",
    "ChannelType",
    "DiscordAPIError",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "FormErrors",
    "GatewaySession",
    "Intents",
    "InteractionType",
    "Permission",
    "RecordedRequest",
    "UploadedFile",
    "text_of",
]
