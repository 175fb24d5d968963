"""The plugin's own handle on Lavalink: nodes from settings, connection with backoff, a
watchdog, and the nextcord adapter of wavelink's player.

wavelink keeps its nodes in a class-level `Pool`; nothing else in the plugin touches it. Players
are created with an explicit node list and searches name their node, so the Pool's registry is
never consulted, and teardown closes and ejects exactly the nodes this object made.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import nextcord
import structlog
import wavelink

from plugins.music.node_socket import NodeWebsocket
from plugins.music.tracks import TrackInfo

if TYPE_CHECKING:
    from plugins.music.env import LavalinkNodeSettings

log = structlog.get_logger("plugins.music.lavalink")

# No LAVALINK_NODES at all: not an outage, a set-up step the bot's owner skipped.
NOT_CONFIGURED = "Music is not set up on this bot: no Lavalink node is configured."


def to_playable(track: TrackInfo) -> wavelink.Playable:
    """A wavelink track from what we stored, without asking the node to decode it."""
    # Typed Any: Lavalink sends null for a missing uri, artworkUrl or isrc, where wavelink's
    # TypedDict says str.
    payload: Any = {
        "encoded": track.encoded,
        "info": {
            "identifier": track.encoded[:32], "isSeekable": track.can_seek,
            "author": track.author, "length": track.length_ms, "isStream": track.is_stream,
            "position": 0, "title": track.title, "uri": track.uri, "artworkUrl": None,
            "isrc": None, "sourceName": track.source,
        },
        "pluginInfo": {}, "userData": {},
    }
    return wavelink.Playable(payload)


def from_playable(track: wavelink.Playable) -> TrackInfo:
    return TrackInfo(
        encoded=track.encoded, title=track.title or "Unknown title", author=track.author or "",
        uri=track.uri, length_ms=int(track.length or 0), source=track.source or "",
        is_stream=bool(track.is_stream), seekable=bool(track.is_seekable),
    )


class Player(wavelink.Player, nextcord.VoiceProtocol):  # type: ignore[misc]  # wavelink types client/channel for discord.py
    """wavelink's player as a nextcord voice protocol; always joins self-deafened (the bot
    never listens, and Discord shows members it is not recording)."""

    async def connect(
        self, *, timeout: float = 10.0, reconnect: bool = True, self_deaf: bool = True,
        self_mute: bool = False,
    ) -> None:
        await super().connect(timeout=timeout, reconnect=reconnect, self_deaf=True,
                              self_mute=self_mute)

    async def on_voice_state_update(self, data: Any, /) -> None:
        lost = not data.get("channel_id")
        await super().on_voice_state_update(data)
        if lost and self.guild is not None:
            # Discord took the bot out of the channel (an admin's Disconnect, the channel
            # deleted); wavelink only forgets the player. Our own leaving forgets it in the
            # playback first, so the listener can tell the two apart.
            self.client.dispatch("music_voice_lost", self)


class Backoff:
    """Capped exponential backoff with jitter: 0.5 s, 1 s, 2 s ... at most `cap` seconds.

    wavelink's own backoff is random up to 30 s from the first retry, too slow for a node
    restart that takes a couple of seconds."""

    def __init__(self, base: float = 0.5, cap: float = 15.0) -> None:
        self.base, self.cap, self.tries = base, cap, 0

    def calculate(self) -> float:
        delay = min(self.cap, self.base * (2 ** self.tries))
        self.tries += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.tries = 0


class Node(wavelink.Node):
    """A wavelink node whose websocket uses our backoff (wavelink builds the websocket inside
    `_connect`, so this is the one place to hand it over)."""

    def __init__(self, *args: Any, backoff: Backoff, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backoff = backoff

    async def _connect(self, *, client: Any) -> None:
        client_ = self._client or client
        if not client_:
            raise wavelink.InvalidClientException(f"{self!r} has no client")
        self._client = client_
        self._has_closed = False
        websocket = NodeWebsocket(node=self)
        websocket.backoff = self.backoff  # type: ignore[assignment]  # wavelink types it as its own Backoff
        self._websocket = websocket
        await websocket.connect()


class LavalinkConnection:
    """Connects every configured node in the background; the bot starts without any."""

    def __init__(
        self,
        client: Any,
        nodes: Sequence[LavalinkNodeSettings],
        *,
        backoff: Callable[[], Backoff] = Backoff,
        watchdog_interval: float = 2.0,
    ) -> None:
        self.client = client
        self.settings = list(nodes)
        self._backoff = backoff
        self.watchdog_interval = watchdog_interval
        self.nodes: dict[str, Node] = {}  # by the id in LAVALINK_NODES
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """Whether LAVALINK_NODES names any node (none: music cannot work on this bot)."""
        return bool(self.settings)

    async def start(self) -> None:
        """Create the nodes and start connecting; returns at once."""
        if not self.configured:
            # Said once at start so the owner learns it from the log, not from members.
            log.warning("music.no_lavalink_nodes",
                        hint="set LAVALINK_NODES (README: running a Lavalink node); "
                             "until then /play answers that music is not set up")
        self._session = aiohttp.ClientSession()
        for cfg in self.settings:
            node = Node(
                uri=cfg.uri, password=cfg.password.get_secret_value(),
                # wavelink's Pool refuses a second node with the same identifier, and it is
                # process-wide: suffix ours so a fresh connection never collides with a stale one.
                identifier=f"{cfg.id}~{secrets.token_hex(3)}",
                session=self._session, retries=None, resume_timeout=cfg.resume_timeout,
                backoff=self._backoff(), client=self.client,
                # Idle handling is ours (guild settings), not wavelink's fixed 300 s.
                inactive_player_timeout=None, inactive_channel_tokens=None,
            )
            self.nodes[cfg.id] = node
            self._spawn(self._connect(node), f"lavalink-connect-{cfg.id}")
        self._spawn(self._watchdog(), "lavalink-watchdog")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, node: Node) -> None:
        # The client's user id is part of the websocket handshake: wait for the login.
        logged_in = getattr(self.client, "logged_in", None)
        if logged_in is not None:
            await logged_in.wait()
        while getattr(self.client, "user", None) is None:  # noqa: ASYNC110 - bare clients
            await asyncio.sleep(0.05)
        try:
            await wavelink.Pool.connect(nodes=[node], client=self.client)
        except Exception as exc:  # a bad password or a non-v4 server: log, never crash setup
            log.error("lavalink.connect_failed", node=node.identifier, error=type(exc).__name__)

    async def _watchdog(self) -> None:
        """Restart a node's websocket loop when it died without reconnecting.

        wavelink reconnects after an abrupt drop, but a clean close frame makes its reader
        raise and end for good (the node then still claims to be connected)."""
        while not self._closing:
            await asyncio.sleep(self.watchdog_interval)
            for node in self.nodes.values():
                ws = node._websocket
                if ws is None or node.status is wavelink.NodeStatus.CONNECTING:
                    continue
                task = ws.keep_alive_task
                if task is not None and task.done():
                    log.warning("lavalink.watchdog_reconnect", node=node.identifier)
                    ws.keep_alive_task = None
                    self._spawn(self._reconnect(node, ws), f"lavalink-reconnect-{node.identifier}")

    async def _reconnect(self, node: Node, ws: Any) -> None:
        """Reconnect a node whose reader died, resuming its session.

        The old socket is closed first: a node resumes a session only once its socket is gone
        (Lavalink, NodeLink), so a reconnect beside a still-open one gets a new session, the
        players are lost and the old socket leaks. When our reader died but the socket was
        open, the node itself is fine: skip wavelink's "disconnected" (which would move every
        player to another node) and resume; if the session is gone after all, `node_ready`
        (resumed false) replays the players where they were."""
        socket = ws.socket
        if socket is not None and not socket.closed:
            node._status = wavelink.NodeStatus.CONNECTING
            with contextlib.suppress(Exception):
                await socket.close()
        await ws.connect()

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for node in self.nodes.values():
            with contextlib.suppress(Exception):
                # Pool.close() neither ejects nodes nor closes sessions; this does both.
                await node.close(eject=True)
        if self._session is not None:
            await self._session.close()
        self.nodes.clear()

    # -- queries ----------------------------------------------------------------------------

    def connected(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.status is wavelink.NodeStatus.CONNECTED]

    def best_node(self, *, exclude: Any = None) -> Node | None:
        """The connected node serving the fewest players (other than `exclude`), or None."""
        nodes = [n for n in self.connected() if n is not exclude]
        if not nodes:
            return None
        return min(nodes, key=lambda n: len(n.players))

    def scrub(self, text: str) -> str:
        """`text` without any node's password (for logs of what a node answered)."""
        for cfg in self.settings:
            secret = cfg.password.get_secret_value()
            if secret:
                text = text.replace(secret, "****")
        return text

    def owns(self, node: Any) -> bool:
        return any(node is n for n in self.nodes.values())

    def name_of(self, node: Any) -> str:
        """The node's id as configured in LAVALINK_NODES."""
        return next((k for k, n in self.nodes.items() if n is node), str(node.identifier))
