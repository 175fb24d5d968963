"""A fake Lavalink v4 node for tests.

:class:`FakeLavalink` is an aiohttp server on ``127.0.0.1`` that speaks enough of the Lavalink v4
REST and websocket protocol for the *unmodified* ``wavelink`` 3.5 client (or any other v4 client)
to connect, search, play and receive events::

    async with FakeLavalink() as lavalink:
        lavalink.add_track("Lofi Beats", author="Chill", length_ms=3_000)
        node = wavelink.Node(uri=lavalink.uri, password=lavalink.password)
        await wavelink.Pool.connect(nodes=[node], client=bot)
        tracks = await wavelink.Playable.search("lofi")      # "ytmsearch:lofi"
        ...
        await lavalink.wait_for_event(lambda e: e["type"] == "TrackEndEvent")

What it does, like a real node:

* Authenticates REST and websocket with ``Authorization: <password>`` (401 JSON error otherwise).
* ``GET /v4/websocket`` (headers ``User-Id``, ``Client-Name``, optional ``Session-Id``): the first
  message is op ``ready``; then op ``stats`` (on connect and every ``stats_interval`` s) and op
  ``playerUpdate`` (every ``player_update_interval`` s for each player of the session).
* Sessions resume: a client that reconnects with ``Session-Id`` within the session's resume
  ``timeout`` (set by ``PATCH /v4/sessions/{id}``) gets ``resumed: true``, its players kept playing
  meanwhile, and the events produced while it was away are delivered after ``ready``.
  Without resuming, a closed websocket destroys the session and its players.
* ``/version``, ``/v4/info``, ``/v4/stats``, ``/v4/loadtracks``, ``/v4/decodetrack``,
  ``POST /v4/decodetracks``, ``/v4/sessions/{id}`` and ``/v4/sessions/{id}/players[/{guild}]``.
* Playback is simulated with timers (no audio): a played track emits ``TrackStartEvent``; its
  position advances in real time multiplied by ``time_scale`` (and by the ``timescale`` filter's
  ``speed * rate``) while the player is not paused and has a voice connection; at the track's
  length (or ``endTime``) it emits ``TrackEndEvent`` with reason ``finished``. Replacing a track
  ends the old one with ``replaced``, ``track.encoded: null`` with ``stopped``, destroying the
  player with ``cleanup``. Streams never end.
* Error bodies always carry ``timestamp, status, error, message, path`` (wavelink needs them).
* Filters in a player PATCH are validated like Lavalink: an unknown filter name, or one not in
  ``filters`` (switched off in the node's application.yml; ``/v4/info`` lists the others), is a
  400 and changes nothing.
* Plugins: with :data:`LAVALYRICS_PLUGIN` in ``plugins`` the LavaLyrics endpoints
  (``GET /v4/sessions/{id}/players/{guild}/track/lyrics``, ``GET /v4/lyrics?track=``) answer
  from :meth:`FakeLavalink.add_lyrics` (204 when none, ``lyrics_delay`` seconds late if set);
  LavaSrc's ``spsearch:``/``amsearch:``/``dzsearch:`` and catalogue links of a ``spotify``,
  ``applemusic`` or ``deezer`` track load only when that source manager is listed, and tracks
  carry the ``pluginInfo`` given to :meth:`FakeLavalink.add_track`.

Scripting failures: :meth:`FakeLavalink.fail_next_load`, :meth:`FakeLavalink.fail_next_request`,
:meth:`FakeLavalink.fail_load`, :meth:`FakeLavalink.fail_track`,
:meth:`FakeLavalink.close_websockets`, :meth:`FakeLavalink.kill` / :meth:`FakeLavalink.restart`
and :meth:`FakeLavalink.voice_closed`.

Observation: every HTTP request (the websocket handshake included) is recorded in
:attr:`FakeLavalink.requests` before it is answered; every websocket message actually written is in
:attr:`FakeLavalink.sent_messages` (op ``event`` ones also in :attr:`FakeLavalink.sent_events`).
Tests should ``await`` :meth:`FakeLavalink.wait_for_request` / :meth:`FakeLavalink.wait_for_event`
instead of sleeping. Timestamps are ``time.monotonic()`` values (the clock asyncio uses).

Track ``encoded`` strings are base64 of a small JSON document, so any FakeLavalink instance can
decode a track another one (or a killed one) produced, as a real node decodes any valid track.

Servers that bend the protocol: ``FakeLavalink(version="3.7.0", flavour="nodelink")`` answers like
NodeLink 3.x (an independent Lavalink-v4-compatible server): ``/version`` and ``/v4/info`` carry
NodeLink's own version, ``/v4/info`` has ``isNodelink``, ``node`` and ``voice`` (no ``jvm`` or
``lavaplayer``, ``prerelease``/``build`` as lists) and responses carry ``Nodelink-Api-Version: 4``
and ``IamNodelink: true`` instead of Lavalink's ``Lavalink-Api-Version: 4``. The deviations clients
trip over are scripted, in either flavour: :meth:`FakeLavalink.send_unreadable` (a websocket
payload a v4 client cannot parse), ``add_track(..., length_ms=UNKNOWN_LENGTH)`` (length ``-1``:
seekable, never ends by itself), :meth:`FakeLavalink.odd_load` (load results a v4 client cannot
parse) and ``fail_next_request(..., plain=True)`` (a 500 with a text body, not Lavalink's JSON).
:attr:`FakeLavalink.open_websockets` counts the client websockets open right now.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import fnmatch
import http
import itertools
import json
import re
import secrets
import string
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

__all__ = [
    "AUDIO_EXTENSIONS",
    "JAVA_LONG_MAX",
    "LAVALYRICS_PLUGIN",
    "LAVASRC_PLUGIN",
    "LAVASRC_SOURCES",
    "SEARCH_PREFIXES",
    "UNKNOWN_LENGTH",
    "FakeLavalink",
    "FakePlayer",
    "Rec",
    "TrackFailureKind",
]

TrackFailureKind = Literal["exception", "stuck", "load_failed"]
#: Which server the fake answers as (see the module documentation).
Flavour = Literal["lavalink", "nodelink"]
#: Load results a v4 client cannot parse (:meth:`FakeLavalink.odd_load`).
OddLoadKind = Literal["missing_fields", "bare_error", "not_json"]
#: The ``length`` NodeLink reports for a track whose length it does not know.
UNKNOWN_LENGTH = -1
# A queue item that is written as this raw text frame instead of JSON.
_RAW = "__raw_frame__"

#: ``Long.MAX_VALUE``: the ``length`` Lavalink reports for streams.
JAVA_LONG_MAX = 9_223_372_036_854_775_807
#: URL suffixes the fake's ``http`` source treats as playable files.
AUDIO_EXTENSIONS = (".mp3", ".m4a", ".ogg", ".wav", ".aac", ".opus")
#: Search prefix -> source manager that must be enabled for it.
SEARCH_PREFIXES: dict[str, str] = {
    "ytsearch": "youtube",
    "ytmsearch": "youtube",
    "scsearch": "soundcloud",
    # LavaSrc's (Lavalink plugin) searches; each needs its source manager in /v4/info.
    "spsearch": "spotify",
    "amsearch": "applemusic",
    "dzsearch": "deezer",
}
#: Source managers LavaSrc adds; a link of one loads only when its source is enabled.
LAVASRC_SOURCES = ("spotify", "applemusic", "deezer")
#: ``/v4/info`` plugin entries of the plugins the fake can imitate.
LAVASRC_PLUGIN = {"name": "lavasrc-plugin", "version": "4.8.3"}
LAVALYRICS_PLUGIN = {"name": "lavalyrics-plugin", "version": "1.1.0"}
DEFAULT_SOURCE_MANAGERS = ("youtube", "soundcloud", "bandcamp", "twitch", "vimeo", "http", "local")
DEFAULT_FILTERS = (
    "volume",
    "equalizer",
    "karaoke",
    "timescale",
    "tremolo",
    "vibrato",
    "distortion",
    "rotation",
    "channelMix",
    "lowPass",
)
_ENCODED_MARK = "fake-lavalink"
_SERIAL = itertools.count(1)
_SESSION_ALPHABET = string.ascii_lowercase + string.digits
_ID_ALPHABET = string.ascii_letters + string.digits + "-_"
_SEMVER_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")
_EPOCH_MS = 1_735_689_600_000  # 2025-01-01, used as build and commit time


# --------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class Rec:
    """One HTTP request the fake received (recorded before it was answered)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    time: float


class _Log[T]:
    """An append-only list whose items can be awaited."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.items: list[T] = []
        self._waiters: list[tuple[Callable[[T], bool], asyncio.Future[T]]] = []

    def append(self, item: T) -> None:
        self.items.append(item)
        for pred, fut in list(self._waiters):
            if fut.done():
                continue
            try:
                matched = pred(item)
            except Exception as exc:
                fut.set_exception(exc)
                continue
            if matched:
                fut.set_result(item)

    async def wait(self, pred: Callable[[T], bool], timeout: float, since: int) -> T:
        for item in self.items[since:]:
            if pred(item):
                return item
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        entry = (pred, fut)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            recent = ", ".join(_short(item) for item in self.items[-5:]) or "none"
            msg = f"no {self.what} matched within {timeout} s (last ones: {recent})"
            raise TimeoutError(msg) from None
        finally:
            self._waiters.remove(entry)


def _short(item: Any) -> str:
    if isinstance(item, Rec):
        return f"{item.method} {item.path}"
    if isinstance(item, dict):
        return str(item.get("type") or item.get("op"))
    return repr(item)[:60]


# --------------------------------------------------------------------------------------------
# state


@dataclass(eq=False)
class _TrackFailure:
    key: str
    kind: TrackFailureKind
    after_ms: int
    message: str
    severity: str
    cause: str
    threshold_ms: int
    once: bool


@dataclass(eq=False)
class _LoadFailure:
    identifier: str
    severity: str
    message: str
    cause: str
    once: bool


@dataclass(eq=False)
class _ForcedFailure:
    pattern: str
    method: str | None
    status: int
    message: str
    remaining: int
    plain: bool = False


@dataclass(eq=False)
class FakePlayer:
    """The fake node's view of one guild's player.

    ``track`` is the full Lavalink track object (with the ``userData`` the client sent) or
    ``None``; :attr:`position_ms` is computed live. Treat instances as read-only: change them
    through the REST API (wavelink) or the :class:`FakeLavalink` helpers.
    """

    guild_id: int
    session_id: str
    track: dict[str, Any] | None = None
    paused: bool = False
    volume: int = 100
    filters: dict[str, Any] = field(default_factory=dict)
    voice: dict[str, Any] = field(default_factory=dict)
    end_time: int | None = None
    stuck: bool = False
    _node: FakeLavalink | None = field(default=None, repr=False)
    _base_position: int = field(default=0, repr=False)
    _base_time: float = field(default=0.0, repr=False)
    _failure: _TrackFailure | None = field(default=None, repr=False)
    _end_handle: asyncio.Handle | None = field(default=None, repr=False)
    _fail_handle: asyncio.Handle | None = field(default=None, repr=False)

    @property
    def connected(self) -> bool:
        """Whether the player has a voice connection (token, endpoint and session id)."""
        v = self.voice
        return bool(v.get("token") and v.get("endpoint") and v.get("sessionId"))

    @property
    def playing(self) -> bool:
        """A track is loaded and not paused (the ``playingPlayers`` stats definition)."""
        return self.track is not None and not self.paused

    @property
    def advancing(self) -> bool:
        """Whether the position currently moves forward."""
        node = self._node
        return (
            self.track is not None
            and not self.paused
            and not self.stuck
            and self.connected
            and node is not None
            and node.running
        )

    @property
    def rate(self) -> float:
        """Track milliseconds per real millisecond (``time_scale`` times the timescale filter)."""
        scale = self._node.time_scale if self._node is not None else 1.0
        timescale = self.filters.get("timescale") or {}
        speed = float(timescale.get("speed", 1.0) or 1.0)
        rate = float(timescale.get("rate", 1.0) or 1.0)
        return scale * speed * rate

    @property
    def end_position(self) -> int | None:
        """Where the current track ends (its length or ``endTime``), ``None`` for endless."""
        if self.track is None:
            return None
        info = self.track["info"]
        if info["isStream"] or int(info["length"]) < 0:  # a stream, or length unknown (-1)
            return self.end_time
        length = int(info["length"])
        return min(length, self.end_time) if self.end_time is not None else length

    @property
    def position_ms(self) -> int:
        """The current track position in milliseconds."""
        if self.track is None:
            return 0
        position = self._base_position
        if self.advancing:
            elapsed = time.monotonic() - self._base_time
            position += int(elapsed * 1000 * self.rate)
        end = self.end_position
        return min(position, end) if end is not None else position

    def _rebase(self) -> None:
        self._base_position = self.position_ms
        self._base_time = time.monotonic()

    def _cancel_timers(self) -> None:
        for handle in (self._end_handle, self._fail_handle):
            if handle is not None:
                handle.cancel()
        self._end_handle = self._fail_handle = None


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    session: _Session
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    unsent: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


@dataclass(eq=False)
class _Session:
    session_id: str
    user_id: str
    client_name: str
    resuming: bool = False
    timeout: int = 60
    connection: _Connection | None = None
    players: dict[int, FakePlayer] = field(default_factory=dict)
    backlog: list[dict[str, Any]] = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------------------------
# the node


class FakeLavalink:
    """A fake Lavalink v4 node (see the module documentation).

    Parameters
    ----------
    password:
        The ``Authorization`` header value clients must send.
    version:
        The semver reported by ``/version`` and ``/v4/info``. From ``4.2`` on, a voice update
        without ``channelId`` is rejected with 400, like the real node.
    player_update_interval:
        Seconds between op ``playerUpdate`` messages (Lavalink's default is 5).
        ``0`` disables them.
    time_scale:
        Track milliseconds that pass per real millisecond; ``> 1`` makes tracks finish sooner.
    stats_interval:
        Seconds between op ``stats`` messages (also sent right after ``ready``).
    source_managers:
        Reported by ``/v4/info``; a search prefix whose source is missing loads ``empty``.
    plugins:
        ``/v4/info`` plugins, as ``{"name": ..., "version": ...}`` dicts. With
        :data:`LAVALYRICS_PLUGIN` the LavaLyrics endpoints answer (see :meth:`add_lyrics`);
        without it they are 404, like a node without the plugin.
    filters:
        The filters ``/v4/info`` lists as enabled; a player PATCH using another known filter
        is refused with 400 like a node whose application.yml switched it off, and an unknown
        filter name is refused with 400 too.
    ping_ms:
        The voice ping reported for connected players.
    """

    def __init__(
        self,
        password: str = "youshallnotpass",
        version: str = "4.2.0",
        player_update_interval: float = 0.2,
        time_scale: float = 1.0,
        *,
        stats_interval: float = 5.0,
        source_managers: Iterable[str] = DEFAULT_SOURCE_MANAGERS,
        plugins: Iterable[Mapping[str, str]] = (),
        filters: Iterable[str] = DEFAULT_FILTERS,
        ping_ms: int = 20,
        host: str = "127.0.0.1",
        flavour: Flavour = "lavalink",
    ) -> None:
        if not _SEMVER_RE.match(version):
            raise ValueError(f"version must be a semver like '4.2.0', not {version!r}")
        self.password = password
        self.version = version
        self.player_update_interval = player_update_interval
        self.time_scale = time_scale
        self.stats_interval = stats_interval
        self.source_managers: list[str] = list(source_managers)
        self.plugins: list[dict[str, str]] = [dict(p) for p in plugins]
        self.filters: list[str] = list(filters)
        #: Lyrics by track title (see :meth:`add_lyrics`); seconds each lookup takes.
        self.lyrics: dict[str, dict[str, Any]] = {}
        self.lyrics_delay = 0.0
        self.ping_ms = ping_ms
        self.host = host
        #: ``length`` of tracks the ``http`` source makes up for audio-file URLs.
        self.http_length_ms = 600_000
        if flavour not in ("lavalink", "nodelink"):
            raise ValueError(f"flavour must be 'lavalink' or 'nodelink', not {flavour!r}")
        self.flavour: Flavour = flavour
        self._odd_loads: dict[str, OddLoadKind] = {}

        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._running = False
        self._started_at = time.monotonic()

        self._catalogue: list[dict[str, Any]] = []
        self._by_encoded: dict[str, dict[str, Any]] = {}
        self._playlists: dict[str, dict[str, Any]] = {}
        self._http_tracks: dict[str, dict[str, Any]] = {}
        self._id_counter = itertools.count(1)

        self._forced: list[_ForcedFailure] = []
        self._load_failures: list[_LoadFailure] = []
        self._track_failures: list[_TrackFailure] = []

        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()

        self._requests: _Log[Rec] = _Log("request")
        self._messages: _Log[dict[str, Any]] = _Log("websocket message")
        self._events: _Log[dict[str, Any]] = _Log("event")

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        """Start listening on ``host:port`` (``0`` picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("FakeLavalink is already running")
        app = web.Application(middlewares=[self._middleware])
        app.on_response_prepare.append(self._api_version_headers)
        r = app.router
        r.add_get("/version", self._handle_version)
        r.add_get("/v4/info", self._handle_info)
        r.add_get("/v4/stats", self._handle_stats)
        r.add_get("/v4/loadtracks", self._handle_loadtracks)
        r.add_get("/v4/decodetrack", self._handle_decodetrack)
        r.add_post("/v4/decodetracks", self._handle_decodetracks)
        r.add_get("/v4/websocket", self._handle_websocket)
        r.add_get("/v4/sessions/{sid}", self._handle_get_session)
        r.add_patch("/v4/sessions/{sid}", self._handle_patch_session)
        r.add_get("/v4/sessions/{sid}/players", self._handle_get_players)
        r.add_get("/v4/sessions/{sid}/players/{guild}", self._handle_get_player)
        r.add_patch("/v4/sessions/{sid}/players/{guild}", self._handle_patch_player)
        r.add_delete("/v4/sessions/{sid}/players/{guild}", self._handle_delete_player)
        r.add_get("/v4/sessions/{sid}/players/{guild}/track/lyrics", self._handle_player_lyrics)
        r.add_get("/v4/lyrics", self._handle_lyrics)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._running = True
        self._started_at = time.monotonic()

    async def kill(self) -> None:
        """Die like a crashed process.

        Websockets are dropped without a close handshake (clients see an abnormal closure) and
        the port stops listening. Players freeze; whether they survive is decided by
        :meth:`restart` (``keep_state``).
        """
        if not self._running:
            return
        for player in self._all_players():
            player._rebase()
        self._running = False
        for session in self._sessions.values():
            for player in session.players.values():
                player._cancel_timers()
            if session.expiry is not None:
                session.expiry.cancel()
                session.expiry = None
        await self._drop_connections(None)
        for session in self._sessions.values():
            session.connection = None
        await self._stop_server()

    async def restart(self, *, keep_state: bool = False) -> None:
        """Listen again on the same port (after :meth:`kill`, or kill first if still running).

        With ``keep_state=False`` (a fresh process) all sessions and players are gone and clients
        get a new session. With ``keep_state=True`` sessions that had resuming enabled wait for
        their client to resume (their players continue from where they froze); the others are
        destroyed. The catalogue, scripted failures and the request log survive either way.
        """
        if self._port is None:
            raise RuntimeError("FakeLavalink was never started")
        if self._running:
            await self.kill()
        port = self._port
        await self.start(port)
        if not keep_state:
            self._sessions.clear()
            return
        loop = asyncio.get_running_loop()
        for session in list(self._sessions.values()):
            if not (session.resuming and session.timeout > 0):
                self._destroy_session(session)
                continue
            session.expiry = loop.call_later(session.timeout, self._expire_session, session)
            for player in session.players.values():
                player._base_time = time.monotonic()
                self._schedule(player)

    async def close(self, code: int | None = None) -> None:
        """Stop the node and forget all sessions.

        ``code=None`` drops websockets without a close frame (like :meth:`kill`); an int sends a
        close frame with that code first. Note: wavelink 3.5.2 mishandles a close *frame* (its
        receive loop crashes on it and never reconnects), so the default is the abrupt drop.
        """
        if self._running:
            for player in self._all_players():
                player._rebase()
        self._running = False
        for session in self._sessions.values():
            for player in session.players.values():
                player._cancel_timers()
            if session.expiry is not None:
                session.expiry.cancel()
        await self._drop_connections(code)
        self._sessions.clear()
        await self._stop_server()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close_websockets(self, code: int = 1006) -> None:
        """Drop every client websocket while the node keeps running.

        ``1006`` (abnormal closure) aborts the TCP connection without a close frame; any other code
        is sent in a close frame. Sessions with resuming enabled keep playing and can be resumed
        within their timeout; the others are destroyed.
        """
        await self._drop_connections(None if code == 1006 else code)

    async def _drop_connections(self, code: int | None) -> None:
        conns = list(self._connections)
        for conn in conns:
            if code is None:
                conn.abort()
            else:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(code=code), 2.0)
        # let the handlers notice (they run their clean-up in ``finally``)
        if conns:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(c.closed.wait() for c in conns)), 2.0)

    async def _stop_server(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def running(self) -> bool:
        """Whether the node is up (started and neither killed nor closed)."""
        return self._running

    @property
    def port(self) -> int:
        """The TCP port (known after :meth:`start`; kept across :meth:`kill`)."""
        if self._port is None:
            raise RuntimeError("FakeLavalink is not started")
        return self._port

    @property
    def uri(self) -> str:
        """``http://127.0.0.1:<port>``, what ``wavelink.Node(uri=...)`` expects."""
        return f"http://{self.host}:{self.port}"

    # -- catalogue ------------------------------------------------------------------------------

    def add_track(
        self,
        title: str,
        author: str = "Unknown artist",
        length_ms: int = 180_000,
        identifier: str | None = None,
        uri: str | None = None,
        is_stream: bool = False,
        source: str = "youtube",
        isrc: str | None = None,
        artwork_url: str | None = None,
        *,
        plugin_info: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a track to the catalogue and return (a copy of) its Lavalink track object.

        ``identifier`` defaults to an 11-character YouTube-like id and ``uri`` to a URL of the
        source built from it. Streams report ``length`` ``Long.MAX_VALUE``, are not seekable and
        never end.
        """
        if identifier is None:
            identifier = self._make_identifier()
        if uri is None:
            uri = _default_uri(source, identifier, author, title)
        if artwork_url is None and source == "youtube":
            artwork_url = f"https://i.ytimg.com/vi/{identifier}/mqdefault.jpg"
        info = {
            "identifier": identifier,
            "isSeekable": not is_stream,
            "author": author,
            "length": JAVA_LONG_MAX if is_stream else int(length_ms),
            "isStream": is_stream,
            "position": 0,
            "title": title,
            "uri": uri,
            "artworkUrl": artwork_url,
            "isrc": isrc,
            "sourceName": source,
        }
        track = self._register(info, plugin_info)
        self._catalogue.append(track)
        return copy.deepcopy(track)

    def add_playlist(
        self,
        name: str,
        tracks: Iterable[Mapping[str, Any]],
        url: str | None = None,
        *,
        selected_track: int = -1,
        plugin_info: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Register a playlist that ``loadtracks`` answers (``loadType: "playlist"``) for ``url``.

        ``tracks`` are track objects (usually from :meth:`add_track`). ``url`` defaults to a
        made-up YouTube playlist URL. Returns a copy of the playlist ``data`` (``info``,
        ``pluginInfo``, ``tracks``) plus a ``"url"`` key holding the URL.
        """
        if url is None:
            url = f"https://www.youtube.com/playlist?list=PLfake{next(self._id_counter):06d}"
        data = {
            "info": {"name": name, "selectedTrack": selected_track},
            "pluginInfo": dict(plugin_info or {}),
            "tracks": [copy.deepcopy(dict(t)) for t in tracks],
        }
        for track in data["tracks"]:
            self._by_encoded.setdefault(track["encoded"], copy.deepcopy(track))
        self._playlists[url] = data
        result = copy.deepcopy(data)
        result["url"] = url
        return result

    @property
    def catalogue(self) -> list[dict[str, Any]]:
        """Copies of the catalogue's track objects, in insertion order."""
        return copy.deepcopy(self._catalogue)

    def _make_identifier(self) -> str:
        n = next(self._id_counter)
        rnd = "".join(secrets.choice(_ID_ALPHABET) for _ in range(5))
        return f"fk{n:04d}{rnd}"[:11]

    def _register(
        self, info: dict[str, Any], plugin_info: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        doc = {_ENCODED_MARK: next(_SERIAL), "info": info}
        raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        track = {
            "encoded": base64.b64encode(raw).decode("ascii"),
            "info": dict(info),
            "pluginInfo": dict(plugin_info or {}),
            "userData": {},
        }
        self._by_encoded[track["encoded"]] = track
        return track

    def decode(self, encoded: str) -> dict[str, Any] | None:
        """Decode an ``encoded`` track string (from any FakeLavalink) or return ``None``."""
        known = self._by_encoded.get(encoded)
        if known is not None:
            return copy.deepcopy(known)
        try:
            doc = json.loads(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(doc, dict) or _ENCODED_MARK not in doc:
            return None
        info = doc.get("info")
        if not isinstance(info, dict):
            return None
        return {"encoded": encoded, "info": dict(info), "pluginInfo": {}, "userData": {}}

    # -- scripted failures ------------------------------------------------------------------------

    def fail_next_request(
        self,
        path: str,
        status: int = 500,
        *,
        method: str | None = None,
        message: str | None = None,
        times: int = 1,
        plain: bool = False,
    ) -> None:
        """Answer the next ``times`` requests whose path matches ``path`` (an ``fnmatch``
        pattern, e.g. ``"/v4/sessions/*/players/*"``) with an HTTP error and a Lavalink error
        body (``plain``: a ``text/plain`` body instead, as some servers and proxies send).
        Works for ``/v4/websocket`` too (the handshake fails).
        """
        text = message or f"Fake failure ({status})"
        self._forced.append(
            _ForcedFailure(path, method and method.upper(), status, text, times, plain)
        )

    def fail_next_load(
        self, status: int = 500, *, message: str | None = None, times: int = 1
    ) -> None:
        """The next ``/v4/loadtracks`` answers HTTP ``status`` with a Lavalink error body."""
        self.fail_next_request("/v4/loadtracks", status, message=message, times=times)

    def fail_load(
        self,
        identifier: str,
        severity: str = "common",
        message: str = "This video is unavailable",
        *,
        cause: str | None = None,
        once: bool = False,
    ) -> None:
        """Make loading ``identifier`` answer ``loadType: "error"``.

        ``identifier`` matches the full identifier (``"ytsearch:foo"``, a URL) or the query after
        a search prefix (``"foo"``). Playing it by ``track.identifier`` fails with 400 too.
        """
        cause = cause or f"com.sedmelluq.discord.lavaplayer.tools.FriendlyException: {message}"
        self._load_failures.append(_LoadFailure(identifier, severity, message, cause, once))

    def fail_track(
        self,
        encoded_or_identifier: str,
        kind: TrackFailureKind = "exception",
        after_ms: int = 0,
        *,
        message: str = "Something broke when playing the track.",
        severity: str = "common",
        cause: str | None = None,
        threshold_ms: int = 10_000,
        once: bool = True,
    ) -> None:
        """Make the track fail when played, once its position reaches ``after_ms``.

        * ``"exception"``: ``TrackExceptionEvent`` then ``TrackEndEvent`` reason ``loadFailed``.
        * ``"load_failed"``: only ``TrackEndEvent`` reason ``loadFailed``.
        * ``"stuck"``: ``TrackStuckEvent`` (``thresholdMs``); the track stays current with its
          position frozen (no end event) until the client skips, replaces or stops it.

        With ``once`` the failure is used up by the first play of the track.
        """
        if kind not in ("exception", "stuck", "load_failed"):
            raise ValueError(f"unknown failure kind {kind!r}")
        cause = cause or f"java.lang.RuntimeException: {message}"
        self._track_failures.append(
            _TrackFailure(
                encoded_or_identifier,
                kind,
                after_ms,
                message,
                severity,
                cause,
                threshold_ms,
                once,
            )
        )

    def reset_failures(self) -> None:
        """Forget every scripted failure that has not fired yet."""
        self._forced.clear()
        self._load_failures.clear()
        self._track_failures.clear()
        self._odd_loads.clear()
        for player in self._all_players():
            player._failure = None

    def voice_closed(
        self,
        guild_id: int,
        code: int = 4014,
        reason: str = "Disconnected.",
        *,
        by_remote: bool = True,
    ) -> None:
        """Simulate Discord closing the player's voice websocket.

        Clears the player's voice connection (its position stops advancing) and sends
        ``WebSocketClosedEvent``. wavelink destroys a player on code 4014 by remote unless it
        reconnects within a second.
        """
        player = self._find_player(guild_id)
        player._rebase()
        player.voice = {}
        self._schedule(player)
        self._emit_event(
            player, "WebSocketClosedEvent", code=code, reason=reason, byRemote=by_remote
        )

    def emit_event(self, guild_id: int, type: str, **fields: Any) -> None:
        """Send an arbitrary op ``event`` (e.g. a plugin's) for a guild's player."""
        self._emit_event(self._find_player(guild_id), type, **fields)

    def send_unreadable(self, kind: Literal["not_json", "bad_event"] = "not_json") -> int:
        """Write a websocket payload a Lavalink v4 client cannot parse to every open websocket
        (NodeLink 3.7 sends such payloads); returns how many sockets got it.

        * ``"not_json"``: a text frame that is not JSON at all.
        * ``"bad_event"``: a ``TrackStartEvent`` whose track lacks ``info.sourceName``,
          ``info.isSeekable`` and ``pluginInfo`` (fields wavelink reads without a default).
        """
        if kind == "not_json":
            frame = "NodeLink: event stream restarted <voice>"
        elif kind == "bad_event":
            info = {"identifier": "odd", "title": "Odd", "author": "", "length": UNKNOWN_LENGTH,
                    "isStream": False, "position": 0}
            frame = json.dumps({"op": "event", "type": "TrackStartEvent", "guildId": "0",
                                "track": {"encoded": "odd", "info": info}})
        else:
            raise ValueError(f"unknown unreadable kind {kind!r}")
        conns = [c for c in self._connections if c.session.connection is c]
        for conn in conns:
            conn.queue.put_nowait({_RAW: frame})
        return len(conns)

    def odd_load(self, identifier: str, kind: OddLoadKind = "missing_fields") -> None:
        """Make loading ``identifier`` (the full identifier or the query after a search prefix)
        answer something a v4 client cannot parse, until :meth:`reset_failures`:

        * ``"missing_fields"``: ``loadType: "search"`` whose tracks lack ``info.sourceName``,
          ``info.isSeekable`` and ``pluginInfo``.
        * ``"bare_error"``: ``loadType: "error"`` with only a ``message`` (no severity, cause).
        * ``"not_json"``: HTTP 200 with an HTML body.
        """
        if kind not in ("missing_fields", "bare_error", "not_json"):
            raise ValueError(f"unknown odd load kind {kind!r}")
        self._odd_loads[identifier] = kind

    def _odd_load_response(self, identifier: str) -> web.Response | None:
        prefix, sep, query = identifier.partition(":")
        kind = self._odd_loads.get(identifier)
        if kind is None and sep and prefix in SEARCH_PREFIXES:
            kind = self._odd_loads.get(query)
        if kind is None:
            return None
        if kind == "not_json":
            return web.Response(text="<html><body>502 Bad Gateway</body></html>",
                                content_type="text/html")
        if kind == "bare_error":
            body: dict[str, Any] = {"loadType": "error",
                                    "data": {"message": "Something went wrong (odd)"}}
            return web.json_response(body)
        info = {"identifier": "odd0000001", "title": "Odd " + query, "author": "Odd",
                "length": 1000, "isStream": False, "position": 0, "uri": None}
        return web.json_response({"loadType": "search",
                                  "data": [{"encoded": "b2Rk", "info": info}]})

    def _find_player(self, guild_id: int) -> FakePlayer:
        player = self.players.get(int(guild_id))
        if player is None:
            raise KeyError(f"no player for guild {guild_id}")
        return player

    # -- observation ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[Rec]:
        """Every HTTP request received, oldest first (the live list)."""
        return self._requests.items

    @property
    def sent_messages(self) -> list[dict[str, Any]]:
        """Every websocket message written to a client (all ops), oldest first."""
        return self._messages.items

    @property
    def open_websockets(self) -> int:
        """Client websockets open at this moment (a client that leaks sockets makes it grow)."""
        return len(self._connections)

    @property
    def sent_events(self) -> list[dict[str, Any]]:
        """The op ``event`` messages written to clients, oldest first."""
        return self._events.items

    async def wait_for_request(
        self,
        pred: Callable[[Rec], bool] = lambda _r: True,
        timeout: float = 5.0,
        since: int = 0,
    ) -> Rec:
        """Return the first request from index ``since`` on matching ``pred`` (waiting for it)."""
        return await self._requests.wait(pred, timeout, since)

    async def wait_for_event(
        self,
        pred: Callable[[dict[str, Any]], bool] = lambda _e: True,
        timeout: float = 5.0,
        since: int = 0,
    ) -> dict[str, Any]:
        """Return the first sent op ``event`` from index ``since`` on matching ``pred``."""
        return await self._events.wait(pred, timeout, since)

    async def wait_for_message(
        self,
        pred: Callable[[dict[str, Any]], bool] = lambda _m: True,
        timeout: float = 5.0,
        since: int = 0,
    ) -> dict[str, Any]:
        """Return the first websocket message (any op) from index ``since`` matching ``pred``."""
        return await self._messages.wait(pred, timeout, since)

    @property
    def players(self) -> dict[int, FakePlayer]:
        """All players of all sessions by guild id (later sessions win a clash)."""
        return {p.guild_id: p for p in self._all_players()}

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        """A snapshot of the sessions: resuming, timeout, connected, user id, players..."""
        return {
            sid: {
                "resuming": s.resuming,
                "timeout": s.timeout,
                "connected": s.connection is not None,
                "user_id": s.user_id,
                "client_name": s.client_name,
                "players": sorted(s.players),
                "backlog": len(s.backlog),
            }
            for sid, s in self._sessions.items()
        }

    def _all_players(self) -> list[FakePlayer]:
        return [p for s in self._sessions.values() for p in s.players.values()]

    # -- payloads -------------------------------------------------------------------------------

    def _version_payload(self) -> dict[str, Any]:
        m = _SEMVER_RE.match(self.version)
        assert m is not None
        return {
            "semver": self.version,
            "major": int(m[1]),
            "minor": int(m[2]),
            "patch": int(m[3]),
            "preRelease": m[4],
            "build": m[5],
        }

    def _requires_channel_id(self) -> bool:
        v = self._version_payload()
        return (v["major"], v["minor"]) >= (4, 2)

    def _info_payload(self) -> dict[str, Any]:
        if self.flavour == "nodelink":
            return self._nodelink_info_payload()
        return {
            "version": self._version_payload(),
            "buildTime": _EPOCH_MS,
            "git": {"branch": "main", "commit": "fa4e1a7ca1ba51fa4e1a", "commitTime": _EPOCH_MS},
            "jvm": "21.0.5",
            "lavaplayer": "2.2.3",
            "sourceManagers": list(self.source_managers),
            "filters": list(self.filters),
            "plugins": [dict(p) for p in self.plugins],
        }

    def _nodelink_info_payload(self) -> dict[str, Any]:
        # NodeLink 3.x's /v4/info: its own version, a Node.js runtime and voice library instead
        # of jvm/lavaplayer, an isNodelink flag, and prerelease/build as lists.
        v = self._version_payload()
        return {
            "version": {
                "semver": self.version,
                "major": v["major"],
                "minor": v["minor"],
                "patch": v["patch"],
                "prerelease": [v["preRelease"]] if v["preRelease"] else [],
                "build": [v["build"]] if v["build"] else [],
            },
            "buildTime": _EPOCH_MS,
            "git": {"branch": "main", "commit": "fa4e1a7ca1ba51fa4e1a", "commitTime": _EPOCH_MS},
            "node": "v22.11.0",
            "voice": {"name": "@performanc/voice", "version": "github:PerformanC/voice"},
            "isNodelink": True,
            "sourceManagers": list(self.source_managers),
            "filters": list(DEFAULT_FILTERS),
            "plugins": [
                {"name": p["name"], "version": p.get("version", "0.0.0"), "author": None,
                 "path": None}
                for p in self.plugins
            ],
        }

    def _stats_payload(self) -> dict[str, Any]:
        players = self._all_players()
        return {
            "players": len(players),
            "playingPlayers": sum(1 for p in players if p.playing),
            "uptime": int((time.monotonic() - self._started_at) * 1000),
            "memory": {
                "free": 300_000_000,
                "used": 200_000_000,
                "allocated": 500_000_000,
                "reservable": 2_000_000_000,
            },
            "cpu": {"cores": 4, "systemLoad": 0.05, "lavalinkLoad": 0.01},
            "frameStats": None,
        }

    def _track_payload(self, track: Mapping[str, Any], position: int = 0) -> dict[str, Any]:
        data = copy.deepcopy(dict(track))
        data["info"]["position"] = position
        return data

    def _player_payload(self, player: FakePlayer) -> dict[str, Any]:
        track = None
        if player.track is not None:
            track = self._track_payload(player.track, player.position_ms)
        return {
            "guildId": str(player.guild_id),
            "track": track,
            "volume": player.volume,
            "paused": player.paused,
            "state": self._player_state(player),
            "voice": dict(player.voice),
            "filters": copy.deepcopy(player.filters),
        }

    def _player_state(self, player: FakePlayer) -> dict[str, Any]:
        connected = player.connected
        return {
            "time": int(time.time() * 1000),
            "position": player.position_ms,
            "connected": connected,
            "ping": self.ping_ms if connected else -1,
        }

    # -- websocket sending ----------------------------------------------------------------------

    def _send(self, session: _Session, message: dict[str, Any]) -> None:
        conn = session.connection
        if conn is not None:
            conn.queue.put_nowait(message)
        elif (
            session.resuming
            and message.get("op") == "event"
            and session.session_id in self._sessions
        ):
            session.backlog.append(message)

    def _emit_event(self, player: FakePlayer, type_: str, **fields: Any) -> None:
        session = self._sessions.get(player.session_id)
        if session is None:
            return
        message = {"op": "event", "type": type_, "guildId": str(player.guild_id), **fields}
        self._send(session, message)

    async def _writer(self, conn: _Connection) -> None:
        while True:
            message = await conn.queue.get()
            try:
                if _RAW in message:
                    await conn.ws.send_str(message[_RAW])
                else:
                    await conn.ws.send_json(message)
            except Exception:
                conn.unsent.append(message)
                return
            self._messages.append(message)
            if message.get("op") == "event":
                self._events.append(message)

    async def _player_update_loop(self, conn: _Connection) -> None:
        interval = self.player_update_interval
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            session = conn.session
            if session.connection is not conn:
                return
            for player in list(session.players.values()):
                message = {
                    "op": "playerUpdate",
                    "guildId": str(player.guild_id),
                    "state": self._player_state(player),
                }
                conn.queue.put_nowait(message)

    async def _stats_loop(self, conn: _Connection) -> None:
        interval = self.stats_interval
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            if conn.session.connection is not conn:
                return
            conn.queue.put_nowait({"op": "stats", **self._stats_payload()})

    # -- sessions -------------------------------------------------------------------------------

    def _new_session_id(self) -> str:
        while True:
            sid = "".join(secrets.choice(_SESSION_ALPHABET) for _ in range(16))
            if sid not in self._sessions:
                return sid

    def _open_session(
        self, wanted: str | None, user_id: str, client_name: str
    ) -> tuple[_Session, bool]:
        if wanted:
            session = self._sessions.get(wanted)
            if session is not None and session.connection is None and session.resuming:
                if session.expiry is not None:
                    session.expiry.cancel()
                    session.expiry = None
                return session, True
        session = _Session(self._new_session_id(), user_id, client_name)
        self._sessions[session.session_id] = session
        return session, False

    def _connection_lost(self, conn: _Connection) -> None:
        session = conn.session
        if session.connection is not conn:
            return
        session.connection = None
        if not self._running:
            return  # the process "died": kill()/close() decide
        leftovers = conn.unsent + _drain(conn.queue)
        if session.resuming and session.timeout > 0:
            events = [m for m in leftovers if m.get("op") == "event"]
            session.backlog[:0] = events
            loop = asyncio.get_running_loop()
            session.expiry = loop.call_later(session.timeout, self._expire_session, session)
        else:
            self._destroy_session(session)

    def _expire_session(self, session: _Session) -> None:
        session.expiry = None
        if session.connection is None:
            self._destroy_session(session)

    def _destroy_session(self, session: _Session) -> None:
        for player in session.players.values():
            player._cancel_timers()
        session.players.clear()
        session.backlog.clear()
        if session.expiry is not None:
            session.expiry.cancel()
            session.expiry = None
        self._sessions.pop(session.session_id, None)

    # -- playback -------------------------------------------------------------------------------

    def _schedule(self, player: FakePlayer) -> None:
        """(Re)arm the player's end and failure timers from its current state."""
        player._cancel_timers()
        if not self._running or player.track is None:
            return
        loop = asyncio.get_running_loop()
        position = player.position_ms
        rate = player.rate or 1.0
        failure = player._failure
        if failure is not None:
            if failure.after_ms <= position:
                player._fail_handle = loop.call_soon(self._fire_failure, player)
            elif player.advancing:
                delay = (failure.after_ms - position) / rate / 1000
                player._fail_handle = loop.call_later(delay, self._fire_failure, player)
        end = player.end_position
        if end is not None and player.advancing:
            delay = max(0.0, (end - position) / rate / 1000)
            player._end_handle = loop.call_later(delay, self._finish_track, player)

    def _clear_track(self, player: FakePlayer) -> None:
        player.track = None
        player.end_time = None
        player.stuck = False
        player._failure = None
        player._base_position = 0
        player._base_time = time.monotonic()
        player._cancel_timers()

    def _finish_track(self, player: FakePlayer) -> None:
        track = player.track
        if track is None:
            return
        end = player.end_position or 0
        self._clear_track(player)
        payload = self._track_payload(track, end)
        self._emit_event(player, "TrackEndEvent", track=payload, reason="finished")

    def _fire_failure(self, player: FakePlayer) -> None:
        player._fail_handle = None
        failure, track = player._failure, player.track
        if failure is None or track is None:
            return
        player._failure = None
        payload = self._track_payload(track, player.position_ms)
        if failure.kind == "stuck":
            player._rebase()
            player.stuck = True
            self._schedule(player)
            self._emit_event(
                player, "TrackStuckEvent", track=payload, thresholdMs=failure.threshold_ms
            )
            return
        self._clear_track(player)
        if failure.kind == "exception":
            exception = {
                "message": failure.message,
                "severity": failure.severity,
                "cause": failure.cause,
                "causeStackTrace": f"{failure.cause}\n\tat fake.lavalink.Player.play(Fake.java)",
            }
            self._emit_event(player, "TrackExceptionEvent", track=payload, exception=exception)
        self._emit_event(player, "TrackEndEvent", track=payload, reason="loadFailed")

    def _take_track_failure(self, track: Mapping[str, Any]) -> _TrackFailure | None:
        keys = {track["encoded"], track["info"]["identifier"]}
        for failure in self._track_failures:
            if failure.key in keys:
                if failure.once:
                    self._track_failures.remove(failure)
                return failure
        return None

    def _start_track(
        self,
        player: FakePlayer,
        track: dict[str, Any],
        position: int,
        end_time: int | None,
    ) -> None:
        old = player.track
        if old is not None:
            old_payload = self._track_payload(old, player.position_ms)
            self._clear_track(player)
            self._emit_event(player, "TrackEndEvent", track=old_payload, reason="replaced")
        player.track = track
        player.end_time = end_time
        player.stuck = False
        player._base_position = position if track["info"]["isSeekable"] else 0
        player._base_time = time.monotonic()
        player._failure = self._take_track_failure(track)
        self._emit_event(player, "TrackStartEvent", track=self._track_payload(track, position))

    def _stop_track(self, player: FakePlayer, reason: str) -> None:
        old = player.track
        if old is None:
            return
        payload = self._track_payload(old, player.position_ms)
        self._clear_track(player)
        self._emit_event(player, "TrackEndEvent", track=payload, reason=reason)

    # -- track loading --------------------------------------------------------------------------

    def _load(self, identifier: str) -> dict[str, Any]:
        prefix, sep, query = identifier.partition(":")
        is_search = bool(sep) and prefix in SEARCH_PREFIXES
        for failure in self._load_failures:
            if failure.identifier == identifier or (is_search and failure.identifier == query):
                if failure.once:
                    self._load_failures.remove(failure)
                data = {
                    "message": failure.message,
                    "severity": failure.severity,
                    "cause": failure.cause,
                    "causeStackTrace": f"{failure.cause}\n\tat fake.lavalink.Loader(Fake.java)",
                }
                return {"loadType": "error", "data": data}
        if is_search:
            needle = query.strip().casefold()
            if not needle or SEARCH_PREFIXES[prefix] not in self.source_managers:
                return {"loadType": "empty", "data": {}}
            found = [
                copy.deepcopy(t)
                for t in self._catalogue
                if needle in t["info"]["title"].casefold()
                or needle in t["info"]["author"].casefold()
            ]
            if not found:
                return {"loadType": "empty", "data": {}}
            return {"loadType": "search", "data": found}
        if identifier in self._playlists:
            return {"loadType": "playlist", "data": copy.deepcopy(self._playlists[identifier])}
        for track in self._catalogue:
            info = track["info"]
            if identifier in (info["identifier"], info["uri"]):
                source = info["sourceName"]
                if source in LAVASRC_SOURCES and source not in self.source_managers:
                    break  # a Spotify/Apple Music/Deezer link without LavaSrc's source
                return {"loadType": "track", "data": copy.deepcopy(track)}
        track = self._http_track(identifier)
        if track is not None:
            return {"loadType": "track", "data": copy.deepcopy(track)}
        return {"loadType": "empty", "data": {}}

    def _http_track(self, url: str) -> dict[str, Any] | None:
        if url in self._http_tracks:
            return self._http_tracks[url]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        if not parts.path.lower().endswith(AUDIO_EXTENSIONS) or "http" not in self.source_managers:
            return None
        info = {
            "identifier": url,
            "isSeekable": True,
            "author": "Unknown artist",
            "length": int(self.http_length_ms),
            "isStream": False,
            "position": 0,
            "title": "Unknown title",
            "uri": url,
            "artworkUrl": None,
            "isrc": None,
            "sourceName": "http",
        }
        track = self._register(info)
        self._http_tracks[url] = track
        return track

    # -- HTTP plumbing --------------------------------------------------------------------------

    def _error_response(self, request: web.Request, status: int, message: str) -> web.Response:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        body: dict[str, Any] = {
            "timestamp": int(time.time() * 1000),
            "status": status,
            "error": reason,
            "message": message,
            "path": request.path,
        }
        if request.query.get("trace", "").lower() == "true":
            body["trace"] = f"fake.lavalink.HttpError: {message}\n\tat fake.lavalink(Fake.java)"
        return web.json_response(body, status=status)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            with contextlib.suppress(ValueError):
                body = json.loads(raw) if raw else None
        self._requests.append(
            Rec(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                json=body,
                headers=dict(request.headers),
                time=time.monotonic(),
            )
        )
        if request.headers.get("Authorization") != self.password:
            return self._error_response(request, 401, "Unauthorized")
        for forced in self._forced:
            if forced.method not in (None, request.method):
                continue
            if fnmatch.fnmatchcase(request.path, forced.pattern):
                forced.remaining -= 1
                if forced.remaining <= 0:
                    self._forced.remove(forced)
                if forced.plain:
                    return web.Response(status=forced.status, text=forced.message)
                return self._error_response(request, forced.status, forced.message)
        try:
            response: web.StreamResponse = await handler(request)
        except _HTTPError as exc:
            return self._error_response(request, exc.status, exc.message)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return self._error_response(request, exc.status, exc.reason)
        return response

    async def _api_version_headers(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        # Lavalink v4 names its REST API version on every response; NodeLink uses its own names.
        if self.flavour == "nodelink":
            response.headers["Nodelink-Api-Version"] = "4"
            response.headers["IamNodelink"] = "true"
        else:
            response.headers["Lavalink-Api-Version"] = "4"

    def _session(self, request: web.Request) -> _Session:
        session = self._sessions.get(request.match_info["sid"])
        if session is None:
            raise _HTTPError(404, "Session not found")
        return session

    @staticmethod
    def _guild_id(request: web.Request) -> int:
        raw = request.match_info["guild"]
        if not raw.isdigit():
            raise _HTTPError(400, f"Invalid guild id: {raw}")
        return int(raw)

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _HTTPError(400, "Invalid JSON body") from None
        if not isinstance(body, dict):
            raise _HTTPError(400, "The request body must be a JSON object")
        return body

    # -- REST handlers --------------------------------------------------------------------------

    async def _handle_version(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=self.version, content_type="text/plain")

    async def _handle_info(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._info_payload())

    async def _handle_stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._stats_payload())

    async def _handle_loadtracks(self, request: web.Request) -> web.StreamResponse:
        identifier = request.query.get("identifier")
        if identifier is None:
            raise _HTTPError(400, "Missing identifier query parameter")
        odd = self._odd_load_response(identifier)
        if odd is not None:
            return odd
        return web.json_response(self._load(identifier))

    async def _handle_decodetrack(self, request: web.Request) -> web.StreamResponse:
        encoded = request.query.get("encodedTrack")
        if not encoded:
            raise _HTTPError(400, "Missing encodedTrack query parameter")
        track = self.decode(encoded)
        if track is None:
            raise _HTTPError(400, "Failed to decode track")
        return web.json_response(track)

    async def _handle_decodetracks(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            raise _HTTPError(400, "Invalid JSON body") from None
        if not isinstance(body, list):
            raise _HTTPError(400, "Expected a JSON array of encoded tracks")
        tracks = []
        for encoded in body:
            track = self.decode(encoded) if isinstance(encoded, str) else None
            if track is None:
                raise _HTTPError(400, "Failed to decode track")
            tracks.append(track)
        return web.json_response(tracks)

    async def _handle_get_session(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        return web.json_response({"resuming": session.resuming, "timeout": session.timeout})

    async def _handle_patch_session(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        body = await self._json_body(request)
        if "resuming" in body:
            session.resuming = bool(body["resuming"])
        if "timeout" in body:
            timeout = body["timeout"]
            if not isinstance(timeout, int) or timeout < 0:
                raise _HTTPError(400, "timeout must be a positive integer")
            session.timeout = timeout
        return web.json_response({"resuming": session.resuming, "timeout": session.timeout})

    async def _handle_get_players(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        return web.json_response([self._player_payload(p) for p in session.players.values()])

    async def _handle_get_player(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        player = session.players.get(self._guild_id(request))
        if player is None:
            raise _HTTPError(404, "Player not found")
        return web.json_response(self._player_payload(player))

    async def _handle_delete_player(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        player = session.players.get(self._guild_id(request))
        if player is not None:
            player._rebase()
            self._stop_track(player, "cleanup")
            player._cancel_timers()
            session.players.pop(player.guild_id, None)
        return web.Response(status=204)

    async def _handle_patch_player(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        guild_id = self._guild_id(request)
        body = await self._json_body(request)
        no_replace = request.query.get("noReplace", "false").lower() == "true"

        # validate everything before changing anything
        track_req: dict[str, Any] | None = None
        if isinstance(body.get("track"), dict):
            track_req = body["track"]
        elif "encodedTrack" in body or "identifier" in body:  # deprecated v4 top-level fields
            track_req = {k: body[k] for k in ("encodedTrack", "identifier") if k in body}
            if "encodedTrack" in track_req:
                track_req["encoded"] = track_req.pop("encodedTrack")
        elif body.get("track") is not None:
            raise _HTTPError(400, "track must be an object")
        new_track: dict[str, Any] | None = None
        changes_track = track_req is not None and (
            "encoded" in track_req or "identifier" in track_req
        )
        if track_req is not None:
            if "encoded" in track_req and "identifier" in track_req:
                raise _HTTPError(400, "Only one of track.encoded and track.identifier may be set")
            user_data = track_req.get("userData")
            if user_data is not None and not isinstance(user_data, dict):
                raise _HTTPError(400, "track.userData must be an object")
            if track_req.get("encoded") is not None:
                new_track = self.decode(str(track_req["encoded"]))
                if new_track is None:
                    raise _HTTPError(400, "Failed to decode track")
            elif "identifier" in track_req:
                new_track = self._track_for_identifier(str(track_req["identifier"]))
            if new_track is not None:
                new_track["userData"] = dict(user_data or {})
        voice = body.get("voice")
        if "voice" in body:
            voice = self._validate_voice(voice)
        volume = body.get("volume")
        if "volume" in body and (
            not isinstance(volume, int) or isinstance(volume, bool) or not 0 <= volume <= 1000
        ):
            raise _HTTPError(400, "volume must be an integer between 0 and 1000")
        position = body.get("position")
        if position is not None and (not isinstance(position, int) or position < 0):
            raise _HTTPError(400, "position must be a non-negative integer")
        end_time = body.get("endTime")
        if end_time is not None and (not isinstance(end_time, int) or end_time <= 0):
            raise _HTTPError(400, "endTime must be a positive integer or null")
        filters = body.get("filters")
        if "filters" in body and filters is not None and not isinstance(filters, dict):
            raise _HTTPError(400, "filters must be an object")
        if isinstance(filters, dict):
            self._validate_filters(filters)

        player = session.players.get(guild_id)
        if player is None:
            player = FakePlayer(guild_id=guild_id, session_id=session.session_id, _node=self)
            player._base_time = time.monotonic()
            session.players[guild_id] = player
        player._rebase()
        if isinstance(voice, dict):
            player.voice = voice
        if "filters" in body:
            player.filters = copy.deepcopy(filters or {})
        if "volume" in body:
            player.volume = int(volume)
        if "paused" in body:
            player.paused = bool(body["paused"])

        if changes_track and not (no_replace and player.track is not None):
            if new_track is None:
                self._stop_track(player, "stopped")
            else:
                self._start_track(player, new_track, position or 0, end_time)
        elif not changes_track:
            if track_req is not None and "userData" in track_req and player.track is not None:
                player.track["userData"] = dict(track_req.get("userData") or {})
            if player.track is not None:
                if position is not None and player.track["info"]["isSeekable"]:
                    player._base_position = position
                    player.stuck = False
                if "endTime" in body:
                    player.end_time = end_time
        self._schedule(player)
        return web.json_response(self._player_payload(player))

    def _validate_filters(self, filters: dict[str, Any]) -> None:
        known = {*DEFAULT_FILTERS, "pluginFilters"}
        unknown = sorted(set(filters) - known)
        if unknown:
            raise _HTTPError(400, f"Unknown filter: {', '.join(unknown)}")
        disabled = sorted(
            k for k, v in filters.items()
            if v not in (None, {}, []) and k != "pluginFilters" and k not in self.filters
        )
        if disabled:
            raise _HTTPError(
                400, f"Following filters are disabled in the config: {', '.join(disabled)}"
            )
        for band in filters.get("equalizer") or []:
            if not isinstance(band, dict) or not 0 <= int(band.get("band", -1)) <= 14:
                raise _HTTPError(400, "equalizer bands go from 0 to 14")

    # -- LavaLyrics -----------------------------------------------------------------------------

    def add_lyrics(
        self,
        title: str,
        lines: Iterable[tuple[int, str]] | None = None,
        *,
        text: str | None = None,
        source: str = "youtube",
        provider: str = "YouTube Music",
    ) -> None:
        """Lyrics LavaLyrics finds for tracks titled ``title``: timed ``lines``
        (``(timestamp_ms, line)``) or plain ``text``. Tracks without lyrics answer 204."""
        self.lyrics[title] = {
            "sourceName": source,
            "provider": provider,
            "text": text,
            "lines": [
                {"timestamp": ts, "duration": None, "line": line, "plugin": {}}
                for ts, line in (lines or [])
            ],
            "plugin": {},
        }

    def _has_plugin(self, name: str) -> bool:
        return any(p.get("name") == name for p in self.plugins)

    async def _lyrics_response(self, track: Mapping[str, Any]) -> web.StreamResponse:
        if self.lyrics_delay > 0:
            await asyncio.sleep(self.lyrics_delay)
        found = self.lyrics.get(str(track["info"]["title"]))
        if found is None:
            return web.Response(status=204)
        return web.json_response(copy.deepcopy(found))

    async def _handle_player_lyrics(self, request: web.Request) -> web.StreamResponse:
        if not self._has_plugin(LAVALYRICS_PLUGIN["name"]):
            raise _HTTPError(404, "Not Found")
        session = self._session(request)
        player = session.players.get(self._guild_id(request))
        if player is None:
            raise _HTTPError(404, "Player not found")
        if player.track is None:
            raise _HTTPError(404, "No track playing")
        return await self._lyrics_response(player.track)

    async def _handle_lyrics(self, request: web.Request) -> web.StreamResponse:
        if not self._has_plugin(LAVALYRICS_PLUGIN["name"]):
            raise _HTTPError(404, "Not Found")
        encoded = request.query.get("track") or request.query.get("encodedTrack")
        track = self.decode(encoded) if encoded else None
        if track is None:
            raise _HTTPError(400, "Failed to decode track")
        return await self._lyrics_response(track)

    def _track_for_identifier(self, identifier: str) -> dict[str, Any]:
        result = self._load(identifier)
        kind = result["loadType"]
        if kind == "track":
            return result["data"]
        if kind == "error":
            raise _HTTPError(400, f"Failed to load track: {result['data']['message']}")
        if kind in ("search", "playlist"):
            raise _HTTPError(400, f"The identifier resolved to a {kind}, not a track")
        raise _HTTPError(400, "No matches found for identifier")

    def _validate_voice(self, voice: Any) -> dict[str, Any]:
        if not isinstance(voice, dict):
            raise _HTTPError(400, "voice must be an object")
        for key in ("token", "endpoint", "sessionId"):
            if not isinstance(voice.get(key), str) or not voice[key]:
                raise _HTTPError(400, f"voice.{key} is required")
        channel_id = voice.get("channelId")
        if self._requires_channel_id() and not channel_id:
            raise _HTTPError(400, "voice.channelId is required")
        result = {k: voice[k] for k in ("token", "endpoint", "sessionId")}
        if channel_id is not None:
            result["channelId"] = str(channel_id)
        return result

    # -- websocket handler ----------------------------------------------------------------------

    async def _handle_websocket(self, request: web.Request) -> web.StreamResponse:
        user_id = request.headers.get("User-Id")
        if not user_id:
            raise _HTTPError(400, "Missing User-Id header")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session, resumed = self._open_session(
            request.headers.get("Session-Id"), user_id, request.headers.get("Client-Name", "")
        )
        conn = _Connection(ws=ws, transport=request.transport, session=session)
        session.connection = conn
        self._connections.add(conn)
        conn.queue.put_nowait({"op": "ready", "resumed": resumed, "sessionId": session.session_id})
        if resumed:
            for message in session.backlog:
                conn.queue.put_nowait(message)
            session.backlog.clear()
        conn.queue.put_nowait({"op": "stats", **self._stats_payload()})
        conn.tasks = [
            asyncio.create_task(self._writer(conn)),
            asyncio.create_task(self._player_update_loop(conn)),
            asyncio.create_task(self._stats_loop(conn)),
        ]
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
                if msg.type is WSMsgType.ERROR:
                    break
                # Lavalink v4 ignores messages from clients.
        finally:
            for task in conn.tasks:
                task.cancel()
            self._connections.discard(conn)
            self._connection_lost(conn)
            conn.closed.set()
        return ws


def _drain(queue: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _default_uri(source: str, identifier: str, author: str, title: str) -> str:
    if source == "youtube":
        return f"https://www.youtube.com/watch?v={identifier}"
    if source == "soundcloud":
        return f"https://soundcloud.com/{_slug(author)}/{_slug(title)}"
    return f"https://example.invalid/{source}/{identifier}"
