"""A music stack without Discord: real wavelink against FakeLavalink, a stand-in client and
voice channels that answer like Discord's gateway, and a notifier that records messages."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import wavelink

from growmies_testkit.fake_lavalink import FakeLavalink
from plugins.music.env import LavalinkNodeSettings
from plugins.music.lavalink import Backoff, LavalinkConnection, Player
from plugins.music.playback import Playback
from plugins.music.queue import QueueRepository

BOT_ID = 424242424242424242
_ids = itertools.count(1)


class StubClient:
    """What wavelink touches of a client; dispatches wavelink events to the playback."""

    def __init__(self) -> None:
        self.user = SimpleNamespace(id=BOT_ID)
        self.channels: dict[int, Any] = {}
        self.playback: Playback | None = None
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()

    def dispatch(self, event: str, *args: Any, **kwargs: Any) -> None:
        payload = args[0] if args else None
        self.events.append((event, payload))

        async def deliver() -> None:
            if self.playback is not None and event.startswith("wavelink_"):
                await self.playback.dispatch(event, payload)
            async with self._changed:
                self._changed.notify_all()

        task = asyncio.get_running_loop().create_task(deliver())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def get_channel(self, channel_id: int) -> Any:
        return self.channels.get(channel_id)

    async def wait_until(self, pred: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(pred)

    def mark(self) -> int:
        return len(self.events)

    async def wait_event(self, name: str, pred: Callable[[Any], bool] = lambda _p: True, *,
                         since: int = 0, timeout: float = 10.0) -> Any:
        found: list[Any] = []

        def check() -> bool:
            for ev, payload in self.events[since:]:
                if ev == name and pred(payload):
                    found.append(payload)
                    return True
            return False

        await self.wait_until(check, timeout)
        return found[0]


class StubGuild:
    def __init__(self, guild_id: int) -> None:
        self.id = guild_id
        self.voice_protocol: Any = None
        self.voice_changes: list[tuple[Any, bool]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def change_voice_state(self, *, channel: Any, self_deaf: bool = False,
                                 **_: Any) -> None:
        self.voice_changes.append((channel, self_deaf))
        player = self.voice_protocol
        if channel is None or player is None:
            return

        async def gateway_answers() -> None:
            await player.on_voice_state_update({"channel_id": channel.id,
                                                "session_id": f"vs-{self.id}"})
            await player.on_voice_server_update({"token": "voice-token",
                                                 "endpoint": "voice.example:443",
                                                 "guild_id": self.id})

        task = asyncio.get_running_loop().create_task(gateway_answers())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


@dataclass
class StubChannel:
    id: int
    guild: StubGuild
    name: str = "General"
    members: list[Any] = field(default_factory=list)


class StubVoice:
    """Voice channels of stub guilds; `listeners` are the member ids in each channel."""

    def __init__(self, client: StubClient) -> None:
        self.client = client
        self.guilds: dict[int, StubGuild] = {}
        self.members: dict[int, set[int]] = {}

    def add_guild(self, guild_id: int, channel_id: int, listeners: set[int]) -> None:
        guild = StubGuild(guild_id)
        self.guilds[guild_id] = guild
        self.client.channels[channel_id] = StubChannel(channel_id, guild)
        self.members[channel_id] = set(listeners)

    def has_guild(self, guild_id: int) -> bool:
        return guild_id in self.guilds

    async def join(self, guild_id: int, channel_id: int, node: wavelink.Node) -> Player:
        channel = self.client.channels[channel_id]
        player = Player(self.client, channel, nodes=[node])  # type: ignore[arg-type]  # a stand-in client, not a nextcord one
        self.guilds[guild_id].voice_protocol = player
        await player.connect(timeout=5.0, reconnect=False)
        return player

    def listeners(self, guild_id: int, channel_id: int) -> set[int]:
        return set(self.members.get(channel_id, set()))


class RecordingNotifier:
    def __init__(self, client: StubClient) -> None:
        self.client = client
        self.said: list[tuple[int | None, str]] = []

    async def say(self, channel_id: int | None, text: str) -> None:
        self.said.append((channel_id, text))
        async with self.client._changed:
            self.client._changed.notify_all()


def fast_backoff() -> Backoff:
    return Backoff(base=0.05, cap=0.2)


@dataclass
class Rig:
    client: StubClient
    voice: StubVoice
    notifier: RecordingNotifier
    lavalink: LavalinkConnection
    queue: QueueRepository
    playback: Playback
    limit: int = 50
    listened: list[tuple[int, set[int], int]] = field(default_factory=list)

    async def wait_connected(self, count: int = 1) -> None:
        await self.client.wait_until(lambda: len(self.lavalink.connected()) >= count)

    async def close(self) -> None:
        await self.playback.close()
        await self.lavalink.close()


async def make_rig(fakes: list[FakeLavalink], client: StubClient | None = None,
                   voice: StubVoice | None = None) -> Rig:
    client = client or StubClient()
    voice = voice or StubVoice(client)
    notifier = RecordingNotifier(client)
    nodes = [LavalinkNodeSettings(id=f"node-{next(_ids)}", uri=f.uri, password=f.password)
             for f in fakes]
    lavalink = LavalinkConnection(client, nodes, backoff=fast_backoff, watchdog_interval=0.1)
    queue = QueueRepository()
    rig_holder: list[Rig] = []

    async def limit(_guild_id: int) -> int:
        return rig_holder[0].limit

    async def listened(guild_id: int, members: set[int], ms: int) -> None:
        rig_holder[0].listened.append((guild_id, members, ms))

    playback = Playback(lavalink, queue, voice, notifier, queue_limit=limit,
                        on_listened=listened)
    client.playback = playback
    rig = Rig(client, voice, notifier, lavalink, queue, playback)
    rig_holder.append(rig)
    await lavalink.start()
    await rig.wait_connected(len(fakes))
    return rig
