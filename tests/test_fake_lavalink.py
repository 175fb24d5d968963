"""Tests for :mod:`growmies_testkit.fake_lavalink`, driven by the real, unmodified wavelink 3.5.

wavelink's ``Pool``/``Node`` only use ``client.user.id`` and ``client.dispatch``; the stand-in
client below records every ``dispatch`` and lets tests await them. Nothing here sleeps to
synchronise: tests wait for dispatched events or recorded requests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import wavelink

from growmies_testkit.fake_lavalink import FakeLavalink

USER_ID = 424242424242424242
GUILD_ID = 111111111111111111
CHANNEL_ID = 222222222222222222
VOICE = {
    "token": "voice-token",
    "endpoint": "voice.example.invalid:443",
    "sessionId": "voice-session",
    "channelId": str(CHANNEL_ID),
}
_node_ids = itertools.count(1)


class StubClient:
    """The part of a nextcord client wavelink touches, recording every dispatch."""

    def __init__(self) -> None:
        self.user = SimpleNamespace(id=USER_ID)
        self.dispatched: list[tuple[str, tuple[Any, ...]]] = []
        self.channels: dict[int, Any] = {}
        self._waiters: list[tuple[str, Callable[..., bool], asyncio.Future[Any]]] = []

    def dispatch(self, event: str, *args: Any, **kwargs: Any) -> None:
        self.dispatched.append((event, args))
        for name, pred, fut in list(self._waiters):
            if name == event and not fut.done() and pred(*args):
                fut.set_result(args[0] if args else None)

    def get_channel(self, channel_id: int) -> Any:
        return self.channels.get(channel_id)

    def mark(self) -> int:
        """An index to pass as ``since`` so only later dispatches count."""
        return len(self.dispatched)

    def names(self, since: int = 0) -> list[str]:
        return [name for name, _ in self.dispatched[since:]]

    async def wait_for(
        self,
        event: str,
        pred: Callable[..., bool] = lambda *_: True,
        *,
        since: int = 0,
        timeout: float = 5.0,
    ) -> Any:
        """First payload of ``event`` dispatched from index ``since`` on matching ``pred``."""
        for name, args in self.dispatched[since:]:
            if name == event and pred(*args):
                return args[0] if args else None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (event, pred, fut)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiters.remove(entry)


class StubChannel:
    def __init__(self, guild: StubGuild, channel_id: int) -> None:
        self.id = channel_id
        self.guild = guild
        self.name = "music"
        self.members: list[Any] = []


class StubGuild:
    """Answers ``change_voice_state`` like Discord's gateway would (state + server update)."""

    def __init__(self, guild_id: int) -> None:
        self.id = guild_id
        self.voice_protocol: wavelink.Player | None = None
        self.voice_changes: list[Any] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def change_voice_state(self, *, channel: Any, **_: Any) -> None:
        self.voice_changes.append(channel)
        player = self.voice_protocol
        if channel is None or player is None:
            return

        async def gateway_answers() -> None:
            await player.on_voice_state_update(
                {"channel_id": channel.id, "session_id": VOICE["sessionId"]}  # type: ignore[typeddict-item]
            )
            await player.on_voice_server_update(
                {"token": VOICE["token"], "endpoint": VOICE["endpoint"], "guild_id": self.id}  # type: ignore[typeddict-item]
            )

        task = asyncio.get_running_loop().create_task(gateway_answers())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


Factory = Callable[..., Awaitable[FakeLavalink]]
Connect = Callable[..., Awaitable[wavelink.Node]]


@pytest.fixture
async def make_lavalink() -> AsyncIterator[Factory]:
    made: list[FakeLavalink] = []

    async def factory(**kwargs: Any) -> FakeLavalink:
        kwargs.setdefault("player_update_interval", 0.05)
        fake = FakeLavalink(**kwargs)
        await fake.start()
        made.append(fake)
        return fake

    yield factory
    for fake in made:
        await fake.close()


@pytest.fixture
async def lavalink(make_lavalink: Factory) -> FakeLavalink:
    return await make_lavalink()


@pytest.fixture
def client() -> StubClient:
    return StubClient()


@pytest.fixture
async def connect(client: StubClient, make_lavalink: Factory) -> AsyncIterator[Connect]:
    """Connect wavelink nodes (torn down before the fakes close: it depends on the factory)."""
    made: list[tuple[wavelink.Node, aiohttp.ClientSession]] = []

    async def _connect(fake: FakeLavalink, **kwargs: Any) -> wavelink.Node:
        session = aiohttp.ClientSession()
        node = wavelink.Node(
            uri=fake.uri,
            password=kwargs.pop("password", fake.password),
            identifier=f"fake-{next(_node_ids)}",
            session=session,
            **kwargs,
        )
        made.append((node, session))
        since = client.mark()
        await wavelink.Pool.connect(nodes=[node], client=client)  # type: ignore[arg-type]
        # Pool.connect returns once the socket is open: the session id arrives with "ready".
        await client.wait_for("wavelink_node_ready", lambda p: p.node is node, since=since)
        return node

    yield _connect
    for node, session in made:
        await node.close(eject=True)  # Pool.close() would leave the nodes registered
        await session.close()


@pytest.fixture
async def node(lavalink: FakeLavalink, connect: Connect) -> wavelink.Node:
    return await connect(lavalink)


def player_path(node: wavelink.Node, guild_id: int = GUILD_ID) -> str:
    return f"v4/sessions/{node.session_id}/players/{guild_id}"


async def play(node: wavelink.Node, track: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What wavelink.Player.play sends, straight through ``Node.send``."""
    data = {"voice": VOICE, "track": {"encoded": track["encoded"], "userData": {}}, **extra}
    return await node.send("PATCH", path=player_path(node), data=data)


def fast_reconnect(node: wavelink.Node) -> None:
    """wavelink's reconnect backoff is random (up to 2 s, then 8 s...): pin it for tests."""
    assert node._websocket is not None
    node._websocket.backoff.calculate = lambda: 0.05  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------


async def test_connect_handshake_info_version_stats(
    lavalink: FakeLavalink, node: wavelink.Node, client: StubClient
) -> None:
    assert node.status is wavelink.NodeStatus.CONNECTED
    session = lavalink.sessions[node.session_id]  # type: ignore[index]
    # after "ready" wavelink enables resuming and reads /v4/info
    assert session["resuming"] is True and session["timeout"] == 60
    assert session["connected"] is True and session["user_id"] == str(USER_ID)
    handshake = await lavalink.wait_for_request(lambda r: r.path == "/v4/websocket")
    assert handshake.headers["Authorization"] == lavalink.password
    assert handshake.headers["User-Id"] == str(USER_ID)
    assert handshake.headers["Client-Name"].startswith("Wavelink/")
    assert "Session-Id" not in handshake.headers

    assert await node.fetch_version() == "4.2.0"
    info = await node.fetch_info()
    assert (info.version.major, info.version.minor, info.version.patch) == (4, 2, 0)
    assert "youtube" in info.source_managers and "timescale" in info.filters
    assert info.git.branch == "main" and info.jvm
    stats = await node.fetch_stats()
    assert stats.players == 0 and stats.cpu.lavalink_load >= 0 and stats.memory.reservable > 0
    # op stats is sent right after ready
    await client.wait_for("wavelink_stats_update")
    assert lavalink.sent_messages[0] == {
        "op": "ready",
        "resumed": False,
        "sessionId": node.session_id,
    }


async def test_wrong_password_is_rejected(
    lavalink: FakeLavalink, connect: Connect, client: StubClient
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{lavalink.uri}/v4/info", headers={"Authorization": "nope"}) as resp:
            assert resp.status == 401
            body = await resp.json()
        assert {"timestamp", "status", "error", "message", "path"} <= body.keys()
        assert body["path"] == "/v4/info"
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(
                f"{lavalink.uri}/v4/websocket",
                headers={"Authorization": "nope", "User-Id": "1", "Client-Name": "t/1"},
            )
        assert err.value.status == 401

    # wavelink logs AuthorizationFailedException and leaves the node out of the Pool
    async with aiohttp.ClientSession() as session:
        bad = wavelink.Node(uri=lavalink.uri, password="nope", session=session, retries=0)
        nodes = await wavelink.Pool.connect(nodes=[bad], client=client)  # type: ignore[arg-type]
        assert bad.identifier not in nodes
        assert bad.status is wavelink.NodeStatus.DISCONNECTED


async def test_search_returns_catalogue_tracks(lavalink: FakeLavalink, node: wavelink.Node) -> None:
    lofi = lavalink.add_track("Lofi Beats", author="Chill", length_ms=180_000)
    lavalink.add_track("Heavy Metal", author="Loud", length_ms=200_000, source="soundcloud")

    found = await wavelink.Playable.search("lofi")  # ytmsearch: by default
    assert isinstance(found, list) and len(found) == 1
    track = found[0]
    assert (track.title, track.author, track.length) == ("Lofi Beats", "Chill", 180_000)
    assert track.encoded == lofi["encoded"] and track.source == "youtube"
    assert track.uri == f"https://www.youtube.com/watch?v={lofi['info']['identifier']}"
    rec = await lavalink.wait_for_request(lambda r: r.path == "/v4/loadtracks")
    assert rec.query["identifier"] == "ytmsearch:lofi"

    by_author = await wavelink.Playable.search("LOUD", source=wavelink.TrackSource.SoundCloud)
    assert [t.title for t in by_author] == ["Heavy Metal"]
    assert await wavelink.Playable.search("nothing like this") == []

    # a catalogue URI loads that one track; an unknown audio-file URL is an "http" track
    assert [t.title for t in await wavelink.Playable.search(lofi["info"]["uri"])] == ["Lofi Beats"]
    (mp3,) = await wavelink.Playable.search("https://cdn.example.com/sets/intro.mp3?x=1")
    assert mp3.source == "http" and mp3.length == lavalink.http_length_ms
    assert await wavelink.Playable.search("https://example.com/page.html") == []

    decoded = await node.send("GET", path="v4/decodetrack", params={"encodedTrack": mp3.encoded})
    assert decoded["info"]["uri"] == "https://cdn.example.com/sets/intro.mp3?x=1"


async def test_playlist_url(lavalink: FakeLavalink, node: wavelink.Node) -> None:
    tracks = [lavalink.add_track(f"Song {i}", author="Band") for i in range(3)]
    playlist = lavalink.add_playlist("Mix", tracks, url="https://www.youtube.com/playlist?list=PL1")

    result = await wavelink.Playable.search(playlist["url"])
    assert isinstance(result, wavelink.Playlist)
    assert result.name == "Mix" and result.selected == -1
    assert [t.title for t in result.tracks] == ["Song 0", "Song 1", "Song 2"]
    assert result.tracks[0].playlist is not None and result.tracks[0].playlist.name == "Mix"


async def test_load_error_raises_lavalink_load_exception(
    lavalink: FakeLavalink, node: wavelink.Node
) -> None:
    lavalink.add_track("Broken Song")
    lavalink.fail_load("broken", severity="suspicious", message="Video unavailable")
    with pytest.raises(wavelink.LavalinkLoadException) as err:
        await wavelink.Playable.search("broken")
    assert err.value.severity == "suspicious" and err.value.error == "Video unavailable"
    assert "FriendlyException" in err.value.cause


async def test_http_error_raises_lavalink_exception(
    lavalink: FakeLavalink, node: wavelink.Node
) -> None:
    lavalink.add_track("Lofi Beats")
    lavalink.fail_next_load(500)
    with pytest.raises(wavelink.LavalinkException) as err:
        await wavelink.Playable.search("lofi")
    assert err.value.status == 500 and err.value.path == "/v4/loadtracks"
    assert err.value.error == "Internal Server Error"
    # only the next load failed
    assert len(await wavelink.Playable.search("lofi")) == 1


async def test_play_start_updates_and_finished(
    lavalink: FakeLavalink, node: wavelink.Node, client: StubClient
) -> None:
    lavalink.time_scale = 2.0  # 600 ms of track play in about 300 ms
    track = lavalink.add_track("Short One", author="Tiny", length_ms=600)
    since = client.mark()

    body = await play(node, track)
    assert body["guildId"] == str(GUILD_ID) and body["track"]["encoded"] == track["encoded"]
    assert body["state"]["connected"] is True and body["voice"] == VOICE
    patch = await lavalink.wait_for_request(lambda r: r.method == "PATCH" and "players" in r.path)
    assert patch.json["voice"]["channelId"] == str(CHANNEL_ID)

    start = await client.wait_for("wavelink_track_start", since=since)
    assert start.track.title == "Short One" and start.player is None  # no wavelink.Player here
    update = await client.wait_for(
        "wavelink_player_update", lambda p: p.position > 0 and p.connected, since=since
    )
    assert update.ping == lavalink.ping_ms
    assert 0 < lavalink.players[GUILD_ID].position_ms <= 600
    end = await client.wait_for("wavelink_track_end", since=since)
    assert end.reason == "finished" and end.track.encoded == track["encoded"]
    assert lavalink.players[GUILD_ID].track is None
    names = client.names(since)
    assert names.index("wavelink_track_start") < names.index("wavelink_track_end")
    event = await lavalink.wait_for_event(lambda e: e["type"] == "TrackEndEvent")
    assert event["guildId"] == str(GUILD_ID) and event["track"]["info"]["position"] == 600


async def test_player_rest_rules(lavalink: FakeLavalink, node: wavelink.Node) -> None:
    one = lavalink.add_track("One", length_ms=60_000)
    two = lavalink.add_track("Two", length_ms=60_000)

    # Lavalink >= 4.2 wants voice.channelId; wavelink turns the error body into LavalinkException
    no_channel = {k: v for k, v in VOICE.items() if k != "channelId"}
    with pytest.raises(wavelink.LavalinkException) as err:
        await node.send("PATCH", path=player_path(node), data={"voice": no_channel})
    assert err.value.status == 400
    with pytest.raises(wavelink.LavalinkException) as err:
        await node.send("GET", path="v4/sessions/nosuchsession/players")
    assert err.value.status == 404
    assert await node.fetch_player_info(GUILD_ID) is None

    await play(node, one, paused=True, position=5_000)
    player = lavalink.players[GUILD_ID]
    assert player.paused and player.position_ms == 5_000  # paused: the clock stands still
    await node.send("PATCH", path=player_path(node), data={"position": 12_000, "volume": 250})
    assert player.position_ms == 12_000 and player.volume == 250

    filters = {"timescale": {"speed": 1.5, "pitch": 1.0, "rate": 1.0}}
    await node.send("PATCH", path=player_path(node), data={"filters": filters})
    assert player.filters == filters and player.rate == 1.5  # nightcore plays faster

    info = await node.fetch_player_info(GUILD_ID)
    assert info is not None and info.track is not None and info.track.title == "One"
    assert info.voice_state.channel_id == str(CHANNEL_ID) and info.state.position == 12_000

    # noReplace keeps the current track; a plain play replaces it; encoded null stops
    data = {"track": {"encoded": two["encoded"]}}
    await node.send("PATCH", path=player_path(node), data=data, params={"noReplace": "True"})
    assert player.track is not None and player.track["info"]["title"] == "One"
    await node.send("PATCH", path=player_path(node), data=data, params={"noReplace": "False"})
    assert player.track is not None and player.track["info"]["title"] == "Two"
    await node.send("PATCH", path=player_path(node), data={"track": {"encoded": None}})
    assert player.track is None
    await lavalink.wait_for_event(lambda e: e.get("reason") == "stopped")
    reasons = [e["reason"] for e in lavalink.sent_events if e["type"] == "TrackEndEvent"]
    assert reasons == ["replaced", "stopped"]

    # play by identifier, then destroy: TrackEnd "cleanup"
    data = {"track": {"identifier": one["info"]["identifier"], "userData": {"by": "me"}}}
    body = await node.send("PATCH", path=player_path(node), data=data)
    assert body["track"]["userData"] == {"by": "me"}
    await node.send("DELETE", path=player_path(node))
    assert GUILD_ID not in lavalink.players
    await lavalink.wait_for_event(lambda e: e.get("reason") == "cleanup")


async def test_fail_track_exception_and_stuck(
    lavalink: FakeLavalink, node: wavelink.Node, client: StubClient
) -> None:
    bad = lavalink.add_track("Bad", length_ms=60_000)
    sticky = lavalink.add_track("Sticky", length_ms=60_000)
    lavalink.fail_track(bad["info"]["identifier"], "exception", message="decoder died")
    lavalink.fail_track(sticky["encoded"], "stuck", after_ms=100, threshold_ms=2_500)

    since = client.mark()
    await play(node, bad)
    exc = await client.wait_for("wavelink_track_exception", since=since)
    assert exc.track.title == "Bad" and exc.exception["message"] == "decoder died"
    assert exc.exception["severity"] == "common" and exc.exception["cause"]
    end = await client.wait_for("wavelink_track_end", since=since)
    assert end.reason == "loadFailed"
    assert client.names(since).index("wavelink_track_start") < client.names(since).index(
        "wavelink_track_exception"
    )

    since = client.mark()
    await play(node, sticky)
    stuck = await client.wait_for("wavelink_track_stuck", since=since)
    assert stuck.track.title == "Sticky" and stuck.threshold == 2_500
    player = lavalink.players[GUILD_ID]
    assert player.stuck and player.track is not None and not player.advancing
    # failures are used up: playing it again works normally
    await play(node, sticky)
    assert not lavalink.players[GUILD_ID].stuck

    # Discord dropping the voice connection, and a plugin's custom event
    since = client.mark()
    lavalink.voice_closed(GUILD_ID, 4014, "Disconnected.", by_remote=True)
    closed = await client.wait_for("wavelink_websocket_closed", since=since)
    assert closed.code is wavelink.DiscordVoiceCloseType.DISCONNECTED and closed.by_remote
    assert not lavalink.players[GUILD_ID].connected
    lavalink.emit_event(GUILD_ID, "SegmentSkipped", segment={"category": "intro"})
    extra = await client.wait_for("wavelink_extra_event", since=since)
    assert extra.data["type"] == "SegmentSkipped"


async def test_kill_and_restart_gives_a_new_session(
    lavalink: FakeLavalink, node: wavelink.Node, client: StubClient
) -> None:
    track = lavalink.add_track("Long", length_ms=600_000)
    await play(node, track)
    old_session = node.session_id
    fast_reconnect(node)

    since = client.mark()
    await lavalink.kill()
    await client.wait_for("wavelink_node_disconnected", since=since)
    assert not lavalink.running
    with pytest.raises(aiohttp.ClientConnectionError):
        await node.fetch_version()

    await lavalink.restart()
    ready = await client.wait_for("wavelink_node_ready", since=since)
    assert ready.resumed is False and ready.session_id != old_session
    assert lavalink.players == {} and list(lavalink.sessions) == [ready.session_id]
    # wavelink offered the old session id, the fresh process did not know it
    reconnects = [r for r in lavalink.requests if r.path == "/v4/websocket"]
    assert reconnects[-1].headers["Session-Id"] == old_session


async def test_kill_and_restart_with_state_resumes(
    lavalink: FakeLavalink, node: wavelink.Node, client: StubClient
) -> None:
    lavalink.time_scale = 20.0  # 8 s of track in about 0.4 s of real time
    track = lavalink.add_track("Resumable", length_ms=8_000)
    await play(node, track)
    session_id = node.session_id
    fast_reconnect(node)

    since = client.mark()
    await lavalink.kill()
    frozen = lavalink.players[GUILD_ID].position_ms
    assert frozen == lavalink.players[GUILD_ID].position_ms  # the process is dead: no progress
    await lavalink.restart(keep_state=True)
    ready = await client.wait_for("wavelink_node_ready", since=since)
    assert ready.resumed is True and ready.session_id == session_id
    assert lavalink.players[GUILD_ID].track is not None
    end = await client.wait_for("wavelink_track_end", since=since)
    assert end.reason == "finished" and end.track.title == "Resumable"


async def test_resume_after_socket_drop_keeps_players_and_delivers_backlog(
    lavalink: FakeLavalink, node: wavelink.Node, client: StubClient
) -> None:
    track = lavalink.add_track("Keeps Going", length_ms=600_000)
    await play(node, track)
    session_id = node.session_id
    fast_reconnect(node)
    # hold the reconnection off until the test lets it through
    lavalink.fail_next_request("/v4/websocket", 503, times=1_000)

    since, requests_before = client.mark(), len(lavalink.requests)
    await lavalink.close_websockets()  # 1006: no close frame, like a network failure
    await lavalink.wait_for_request(lambda r: r.path == "/v4/websocket", since=requests_before)
    assert lavalink.sessions[session_id]["connected"] is False  # type: ignore[index]
    player = lavalink.players[GUILD_ID]
    assert player.advancing  # a resumable session keeps playing while its client is away

    # REST still works on the session; the TrackEnd it causes waits for the client
    await node.send("PATCH", path=player_path(node), data={"track": {"encoded": None}})
    assert lavalink.sessions[session_id]["backlog"] == 1  # type: ignore[index]

    lavalink.reset_failures()
    ready = await client.wait_for("wavelink_node_ready", since=since)
    assert ready.resumed is True and ready.session_id == session_id
    end = await client.wait_for("wavelink_track_end", since=since)
    assert end.reason == "stopped"
    handshake = [r for r in lavalink.requests if r.path == "/v4/websocket"][-1]
    assert handshake.headers["Session-Id"] == session_id
    assert lavalink.players[GUILD_ID] is player


async def test_wavelink_player_queue_and_switch_node(
    make_lavalink: Factory, connect: Connect, client: StubClient
) -> None:
    fake_a = await make_lavalink(time_scale=10.0)
    fake_b = await make_lavalink(time_scale=10.0)
    node_a = await connect(fake_a)
    node_b = await connect(fake_b)
    first = fake_a.add_track("First", length_ms=2_000)  # about 0.2 s at time_scale 10
    second = fake_a.add_track("Second", length_ms=600_000)

    guild = StubGuild(GUILD_ID)
    channel = StubChannel(guild, CHANNEL_ID)
    client.channels[CHANNEL_ID] = channel
    player = wavelink.Player(client, channel, nodes=[node_a])  # type: ignore[arg-type]
    guild.voice_protocol = player
    await player.connect(reconnect=False, timeout=5.0)  # what VoiceChannel.connect(cls=) does
    voice_patch = await fake_a.wait_for_request(lambda r: r.json and "voice" in r.json)
    assert voice_patch.json["voice"]["channelId"] == str(CHANNEL_ID)

    player.autoplay = wavelink.AutoPlayMode.partial
    tracks = await wavelink.Playable.search("First", node=node_a)
    player.queue.put((await wavelink.Playable.search("Second", node=node_a))[0])
    since = client.mark()
    await player.play(tracks[0])
    start = await client.wait_for("wavelink_track_start", since=since)
    assert start.player is player and start.original is not None
    # the first track finishes and wavelink's autoplay plays the queued one
    nxt = await client.wait_for(
        "wavelink_track_start", lambda p: p.track.title == "Second", since=since
    )
    assert nxt.player is player and player.current is not None
    assert player.current.title == "Second"
    assert fake_a.players[GUILD_ID].track["encoded"] == second["encoded"]  # type: ignore[index]
    assert first["encoded"] != second["encoded"]

    # switch_node: DELETE on the old node (it answers TrackEnd "cleanup" for a player wavelink
    # no longer knows), voice then track (replace, start=position) on the new one
    since = client.mark()
    await player.switch_node(node_b)
    assert GUILD_ID not in fake_a.players
    moved = fake_b.players[GUILD_ID]
    assert moved.track is not None and moved.track["info"]["title"] == "Second"
    assert moved.voice["channelId"] == str(CHANNEL_ID)
    cleanup = await client.wait_for(
        "wavelink_track_end", lambda p: p.reason == "cleanup", since=since
    )
    assert cleanup.player is None
    restart = await client.wait_for("wavelink_track_start", since=since)
    assert restart.player is player and player.node is node_b
