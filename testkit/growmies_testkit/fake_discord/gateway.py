"""The fake gateway: a v10 websocket speaking JSON text (or zlib-stream) frames.

One :class:`GatewaySession` exists per IDENTIFY (per shard); it survives a dropped connection
so the bot can RESUME and get the events it missed replayed, as on Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import WSMsgType, web

from ._util import Notifier, deep_copy, random_token

if TYPE_CHECKING:
    from .world import FakeGuild, FakeUser

__all__ = ["EVENT_INTENTS", "Gateway", "GatewaySession", "Intents"]

_log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41250
HISTORY_LIMIT = 5000


class Intents:
    """Gateway intent bits."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25

    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
    ALL = (1 << 26) - 1


#: Event -> (intent for guild events, intent for DM events). Events not listed always arrive.
EVENT_INTENTS: dict[str, tuple[int, int]] = {
    **{
        e: (Intents.GUILDS, Intents.GUILDS)
        for e in (
            "GUILD_CREATE",
            "GUILD_UPDATE",
            "GUILD_DELETE",
            "GUILD_ROLE_CREATE",
            "GUILD_ROLE_UPDATE",
            "GUILD_ROLE_DELETE",
            "CHANNEL_CREATE",
            "CHANNEL_UPDATE",
            "CHANNEL_DELETE",
            "CHANNEL_PINS_UPDATE",
            "THREAD_CREATE",
            "THREAD_UPDATE",
            "THREAD_DELETE",
            "THREAD_LIST_SYNC",
            "THREAD_MEMBER_UPDATE",
            "STAGE_INSTANCE_CREATE",
            "STAGE_INSTANCE_UPDATE",
            "STAGE_INSTANCE_DELETE",
        )
    },
    "THREAD_MEMBERS_UPDATE": (Intents.GUILD_MEMBERS, Intents.GUILD_MEMBERS),
    "GUILD_MEMBER_ADD": (Intents.GUILD_MEMBERS, Intents.GUILD_MEMBERS),
    "GUILD_MEMBER_UPDATE": (Intents.GUILD_MEMBERS, Intents.GUILD_MEMBERS),
    "GUILD_MEMBER_REMOVE": (Intents.GUILD_MEMBERS, Intents.GUILD_MEMBERS),
    "GUILD_BAN_ADD": (Intents.GUILD_MODERATION, Intents.GUILD_MODERATION),
    "GUILD_BAN_REMOVE": (Intents.GUILD_MODERATION, Intents.GUILD_MODERATION),
    "VOICE_STATE_UPDATE": (Intents.GUILD_VOICE_STATES, Intents.GUILD_VOICE_STATES),
    "PRESENCE_UPDATE": (Intents.GUILD_PRESENCES, Intents.GUILD_PRESENCES),
    "MESSAGE_CREATE": (Intents.GUILD_MESSAGES, Intents.DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (Intents.GUILD_MESSAGES, Intents.DIRECT_MESSAGES),
    "MESSAGE_DELETE": (Intents.GUILD_MESSAGES, Intents.DIRECT_MESSAGES),
    "MESSAGE_DELETE_BULK": (Intents.GUILD_MESSAGES, Intents.DIRECT_MESSAGES),
    "MESSAGE_REACTION_ADD": (Intents.GUILD_MESSAGE_REACTIONS, Intents.DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (
        Intents.GUILD_MESSAGE_REACTIONS,
        Intents.DIRECT_MESSAGE_REACTIONS,
    ),
    "MESSAGE_REACTION_REMOVE_ALL": (
        Intents.GUILD_MESSAGE_REACTIONS,
        Intents.DIRECT_MESSAGE_REACTIONS,
    ),
    "TYPING_START": (Intents.GUILD_MESSAGE_TYPING, Intents.DIRECT_MESSAGE_TYPING),
}


class GatewayHost(Protocol):
    """What the gateway needs from :class:`FakeDiscord`."""

    token: str
    application_id: int
    bot_user: FakeUser
    guilds: dict[int, FakeGuild]
    compress: bool
    allowed_intents: int
    _notifier: Notifier

    @property
    def gateway_url(self) -> str: ...

    def _bot_voice_state(self, session: GatewaySession, data: dict[str, Any]) -> None: ...


def _frame(op: int, d: Any, s: int | None = None, t: str | None = None) -> str:
    return json.dumps({"op": op, "d": d, "s": s, "t": t}, separators=(",", ":"))


class GatewayConnection:
    """One websocket. Frames go through a queue so their order is the order they were made."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        self.session: GatewaySession | None = None
        self._zlib = zlib.compressobj() if zlib_stream else None
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[None]] | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="fake-discord-gateway-writer")
        self._heartbeat_waiters: list[asyncio.Future[None]] = []
        self.closed = False

    def heartbeat_received(self) -> None:
        for fut in self._heartbeat_waiters:
            if not fut.done():
                fut.set_result(None)
        self._heartbeat_waiters.clear()

    async def barrier(self, timeout: float) -> None:
        """Round trip through the bot's gateway reader: send op 1 (Discord's "heartbeat now")
        and wait for the bot's heartbeat. nextcord handles frames in order, so when it answers
        it has parsed every dispatch sent before (its event *handlers* may still be running).
        """
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._heartbeat_waiters.append(fut)
        self.send(_frame(1, None))
        try:
            async with asyncio.timeout(timeout):
                await fut
        finally:
            if fut in self._heartbeat_waiters:
                self._heartbeat_waiters.remove(fut)

    def send(self, text: str) -> asyncio.Future[None]:
        """Queue a frame; the future resolves once it was written (or the socket died)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.closed:
            fut.set_result(None)
        else:
            self._queue.put_nowait((text, fut))
        return fut

    async def _write_loop(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                text, fut = item
                try:
                    if self._zlib is not None:
                        data = self._zlib.compress(text.encode()) + self._zlib.flush(
                            zlib.Z_SYNC_FLUSH
                        )
                        await self.ws.send_bytes(data)
                    else:
                        await self.ws.send_str(text)
                except Exception as exc:  # socket gone mid-write: drop, never hang a waiter
                    _log.debug("fake gateway: dropping frame, socket gone: %s", exc)
                    self.closed = True
                finally:
                    if not fut.done():
                        fut.set_result(None)
        finally:
            self.closed = True
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not None and not item[1].done():
                    item[1].set_result(None)

    async def close(self, code: int = 1000, message: str = "") -> None:
        """Flush pending frames, then close the websocket with ``code``."""
        if not self.closed:
            self._queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await self._writer
        self.closed = True
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=message.encode())

    async def stop(self) -> None:
        """The socket is gone: stop writing and fail pending barriers."""
        self.closed = True
        self._queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await self._writer
        for fut in self._heartbeat_waiters:
            if not fut.done():
                fut.set_exception(ConnectionError("the gateway connection closed"))
        self._heartbeat_waiters.clear()


@dataclass(eq=False)
class GatewaySession:
    """A gateway session (one IDENTIFY); resumable while it is in :attr:`Gateway.sessions`."""

    session_id: str
    shard_id: int | None
    shard_count: int
    intents: int
    identify: dict[str, Any]
    bot_user_id: int
    seq: int = 0
    history: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    connection: GatewayConnection | None = None
    resumes: int = 0
    guilds_sent: bool = False
    presence: dict[str, Any] | None = None

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.closed

    def owns(self, guild_id: int | None) -> bool:
        """Whether this session's shard receives events for ``guild_id``; events without a
        guild (DMs) go to shard 0, as on Discord."""
        if self.shard_id is None:
            return True
        if guild_id is None:
            return self.shard_id == 0
        return (int(guild_id) >> 22) % self.shard_count == self.shard_id

    def wants(self, event: str, data: dict[str, Any]) -> bool:
        """Intent filter, with Discord's exception for the bot's own member updates."""
        needed = EVENT_INTENTS.get(event)
        if needed is None:
            return True
        in_guild = isinstance(data, dict) and data.get("guild_id") is not None
        bit = needed[0] if in_guild or event.startswith(("GUILD_", "THREAD_")) else needed[1]
        if self.intents & bit:
            return True
        if event == "GUILD_MEMBER_UPDATE":
            return int(data.get("user", {}).get("id", 0)) == self.bot_user_id
        return False

    def _redact_content(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Without MESSAGE_CONTENT, guild messages the bot is not mentioned in arrive empty."""
        if (
            event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            or self.intents & Intents.MESSAGE_CONTENT
        ):
            return data
        if data.get("guild_id") is None:
            return data
        if int((data.get("author") or {}).get("id", 0)) == self.bot_user_id:
            return data
        if any(int(m["id"]) == self.bot_user_id for m in data.get("mentions") or []):
            return data
        redacted = dict(data)
        redacted.update(content="", embeds=[], attachments=[], components=[])
        redacted.pop("poll", None)
        return redacted

    def push(self, event: str, data: Any) -> asyncio.Future[None] | None:
        """Sequence and send (or, while disconnected, buffer for RESUME) a dispatch."""
        if isinstance(data, dict):
            data = self._redact_content(event, data)
        self.seq += 1
        text = _frame(0, data, self.seq, event)
        self.history.append((self.seq, text))
        if self.connection is not None and not self.connection.closed:
            return self.connection.send(text)
        return None


class Gateway:
    """Accepts websocket connections and routes dispatches to sessions by shard and intents."""

    def __init__(self, host: GatewayHost) -> None:
        self.host = host
        #: Resumable sessions by session id.
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[GatewayConnection] = set()
        #: Every payload the bot sent, as ``(shard_id, payload)``.
        self.received: list[tuple[int | None, dict[str, Any]]] = []
        self.identify_count = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # -- routing -------------------------------------------------------------------------------

    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.connected]

    def dispatch(
        self,
        event: str,
        data: Any,
        *,
        guild_id: int | None = None,
        respect_intents: bool = True,
        only: Callable[[GatewaySession], bool] | None = None,
    ) -> list[asyncio.Future[None]]:
        """Send a dispatch to every session owning ``guild_id`` (shard 0 when ``None``)."""
        futures = []
        for session in list(self.sessions.values()):
            if not session.owns(guild_id):
                continue
            if only is not None and not only(session):
                continue
            if respect_intents and isinstance(data, dict) and not session.wants(event, data):
                continue
            fut = session.push(event, deep_copy(data))
            if fut is not None:
                futures.append(fut)
        self.host._notifier.notify()
        return futures

    def guild_session(self, guild_id: int | None) -> GatewaySession | None:
        """The live session that owns ``guild_id``, if any."""
        return next((s for s in self.live_sessions() if s.owns(guild_id)), None)

    def fully_connected(self) -> bool:
        """Every shard identified (or resumed) and has been sent its GUILD_CREATEs."""
        live = [s for s in self.live_sessions() if s.guilds_sent]
        if any(s.shard_id is None for s in live):
            return True
        if not live:
            return False
        count = live[0].shard_count
        return {s.shard_id for s in live if s.shard_count == count} >= set(range(count))

    # -- websocket handler ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        zlib_stream = self.host.compress and request.query.get("compress") == "zlib-stream"
        conn = GatewayConnection(ws, zlib_stream=zlib_stream)
        self.connections.add(conn)
        conn.send(_frame(10, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": ["fake"]}))
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        await conn.close(4002, "Error while decoding payload.")
                    break
                try:
                    payload = json.loads(msg.data)
                    op = payload["op"]
                except (ValueError, KeyError, TypeError):
                    await conn.close(4002, "Error while decoding payload.")
                    break
                shard = conn.session.shard_id if conn.session else None
                self.received.append((shard, payload))
                if not await self._handle_op(conn, op, payload.get("d")):
                    break
        finally:
            await conn.stop()
            self.connections.discard(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                if ws.close_code in (1000, 1001):
                    # A clean close ends the session, as on Discord.
                    self.sessions.pop(session.session_id, None)
            self.host._notifier.notify()
        return ws

    async def _handle_op(self, conn: GatewayConnection, op: int, d: Any) -> bool:
        """Handle one client opcode; returns ``False`` once the connection was closed."""
        if op == 1:  # HEARTBEAT
            conn.send(_frame(11, None))
            conn.heartbeat_received()
            return True
        if op == 2:  # IDENTIFY
            return await self._identify(conn, d or {})
        if op == 6:  # RESUME
            return await self._resume(conn, d or {})
        if conn.session is None:
            await conn.close(4003, "Not authenticated.")
            return False
        if op == 3:  # PRESENCE_UPDATE
            conn.session.presence = d
        elif op == 4:  # VOICE_STATE_UPDATE
            self.host._bot_voice_state(conn.session, d or {})
        elif op == 8:  # REQUEST_GUILD_MEMBERS
            self._request_members(conn.session, d or {})
        else:
            await conn.close(4001, "Unknown opcode.")
            return False
        self.host._notifier.notify()
        return True

    async def _identify(self, conn: GatewayConnection, d: dict[str, Any]) -> bool:
        if conn.session is not None:
            await conn.close(4005, "Already authenticated.")
            return False
        if d.get("token") != self.host.token:
            await conn.close(4004, "Authentication failed.")
            return False
        intents = d.get("intents")
        if not isinstance(intents, int):
            await conn.close(4013, "Invalid intent(s).")
            return False
        if intents & ~self.host.allowed_intents:
            await conn.close(4014, "Disallowed intent(s).")
            return False
        shard = d.get("shard")
        shard_id: int | None = None
        shard_count = 1
        if shard is not None:
            try:
                shard_id, shard_count = int(shard[0]), int(shard[1])
            except (TypeError, ValueError, IndexError):
                shard_id, shard_count = -1, 0
            if shard_count < 1 or not 0 <= shard_id < shard_count:
                await conn.close(4010, "Invalid shard.")
                return False
        self.identify_count += 1
        session = GatewaySession(
            session_id=random_token(32),
            shard_id=shard_id,
            shard_count=shard_count,
            intents=intents,
            identify=d,
            bot_user_id=self.host.bot_user.id,
            connection=conn,
        )
        conn.session = session
        # One session per shard: a new IDENTIFY replaces the shard's old session.
        for old in [s for s in self.sessions.values() if s.shard_id == shard_id]:
            self.sessions.pop(old.session_id, None)
            if old.connection is not None and old.connection is not conn:
                await old.connection.close(4009, "Session timed out.")
        self.sessions[session.session_id] = session
        user = self.host.bot_user.payload()
        user.update(verified=True, mfa_enabled=False, email=None, flags=0)
        guilds = [g for g in self.host.guilds.values() if session.owns(g.id)]
        ready: dict[str, Any] = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.host.gateway_url,
            "application": {"id": str(self.host.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "user_settings": {},
            "_trace": ["fake-discord-gateway"],
        }
        if shard is not None:
            ready["shard"] = [shard_id, shard_count]
        futures = [session.push("READY", ready)]
        all_members = bool(intents & Intents.GUILD_MEMBERS)
        for guild in guilds:
            futures.append(
                session.push("GUILD_CREATE", guild.gateway_payload(all_members=all_members))
            )
        # Mark the shard ready once the bot has *parsed* its guilds (not just been sent them);
        # the barrier's reply comes through this very receive loop, hence a task.
        task = asyncio.create_task(self._finish_identify(conn, session, futures))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _finish_identify(
        self,
        conn: GatewayConnection,
        session: GatewaySession,
        futures: list[asyncio.Future[None] | None],
    ) -> None:
        try:
            await asyncio.gather(*(f for f in futures if f is not None))
            await conn.barrier(timeout=10)
        except TimeoutError:
            _log.warning("fake gateway: the bot did not answer a heartbeat request in 10 s")
        except ConnectionError:
            pass  # closed while identifying; a RESUME will continue the session
        finally:
            session.guilds_sent = True
            self.host._notifier.notify()

    async def _resume(self, conn: GatewayConnection, d: dict[str, Any]) -> bool:
        session = self.sessions.get(str(d.get("session_id")))
        seq = d.get("seq") or 0
        if (
            session is None
            or d.get("token") != self.host.token
            or (session.history and seq < session.history[0][0] - 1)
        ):
            conn.send(_frame(9, False))
            return True
        if session.connection is not None and session.connection is not conn:
            old = session.connection
            session.connection = None
            await old.close(4000, "Session resumed elsewhere.")
        session.connection = conn
        conn.session = session
        for s, text in list(session.history):
            if s > seq:
                conn.send(text)
        fut = session.push("RESUMED", {"_trace": ["fake-discord-gateway"]})
        if fut is not None:
            await fut
        session.resumes += 1
        self.host._notifier.notify()
        return True

    def _request_members(self, session: GatewaySession, d: dict[str, Any]) -> None:
        ids = d.get("guild_id")
        for gid in ids if isinstance(ids, list) else [ids]:
            guild = self.host.guilds.get(int(gid)) if gid is not None else None
            if guild is None or not session.owns(guild.id):
                continue
            members = list(guild.members.values())
            not_found: list[str] = []
            if d.get("user_ids"):
                wanted = [int(u) for u in d["user_ids"]]
                members = [m for m in members if m.id in wanted]
                found = {m.id for m in members}
                not_found = [str(u) for u in wanted if u not in found]
            elif d.get("query"):
                q = str(d["query"]).lower()
                members = [
                    m
                    for m in members
                    if m.user.username.lower().startswith(q) or (m.nick or "").lower().startswith(q)
                ]
            limit = int(d.get("limit") or 0)
            if limit:
                members = members[:limit]
            chunk: dict[str, Any] = {
                "guild_id": str(guild.id),
                "members": [m.payload() for m in members],
                "chunk_index": 0,
                "chunk_count": 1,
            }
            if not_found:
                chunk["not_found"] = not_found
            if d.get("presences"):
                chunk["presences"] = []
            if d.get("nonce") is not None:
                chunk["nonce"] = d["nonce"]
            session.push("GUILD_MEMBERS_CHUNK", chunk)

    # -- failure injection ---------------------------------------------------------------------

    def send_op(
        self, session: GatewaySession, op: int, d: Any = None
    ) -> asyncio.Future[None] | None:
        if session.connection is None:
            return None
        return session.connection.send(_frame(op, d))

    async def settle(self, timeout: float = 5) -> None:
        """Barrier on every live connection (see :meth:`GatewayConnection.barrier`)."""
        conns = [s.connection for s in self.live_sessions() if s.connection is not None]
        await asyncio.gather(*(c.barrier(timeout) for c in conns))

    async def close_all(self, code: int = 1001) -> None:
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self.connections):
            await conn.close(code, "Server shutting down.")
