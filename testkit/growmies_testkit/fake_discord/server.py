"""``FakeDiscord``: the fake Discord API (HTTP v10 + gateway v10) a real nextcord bot talks to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from ._util import Notifier, SnowflakeGenerator, random_token
from .actors import ActorsMixin, MessageRef
from .errors import DiscordAPIError
from .gateway import Gateway, GatewaySession, Intents
from .http import API_PREFIX, Injection, RecordedRequest, make_middleware
from .interactions import FakeInteraction, InteractionFactory
from .messages import MessageStore, UploadedFile, text_of
from .permissions import DEFAULT_BOT_PERMISSIONS, Permission
from .rest import CoreRoutes
from .rest_interactions import InteractionRoutes
from .world import ChannelType, FakeChannel, FakeGuild, FakeMember, FakeUser

__all__ = ["FakeDiscord"]


class FakeDiscord(ActorsMixin):
    """A fake Discord for tests: real sockets on ``127.0.0.1``, run in the test's event loop.

    Point an unmodified nextcord bot at it with ``nextcord.http.Route.BASE = fake.api_base``
    and ``await bot.start(fake.token)``. Build the world synchronously (``create_guild``,
    ``add_member``...), drive users (``slash``, ``click``, ``send_message``, ``voice_join``...)
    and assert on what the bot did (``requests``, ``channel_messages``, interaction responses).

    Everything Discord validates is validated (message/embed/component limits, one response per
    interaction within 3 s, permissions and role hierarchy) with Discord's error JSON, and every
    state change emits the gateway event Discord would emit.

    Close the bot before the fake: a fake that goes away first looks like an outage to nextcord,
    which then keeps reconnecting.
    """

    def __init__(
        self,
        token: str = "fake-token",
        shard_count: int = 1,
        *,
        application_id: int | None = None,
        bot_name: str = "Growmies Test Bot",
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        compress: bool = True,
        allowed_intents: int = Intents.ALL,
        interaction_ack_timeout: float = 3.0,
        enforce_command_permissions: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        """
        :param token: the bot token; REST needs ``Authorization: Bot <token>``, IDENTIFY the
            bare token.
        :param shard_count: what ``GET /gateway/bot`` recommends (``AutoShardedClient``).
        :param bot_permissions: permissions of the bot's managed role in new guilds.
        :param compress: honour ``compress=zlib-stream`` in the gateway URL (nextcord asks for
            it); ``False`` always sends plain JSON text frames.
        :param allowed_intents: intents enabled "in the developer portal"; identifying with
            others closes the gateway with 4014, like Discord.
        :param interaction_ack_timeout: seconds (from the interaction id's timestamp) within
            which the first callback must arrive; later ones get ``10062 Unknown interaction``.
        :param enforce_command_permissions: make :meth:`slash` refuse (``PermissionError``)
            commands whose ``default_member_permissions`` the member lacks, as the Discord
            client hides them. Off by default: guild admins can override command permissions
            per role or member (Server Settings → Integrations), so a bot must check anyway
            and tests need to reach that check.
        """
        self.token = token
        self.shard_count = max(1, int(shard_count))
        self.compress = compress
        self.allowed_intents = allowed_intents
        self.interaction_ack_timeout = interaction_ack_timeout
        self.enforce_command_permissions = enforce_command_permissions
        self.default_bot_permissions = int(bot_permissions)
        self.host = host
        self.port = 0
        self._ids = SnowflakeGenerator()
        self.application_id: int = application_id or self._ids.next()
        #: The bot's user (its id equals the application id, as for modern Discord apps).
        self.bot_user = FakeUser(id=self.application_id, username=bot_name, bot=True)
        self.application_owner = FakeUser(id=self._ids.next(), username="app-owner")
        self.guilds: dict[int, FakeGuild] = {}
        self._users: dict[int, FakeUser] = {
            self.bot_user.id: self.bot_user,
            self.application_owner.id: self.application_owner,
        }
        self._dm_channels: dict[int, FakeChannel] = {}
        self._notifier = Notifier()
        self._messages = MessageStore(self)
        self._gateway = Gateway(self)
        self._factory = InteractionFactory(self)
        self._commands: dict[int | None, dict[int, dict[str, Any]]] = {}
        #: Number of command create POSTs (creates and same-name overwrites).
        self.command_creates = 0
        #: Number of command PATCH/PUT/DELETE requests.
        self.command_writes = 0
        #: Every interaction sent to the bot, in order.
        self.interactions: list[FakeInteraction] = []
        self._interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self._modals: dict[tuple[int, str], tuple[dict[str, Any], FakeInteraction]] = {}
        self._requests: list[RecordedRequest] = []
        self._injections: list[Injection] = []
        #: Exceptions raised inside the fake's own handlers (answered with a 503). Should stay
        #: empty; a test fixture can assert that.
        self.internal_errors: list[Exception] = []
        #: Attachment ids whose bytes were downloaded from the CDN route, in order.
        self.attachment_downloads: list[int] = []
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> Self:
        """Start listening on a random port of ``host``."""
        if self._runner is not None:
            return self
        app = web.Application(middlewares=[make_middleware(self)], client_max_size=64 * 2**20)
        CoreRoutes(self).add_to(app)
        InteractionRoutes(self).add_to(app)
        app.router.add_get("/ws", self._gateway.handle)
        app.router.add_get(
            "/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_attachment
        )
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def close(self) -> None:
        """Close gateway connections and stop the server."""
        if self._runner is None:
            return
        await self._gateway.close_all(1001)
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def http_root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """Assign to ``nextcord.http.Route.BASE``: ``http://127.0.0.1:<port>/api/v10``."""
        return self.http_root + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def bot_user_id(self) -> int:
        return self.bot_user.id

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def _new_id(self) -> int:
        return self._ids.next()

    # -- world ---------------------------------------------------------------------------------

    def create_guild(
        self,
        name: str = "Test Guild",
        *,
        shard_id: int | None = None,
        owner_name: str = "owner",
        bot_permissions: int | None = None,
    ) -> FakeGuild:
        """A guild with @everyone, the bot (managed role), an owner, ``general`` (text) and
        ``General`` (voice). ``shard_id`` picks an id owned by that shard of
        :attr:`shard_count`. After the bot connected, emits ``GUILD_CREATE`` (a join)."""
        if shard_id is not None:
            gid = self._ids.next_for_shard(shard_id, self.shard_count)
        else:
            gid = self._ids.next()
        guild = FakeGuild(self, gid, name)
        perms = self.default_bot_permissions if bot_permissions is None else bot_permissions
        guild.bot_role = guild.add_role(
            self.bot_user.username, perms, managed=True, bot_id=self.bot_user.id
        )
        owner = guild.add_member(owner_name)
        guild.owner_id = owner.id
        guild.bot_member = guild.add_member(self.bot_user, roles=[guild.bot_role])
        guild.text_channel = guild.add_text_channel("general")
        guild.voice_channel = guild.add_voice_channel("General")
        self.guilds[gid] = guild
        guild.announced = True
        for session in list(self._gateway.sessions.values()):
            if session.owns(gid):
                data = guild.gateway_payload(
                    all_members=bool(session.intents & Intents.GUILD_MEMBERS)
                )
                data.pop("unavailable", None)
                session.push("GUILD_CREATE", data)
        self._notifier.notify()
        return guild

    def remove_guild(self, guild: FakeGuild) -> None:
        """The bot leaves/is removed from ``guild``: ``GUILD_DELETE``."""
        if self.guilds.pop(guild.id, None) is not None:
            self._emit("GUILD_DELETE", {"id": str(guild.id)}, guild.id)
            guild.announced = False

    def get_guild(self, guild_id: int) -> FakeGuild | None:
        return self.guilds.get(int(guild_id))

    def get_channel(self, channel_id: int) -> FakeChannel | None:
        cid = int(channel_id)
        for guild in self.guilds.values():
            if cid in guild.channels:
                return guild.channels[cid]
        return next((c for c in self._dm_channels.values() if c.id == cid), None)

    def get_user(self, user_id: int) -> FakeUser | None:
        uid = int(user_id)
        if uid in self._users:
            return self._users[uid]
        for guild in self.guilds.values():
            member = guild.members.get(uid)
            if member is not None:
                return member.user
        return None

    def create_user(self, username: str, *, bot: bool = False) -> FakeUser:
        """A user in no guild (for DMs, or to add to several guilds with ``add_member``)."""
        user = FakeUser(id=self._new_id(), username=username, bot=bot)
        self._users[user.id] = user
        return user

    def bot_member(self, guild: FakeGuild) -> FakeMember | None:
        return guild.members.get(self.bot_user.id)

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel between the bot and ``user`` (made on first use)."""
        channel = self._dm_channels.get(user.id)
        if channel is None:
            self._users.setdefault(user.id, user)
            channel = FakeChannel(
                id=self._new_id(),
                host=self,
                guild=None,
                name="",
                type=ChannelType.DM,
                recipients=[user],
            )
            self._dm_channels[user.id] = channel
        return channel

    def _world_event(self, event: str, data: dict[str, Any], guild_id: int | None) -> None:
        self._emit(event, data, guild_id)

    def _emit(
        self,
        event: str,
        data: Any,
        guild_id: int | None,
        *,
        respect_intents: bool = True,
    ) -> list[asyncio.Future[None]]:
        return self._gateway.dispatch(
            event, data, guild_id=guild_id, respect_intents=respect_intents
        )

    def _member_removed(self, guild: FakeGuild, member: FakeMember) -> None:
        if member.id in guild.voice_states:
            self._set_voice_state(guild, member, None)

    # -- gateway -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether every shard is identified and has received its guilds."""
        return self._gateway.fully_connected()

    async def wait_until_connected(self, timeout: float = 10) -> None:
        """Wait until the bot identified (all shards) and has parsed every ``GUILD_CREATE``
        (its guild cache is complete; slash commands it syncs afterwards may still be
        in flight: see :meth:`wait_for_command`)."""
        await self._notifier.wait_for(
            self._gateway.fully_connected, timeout, "the bot to connect to the gateway"
        )

    async def settle(self, timeout: float = 5) -> None:
        """Wait until the bot has *parsed* every gateway event sent so far (its cache is up
        to date; event handlers it spawned may still run).

        Implemented as a heartbeat request (op 1) round trip per connected shard. nextcord
        rate-limits its own gateway sends to 110 per minute, so do not call this in a tight
        loop."""
        await self._gateway.settle(timeout)

    @property
    def sessions(self) -> list[GatewaySession]:
        """Gateway sessions (one per identified shard), connected or waiting to resume."""
        return list(self._gateway.sessions.values())

    @property
    def gateway_received(self) -> list[tuple[int | None, dict[str, Any]]]:
        """Every gateway payload the bot sent, as ``(shard_id, payload)``."""
        return list(self._gateway.received)

    async def wait_for_gateway(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        since: int | None = None,
        timeout: float = 5,
    ) -> dict[str, Any]:
        """The first gateway payload from the bot (``{"op", "d"}``) matching ``predicate``,
        among those received after this call or from index ``since`` of
        :attr:`gateway_received` on."""
        start = len(self._gateway.received) if since is None else since

        def find() -> dict[str, Any] | None:
            return next((p for _, p in self._gateway.received[start:] if predicate(p)), None)

        return await self._notifier.wait_for(find, timeout, "a matching gateway payload")

    def _target_sessions(self, shard_id: int | None) -> list[GatewaySession]:
        sessions = [
            s for s in self._gateway.live_sessions() if shard_id is None or s.shard_id == shard_id
        ]
        if not sessions:
            raise RuntimeError("no connected gateway session to act on")
        return sessions

    async def _await_resumed(self, before: dict[str, int], timeout: float, what: str) -> None:
        def resumed() -> bool:
            for sid, count in before.items():
                session = self._gateway.sessions.get(sid)
                if session is None or session.resumes <= count or not session.connected:
                    return False
            return True

        await self._notifier.wait_for(resumed, timeout, what)

    async def reconnect_gateway(
        self, *, shard_id: int | None = None, wait: bool = True, timeout: float = 10
    ) -> None:
        """Send op 7 RECONNECT; nextcord reconnects and RESUMEs. With ``wait`` (default),
        returns once every affected session was resumed (``RESUMED`` sent)."""
        sessions = self._target_sessions(shard_id)
        before = {s.session_id: s.resumes for s in sessions}
        for session in sessions:
            fut = self._gateway.send_op(session, 7, None)
            if fut is not None:
                await fut
        if wait:
            await self._await_resumed(before, timeout, "the bot to resume after op 7")

    async def drop_gateway(
        self,
        code: int = 4000,
        *,
        shard_id: int | None = None,
        wait: bool = True,
        timeout: float = 10,
    ) -> None:
        """Close the gateway socket(s) with ``code`` (4000 "unknown error": nextcord resumes).
        With ``wait``, returns once resumed."""
        sessions = self._target_sessions(shard_id)
        before = {s.session_id: s.resumes for s in sessions}
        for session in sessions:
            if session.connection is not None:
                await session.connection.close(code, "fake-discord dropped the connection")
        if wait:
            await self._await_resumed(before, timeout, f"the bot to resume after close {code}")

    async def invalidate_session(
        self, *, resumable: bool = False, shard_id: int | None = None
    ) -> None:
        """Send op 9 INVALID_SESSION. Non-resumable: the session is forgotten and nextcord
        identifies again (after its 5 s ``before_identify_hook`` for non-initial identifies)."""
        for session in self._target_sessions(shard_id):
            if not resumable:
                self._gateway.sessions.pop(session.session_id, None)
            fut = self._gateway.send_op(session, 9, resumable)
            if fut is not None:
                await fut

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None = None
    ) -> None:
        """Send a raw dispatch to every shard owning the guild (``guild_id`` or
        ``data["guild_id"]``; shard 0 without one, like DMs). Intents are not applied.
        Returns once written to the socket(s); ``await settle()`` to know it was parsed."""
        gid = guild_id if guild_id is not None else data.get("guild_id")
        futures = self._emit(event, data, int(gid) if gid else None, respect_intents=False)
        await self._flush(futures)

    async def _flush(self, futures: Iterable[asyncio.Future[None]]) -> None:
        pending = [f for f in futures if not f.done()]
        if pending:
            async with asyncio.timeout(10):
                await asyncio.gather(*pending)

    # -- voice ---------------------------------------------------------------------------------

    @property
    def voice_states(self) -> dict[tuple[int, int], dict[str, Any]]:
        """Current voice states keyed ``(guild_id, user_id)`` (the bot's included)."""
        return {
            (guild.id, uid): state
            for guild in self.guilds.values()
            for uid, state in guild.voice_states.items()
        }

    def _set_voice_state(
        self,
        guild: FakeGuild,
        member: FakeMember,
        channel: FakeChannel | None,
        *,
        session_id: str | None = None,
        self_mute: bool | None = None,
        self_deaf: bool | None = None,
    ) -> list[asyncio.Future[None]]:
        old = guild.voice_states.get(member.id)
        state: dict[str, Any] = {
            "guild_id": str(guild.id),
            "channel_id": str(channel.id) if channel is not None else None,
            "user_id": str(member.id),
            "member": member.payload(),
            "session_id": session_id or (old or {}).get("session_id") or random_token(32),
            "deaf": member.deaf,
            "mute": member.mute,
            "self_deaf": bool(self_deaf if self_deaf is not None else (old or {}).get("self_deaf")),
            "self_mute": bool(self_mute if self_mute is not None else (old or {}).get("self_mute")),
            "self_stream": False,
            "self_video": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }
        if channel is None:
            guild.voice_states.pop(member.id, None)
        else:
            guild.voice_states[member.id] = state
        return self._emit("VOICE_STATE_UPDATE", state, guild.id)

    def _bot_voice_state(self, session: GatewaySession, data: dict[str, Any]) -> None:
        """op 4 from the bot: join/move/leave, answered with VOICE_STATE_UPDATE and, when
        joining or moving, VOICE_SERVER_UPDATE."""
        guild = self.get_guild(int(data.get("guild_id") or 0))
        me = self.bot_member(guild) if guild else None
        if guild is None or me is None:
            return
        raw = data.get("channel_id")
        if raw is None:
            if me.id in guild.voice_states:
                self._set_voice_state(guild, me, None)
            return
        channel = guild.channels.get(int(raw))
        if channel is None or not channel.is_voice:
            return
        if not me.permissions_in(channel) & Permission.CONNECT:
            return  # Discord ignores the request; nextcord's connect() then times out
        self._set_voice_state(
            guild,
            me,
            channel,
            session_id=session.session_id,
            self_mute=bool(data.get("self_mute")),
            self_deaf=bool(data.get("self_deaf")),
        )
        self._emit(
            "VOICE_SERVER_UPDATE",
            {
                "token": random_token(16),
                "guild_id": str(guild.id),
                "endpoint": "fake-voice.local:443",
            },
            guild.id,
        )

    # -- application commands ------------------------------------------------------------------

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Registered commands: global ones (``None``) or one guild's."""
        return list(self._commands.get(guild_id, {}).values())

    def all_commands(self) -> list[dict[str, Any]]:
        return [c for scope in self._commands.values() for c in scope.values()]

    async def wait_for_command(
        self, name: str, guild_id: int | None = None, timeout: float = 10
    ) -> dict[str, Any]:
        """Wait until a command called ``name`` is registered: in guild ``guild_id``, or in
        any scope (global or any guild) when ``guild_id`` is ``None``."""

        def find() -> dict[str, Any] | None:
            pool = self.all_commands() if guild_id is None else self.commands(guild_id)
            return next((c for c in pool if c["name"] == name), None)

        where = "any scope" if guild_id is None else f"guild {guild_id}"
        return await self._notifier.wait_for(find, timeout, f"command {name!r} in {where}")

    def _command_written(self, *, created: bool) -> None:
        if created:
            self.command_creates += 1
        else:
            self.command_writes += 1
        self._notifier.notify()

    def _find_command(self, name: str, guild: FakeGuild | None, ctype: int) -> dict[str, Any]:
        scopes: list[int | None] = [guild.id, None] if guild is not None else [None]
        for scope in scopes:
            for cmd in self._commands.get(scope, {}).values():
                if cmd["name"] == name and cmd.get("type", 1) == ctype:
                    return cmd
        known = sorted({c["name"] for s in scopes for c in self._commands.get(s, {}).values()})
        raise LookupError(
            f"no type-{ctype} command {name!r} registered for "
            f"{'guild ' + str(guild.id) if guild else 'DMs'} (registered: {known})"
        )

    # -- thread members ------------------------------------------------------------------------

    def add_thread_member(
        self, thread: FakeChannel, member: FakeMember
    ) -> list[asyncio.Future[None]]:
        """``member`` joins ``thread``; emits ``THREAD_MEMBERS_UPDATE`` (nothing if already in)."""
        if member.id in thread.thread_member_ids:
            return []
        thread.thread_member_ids.add(member.id)
        return self._emit(
            "THREAD_MEMBERS_UPDATE",
            {
                "id": str(thread.id),
                "guild_id": str(thread.guild_id),
                "member_count": len(thread.thread_member_ids),
                "added_members": [thread.thread_member_payload(member.id, with_member=True)],
            },
            thread.guild_id,
        )

    def remove_thread_member(self, thread: FakeChannel, user_id: int) -> list[asyncio.Future[None]]:
        """``user_id`` leaves ``thread``; emits ``THREAD_MEMBERS_UPDATE``."""
        if user_id not in thread.thread_member_ids:
            return []
        thread.thread_member_ids.discard(user_id)
        return self._emit(
            "THREAD_MEMBERS_UPDATE",
            {
                "id": str(thread.id),
                "guild_id": str(thread.guild_id),
                "member_count": len(thread.thread_member_ids),
                "removed_member_ids": [str(user_id)],
            },
            thread.guild_id,
        )

    # -- messages ------------------------------------------------------------------------------

    @staticmethod
    def text_of(message: dict[str, Any] | None) -> str:
        """Content + embed titles/descriptions/fields/footers (+ V2 text), newline-joined."""
        return text_of(message)

    def channel_messages(self, channel_id: int | FakeChannel) -> list[dict[str, Any]]:
        """Messages in a channel, oldest first, with edits and deletes applied (ephemeral
        messages are not in any channel)."""
        cid = channel_id.id if isinstance(channel_id, FakeChannel) else int(channel_id)
        return self._messages.channel_messages(cid)

    def get_message(self, message_id: int | str) -> dict[str, Any] | None:
        return self._messages.get(message_id)

    def attachment_bytes(self, message: MessageRef, index: int = 0) -> bytes:
        """The uploaded bytes of ``message``'s attachment number ``index``."""
        msg = self._resolve_message(message)
        att = msg["attachments"][index]
        data = self._messages.attachment_bytes(int(att["id"]))
        if data is None:
            raise LookupError(f"no bytes stored for attachment {att['id']}")
        return data

    async def wait_for_message(
        self,
        channel_id: int | FakeChannel,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        since: int | None = None,
        timeout: float = 5,
    ) -> dict[str, Any]:
        """Wait for a message in the channel matching ``predicate`` (current state, so edits
        count). Only messages from index ``since`` of :meth:`channel_messages` on are
        considered; by default only those arriving after this call."""
        cid = channel_id.id if isinstance(channel_id, FakeChannel) else int(channel_id)
        start_ids = {m["id"] for m in self.channel_messages(cid)}
        start = since

        def find() -> dict[str, Any] | None:
            msgs = self.channel_messages(cid)
            pool = (
                msgs[start:] if start is not None else [m for m in msgs if m["id"] not in start_ids]
            )
            return next((m for m in pool if predicate is None or predicate(m)), None)

        return await self._notifier.wait_for(find, timeout, f"a message in channel {cid}")

    def _message_created(self, msg: dict[str, Any]) -> None:
        if not self._messages.is_ephemeral(msg):
            self._emit("MESSAGE_CREATE", msg, int(msg["guild_id"]) if "guild_id" in msg else None)
        self._notifier.notify()

    def _message_updated(self, msg: dict[str, Any]) -> None:
        if not self._messages.is_ephemeral(msg):
            self._emit("MESSAGE_UPDATE", msg, int(msg["guild_id"]) if "guild_id" in msg else None)
        self._notifier.notify()

    def _delete_message(self, msg: dict[str, Any]) -> None:
        self._messages.delete(msg)
        if not self._messages.is_ephemeral(msg):
            data = {"id": msg["id"], "channel_id": msg["channel_id"]}
            gid = None
            if "guild_id" in msg:
                data["guild_id"] = msg["guild_id"]
                gid = int(msg["guild_id"])
            self._emit("MESSAGE_DELETE", data, gid)
        self._notifier.notify()

    def _interaction_message(
        self,
        ix: FakeInteraction,
        data: dict[str, Any],
        files: list[UploadedFile],
        *,
        ephemeral: bool,
        loading: bool = False,
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "id": str(ix.id),
            "type": ix.type,
            "user": ix.user.payload(),
            "authorizing_integration_owners": ix.payload.get("authorizing_integration_owners", {}),
        }
        if ix.type in (2, 4):
            metadata["name"] = ix.data.get("name")
        if ix.message_id is not None:
            metadata["interacted_message_id"] = str(ix.message_id)
        guild = ix.guild
        msg = self._messages.create(
            ix.channel,
            self.bot_user,
            data,
            files,
            member=self.bot_member(guild) if guild else None,
            webhook_id=self.application_id,
            ephemeral=ephemeral,
            loading=loading,
            message_type=20 if ix.type == 2 else 0,
            interaction_metadata=metadata,
        )
        if ix.type == 2:
            msg["interaction"] = {
                "id": str(ix.id),
                "type": ix.type,
                "name": ix.data.get("name"),
                "user": ix.user.payload(),
            }
        self._message_created(msg)
        return msg

    # -- REST recording and fault injection ----------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request so far (answered ones; unknown routes included, status 404)."""
        return list(self._requests)

    def _record_request(self, rec: RecordedRequest) -> None:
        self._requests.append(rec)
        self._notifier.notify()

    async def wait_for_request(
        self,
        predicate: Callable[[RecordedRequest], bool],
        *,
        since: int | None = None,
        timeout: float = 5,
    ) -> RecordedRequest:
        """The first request matching ``predicate`` among those answered after this call, or,
        with ``since=n``, from index ``n`` of :attr:`requests` on (so already-received ones
        count). Returns after the fake answered it (its effects are visible)."""
        start = len(self._requests) if since is None else since

        def find() -> RecordedRequest | None:
            return next((r for r in self._requests[start:] if predicate(r)), None)

        return await self._notifier.wait_for(find, timeout, "a matching REST request")

    def rate_limit_next(
        self,
        path_substring: str,
        retry_after: float = 0.2,
        *,
        method: str | None = None,
        is_global: bool = False,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` request(s) whose path contains ``path_substring`` with a
        429 (JSON ``retry_after``, ``Via`` header, X-RateLimit-* headers; global if asked)."""
        self._injections.append(
            Injection(
                path_substring=path_substring,
                method=method,
                status=429,
                body={
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": is_global,
                    "code": 0,
                },
                retry_after=retry_after,
                is_global=is_global,
                times=times,
            )
        )

    def fail_next(
        self,
        path_substring: str,
        status: int = 500,
        *,
        code: int = 0,
        message: str | None = None,
        errors: dict[str, Any] | None = None,
        method: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching request(s) with ``status`` and Discord's error
        JSON (e.g. ``fail_next("/roles/", 403, code=50013, message="Missing Permissions")``).
        nextcord retries 500/502/504 itself (1 s, 3 s... apart)."""
        body = DiscordAPIError(status, code, message or f"{status}: fake-discord injected").body()
        if errors:
            body["errors"] = errors
        self._injections.append(
            Injection(path_substring, method, status=status, body=body, times=times)
        )

    def _take_injection(self, method: str, path: str) -> Injection | None:
        for inj in self._injections:
            if inj.matches(method, path):
                inj.times -= 1
                if inj.times <= 0:
                    self._injections.remove(inj)
                return inj
        return None

    # -- misc ----------------------------------------------------------------------------------

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        self.attachment_downloads.append(int(request.match_info["attachment_id"]))
        data = self._messages.attachment_bytes(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    def __repr__(self) -> str:
        return (
            f"<FakeDiscord {self.api_base if self.port else '(not started)'} "
            f"guilds={len(self.guilds)} sessions={len(self._gateway.sessions)}>"
        )
