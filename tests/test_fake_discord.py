"""The fake Discord against the real, unmodified nextcord 3.2 bot (real sockets, one loop)."""

from __future__ import annotations

import asyncio
import io
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import nextcord
import pytest
from nextcord.ext import commands
from nextcord.http import Route
from nextcord.webhook.async_ import async_context

from growmies_testkit.fake_discord import (
    FakeDiscord,
    FakeGuild,
    FakeMember,
    FakeRole,
    FormErrors,
    Permission,
)
from growmies_testkit.fake_discord.limits import check_components, check_message, check_modal

# ---------------------------------------------------------------------------------------------
# fixtures: a fake, a small world and a bot with every kind of interaction


@dataclass
class Seen:
    """What the bot's callbacks observed."""

    plugin_toggles: list[tuple[str, str]] = field(default_factory=list)
    clicks: list[int] = field(default_factory=list)
    selects: list[list[str]] = field(default_factory=list)
    modal_values: list[str] = field(default_factory=list)
    errors: dict[str, tuple[int, int]] = field(default_factory=dict)
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    _done: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))

    def mark(self, key: str) -> None:
        self._done[key].set()

    async def wait(self, key: str, timeout: float = 5) -> None:
        await asyncio.wait_for(self._done[key].wait(), timeout)


@dataclass
class World:
    fake: FakeDiscord
    guild: FakeGuild
    alice: FakeMember
    bob: FakeMember
    dj: FakeRole


class PingView(nextcord.ui.View):
    def __init__(self, seen: Seen) -> None:
        super().__init__(timeout=60)
        self.seen = seen

    @nextcord.ui.button(label="Again", custom_id="ping:again")
    async def again(self, button: nextcord.ui.Button, inter: nextcord.Interaction) -> None:
        self.seen.clicks.append(inter.user.id)
        await inter.response.edit_message(content=f"clicked by {inter.user.name}", view=self)

    @nextcord.ui.select(
        custom_id="ping:pick",
        max_values=2,
        options=[nextcord.SelectOption(label=x, value=x) for x in ("a", "b", "c")],
    )
    async def pick(self, select: nextcord.ui.StringSelect, inter: nextcord.Interaction) -> None:
        self.seen.selects.append(list(select.values))
        await inter.response.send_message(f"picked {','.join(select.values)}", ephemeral=True)


class FeedbackModal(nextcord.ui.Modal):
    def __init__(self, seen: Seen) -> None:
        super().__init__("Feedback", custom_id="feedback:modal", timeout=60)
        self.seen = seen
        self.text = nextcord.ui.TextInput(label="Your feedback", custom_id="feedback:text")
        self.add_item(self.text)

    async def callback(self, inter: nextcord.Interaction) -> None:
        self.seen.modal_values.append(self.text.value or "")
        await inter.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


class FakeVoice(nextcord.VoiceProtocol):
    """A voice protocol that only does the gateway half (op 4 and the two events)."""

    def __init__(self, client: nextcord.Client, channel: Any) -> None:
        super().__init__(client, channel)
        self.state: dict[str, Any] | None = None
        self.server: dict[str, Any] | None = None
        self._both = asyncio.Event()

    async def on_voice_state_update(self, data: Any) -> None:
        self.state = data
        if self.server is not None:
            self._both.set()

    async def on_voice_server_update(self, data: Any) -> None:
        self.server = data
        if self.state is not None:
            self._both.set()

    async def connect(self, *, timeout: float, reconnect: bool) -> None:
        await self.channel.guild.change_voice_state(channel=self.channel, self_deaf=True)
        await asyncio.wait_for(self._both.wait(), timeout)

    async def disconnect(self, *, force: bool = False) -> None:
        await self.channel.guild.change_voice_state(channel=None)
        self.cleanup()


def intents() -> nextcord.Intents:
    value = nextcord.Intents.default()
    value.members = True
    value.message_content = True
    return value


def build_bot(guild_id: int, seen: Seen) -> commands.Bot:
    bot = commands.Bot(
        command_prefix="!",
        intents=intents(),
        default_guild_ids=[guild_id],
        guild_ready_timeout=0.2,
    )

    @bot.slash_command(description="Ping with buttons")
    async def ping(inter: nextcord.Interaction) -> None:
        await inter.response.send_message("pong", view=PingView(seen))

    @bot.slash_command(description="Manage plugins")
    async def plugins(inter: nextcord.Interaction) -> None:
        pass

    @plugins.subcommand(description="Enable a plugin")
    async def enable(inter: nextcord.Interaction, plugin: str) -> None:
        seen.plugin_toggles.append(("enable", plugin))
        await inter.response.send_message(f"enabled {plugin}", ephemeral=True)

    @bot.slash_command(description="Administration")
    async def admin(inter: nextcord.Interaction) -> None:
        pass

    @admin.subcommand(description="Role tools")
    async def roles(inter: nextcord.Interaction) -> None:
        pass

    @roles.subcommand(description="Give a role")
    async def give(
        inter: nextcord.Interaction, member: nextcord.Member, role: nextcord.Role
    ) -> None:
        await member.add_roles(role)
        await inter.response.send_message(embed=nextcord.Embed(title="Done", description=role.name))

    @bot.slash_command(description="Play something")
    async def play(inter: nextcord.Interaction, query: str) -> None:
        await inter.response.send_message(f"playing {query}")

    @play.on_autocomplete("query")
    async def play_autocomplete(inter: nextcord.Interaction, query: str) -> None:
        await inter.response.send_autocomplete([f"{query} radio", f"{query} beats"])

    @bot.slash_command(description="Send feedback")
    async def feedback(inter: nextcord.Interaction) -> None:
        await inter.response.send_modal(FeedbackModal(seen))

    @bot.slash_command(description="Too long, then fine")
    async def long(inter: nextcord.Interaction) -> None:
        try:
            await inter.response.send_message("x" * 2001)
        except nextcord.HTTPException as exc:
            seen.errors["long"] = (exc.status, exc.code)
        await inter.response.send_message("short")

    @bot.slash_command(description="Answers twice")
    async def twice(inter: nextcord.Interaction) -> None:
        await inter.response.send_message("first")
        try:  # bypass nextcord's own InteractionResponded check: ask Discord directly
            await async_context.get().create_interaction_response(
                inter.id, inter.token, session=inter._session, type=4, data={"content": "again"}
            )
        except nextcord.HTTPException as exc:
            seen.errors["twice"] = (exc.status, exc.code)
        seen.mark("twice")

    @bot.slash_command(description="Deferred work")
    async def slow(inter: nextcord.Interaction) -> None:
        await inter.response.defer(ephemeral=True)
        await inter.followup.send("done")
        await inter.followup.send("second")

    @bot.slash_command(description="Upload a file")
    async def upload(inter: nextcord.Interaction) -> None:
        await inter.response.defer()
        await inter.channel.send("here", file=nextcord.File(io.BytesIO(b"hello"), "a.txt"))
        await inter.followup.send("uploaded")

    @bot.event
    async def on_resumed() -> None:
        seen.resumed.set()

    return bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(token="fake-token")
    await server.start()
    old_base = Route.BASE
    Route.BASE = server.api_base
    try:
        yield server
    finally:
        Route.BASE = old_base
        await server.close()
    assert not server.internal_errors


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    guild = fake.create_guild("Test Guild")
    dj = guild.add_role("DJ", permissions=int(Permission.CONNECT))
    alice = guild.add_member("alice", admin=True)
    bob = guild.add_member("bob")
    return World(fake, guild, alice, bob, dj)


@dataclass
class Running:
    bot: commands.Bot
    seen: Seen


@pytest.fixture
async def running(fake: FakeDiscord, world: World) -> AsyncIterator[Running]:
    seen = Seen()
    bot = build_bot(world.guild.id, seen)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await fake.wait_until_connected(timeout=10)
        for name in ("ping", "plugins", "admin", "play", "feedback", "long", "twice", "slow"):
            await fake.wait_for_command(name, guild_id=world.guild.id)
        await fake.wait_for_command("upload", guild_id=world.guild.id)
        yield Running(bot, seen)
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)


# ---------------------------------------------------------------------------------------------
# connecting, commands


async def test_wrong_token_is_a_login_failure(fake: FakeDiscord) -> None:
    client = nextcord.Client(intents=intents())
    with pytest.raises(nextcord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fake.requests[-1].path == "/users/@me"
    assert fake.requests[-1].status == 401


async def test_connect_syncs_commands(fake: FakeDiscord, world: World, running: Running) -> None:
    guild_cmds = {c["name"]: c for c in fake.commands(world.guild.id)}
    assert set(guild_cmds) == {
        "ping", "plugins", "admin", "play", "feedback", "long", "twice", "slow", "upload",
    }  # fmt: skip
    assert fake.commands() == []  # default_guild_ids: nothing global
    assert fake.command_creates == len(guild_cmds)
    admin = guild_cmds["admin"]
    group = admin["options"][0]
    assert (group["type"], group["name"]) == (2, "roles")
    assert [o["type"] for o in group["options"][0]["options"]] == [6, 8]
    assert guild_cmds["play"]["options"][0]["autocomplete"] is True

    bot_guild = running.bot.get_guild(world.guild.id)
    assert bot_guild is not None and bot_guild.member_count == len(world.guild.members)
    assert bot_guild.get_member(world.bob.id) is not None
    assert bot_guild.me.id == fake.bot_user_id and running.bot.user.bot

    # A second sync (what a reconnect or a plugin toggle could trigger) re-creates nothing.
    creates = fake.command_creates
    await running.bot.sync_application_commands(guild_id=world.guild.id)
    assert fake.command_creates == creates


# ---------------------------------------------------------------------------------------------
# interactions


async def test_slash_response_and_second_response_is_rejected(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    ix = await fake.slash(world.alice, "twice")
    response = await ix.response()
    assert response["type"] == 4 and response["data"]["content"] == "first"
    assert ix.ack_latency is not None and ix.ack_latency < 3
    await running.seen.wait("twice")
    assert running.seen.errors["twice"] == (400, 40060)
    assert ix.rejected_callbacks[0][1]["code"] == 40060
    assert len(ix.responses) == 1
    assert ix.original is not None and ix.original["content"] == "first"
    assert ix.original in world.guild.text_channel.messages


async def test_too_long_content_is_invalid_form_body(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    ix = await fake.slash(world.alice, "long")
    assert (await ix.response())["data"]["content"] == "short"
    assert running.seen.errors["long"] == (400, 50035)
    status, body = ix.rejected_callbacks[0]
    assert status == 400
    assert body["errors"]["data"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"


async def test_subcommand_and_group_options(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    ix = await fake.slash(world.alice, "plugins enable", {"plugin": "music"})
    response = await ix.response()
    assert running.seen.plugin_toggles == [("enable", "music")]
    assert ix.ephemeral and response["data"]["flags"] & 64
    assert world.guild.text_channel.messages == []  # ephemeral: in no channel

    ix = await fake.slash(world.alice, "admin roles give", {"member": world.bob, "role": world.dj})
    await ix.response()
    assert world.bob.has_role(world.dj)
    put = next(r for r in fake.requests if r.method == "PUT" and "/roles/" in r.path)
    assert put.path == f"/guilds/{world.guild.id}/members/{world.bob.id}/roles/{world.dj.id}"
    assert put.status == 204
    assert "Done" in fake.text_of(ix.original)
    await fake.settle()  # GUILD_MEMBER_UPDATE reached the bot's cache
    member = running.bot.get_guild(world.guild.id).get_member(world.bob.id)
    assert world.dj.id in [r.id for r in member.roles]

    with pytest.raises(LookupError):
        await fake.slash(world.alice, "plugins")  # has subcommands: not runnable itself


async def test_role_hierarchy_is_enforced(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    top = world.guild.add_role("Moderators", position=10)  # above the bot's role
    ix = await fake.slash(world.alice, "admin roles give", {"member": world.bob, "role": top})
    req = await fake.wait_for_request(lambda r: r.method == "PUT", since=0)
    assert req.status == 403 and req.response["code"] == 50013
    assert not world.bob.has_role(top)
    assert ix.responses == []  # the command raised Forbidden before answering


async def test_autocomplete_returns_choices(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    choices = await fake.autocomplete(world.bob, "play", {"query": "lofi"}, focused="query")
    assert [c["name"] for c in choices] == ["lofi radio", "lofi beats"]


async def test_button_and_select_reach_the_view(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    ix = await fake.slash(world.alice, "ping")
    message = await ix.wait_original()
    assert message["components"][0]["components"][0]["custom_id"] == "ping:again"

    click = await fake.click(world.bob, message, "ping:again")
    assert (await click.response())["type"] == 7
    assert running.seen.clicks == [world.bob.id]
    assert message["content"] == "clicked by bob"  # the stored message was updated
    assert click.original is message

    pick = await fake.select(world.bob, message["id"], "ping:pick", ["a", "c"])
    await pick.response()
    assert running.seen.selects == [["a", "c"]]
    assert pick.ephemeral and fake.text_of(pick.original) == "picked a,c"
    with pytest.raises(ValueError):
        await fake.select(world.bob, message, "ping:pick", ["zzz"], strict=True)
    with pytest.raises(LookupError):
        await fake.click(world.bob, message, "ping:typo", strict=True)
    forged = await fake.click(world.bob, message, "nobody:knows")  # stale/forged custom id
    assert forged.data == {"custom_id": "nobody:knows", "component_type": 2}


async def test_modal_submit_reaches_the_modal(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    ix = await fake.slash(world.bob, "feedback")
    response = await ix.response()
    assert response["type"] == 9 and response["data"]["custom_id"] == "feedback:modal"
    with pytest.raises(ValueError):  # the client refuses an empty required field...
        await fake.submit_modal(world.bob, "feedback:modal", {"feedback:text": ""}, strict=True)
    sub = await fake.submit_modal(world.bob, "feedback:modal", {"feedback:text": "great bot"})
    await sub.response()
    assert running.seen.modal_values == ["great bot"]
    assert fake.text_of(sub.original) == "thanks: great bot"
    assert sub.data["components"][0]["components"][0]["custom_id"] == "feedback:text"


async def test_deferred_followups_and_late_response(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    ix = await fake.slash(world.bob, "slow")
    assert (await ix.response())["type"] == 5
    first, second = await ix.wait_followups(2)
    assert first["id"] == ix.original["id"]  # the first followup replaced "thinking..."
    assert first["content"] == "done" and first["flags"] & 64  # ephemeral like the deferral
    assert second["content"] == "second"
    assert [m["content"] for m in ix.messages] == ["done", "second"]

    fake.interaction_ack_timeout = 0.0  # every callback now arrives "too late"
    since = len(fake.requests)
    late = await fake.slash(world.bob, "plugins enable", {"plugin": "x"})
    req = await fake.wait_for_request(lambda r: "/callback" in r.path, since=since)
    assert req.status == 404 and req.response["code"] == 10062
    assert late.responses == [] and late.rejected_callbacks[0][1]["code"] == 10062


async def test_files_rate_limits_and_unknown_routes(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    fake.rate_limit_next(f"/channels/{world.guild.text_channel.id}/messages", retry_after=0.2)
    start = len(fake.requests)
    ix = await fake.slash(world.alice, "upload")
    await ix.wait_followups(1)
    posts = [r for r in fake.requests[start:] if r.path.endswith("/messages")]
    assert [r.status for r in posts] == [429, 200]
    assert posts[1].time - posts[0].time >= 0.19
    assert posts[1].files[0].filename == "a.txt"
    message = fake.channel_messages(world.guild.text_channel.id)[-1]
    assert message["attachments"][0]["filename"] == "a.txt"
    assert fake.attachment_bytes(message, 0) == b"hello"

    async with aiohttp.ClientSession() as session:
        url = f"{fake.api_base}/no/such/route"
        async with session.get(url, headers={"Authorization": "Bot fake-token"}) as resp:
            assert resp.status == 404 and resp.headers["Content-Type"] == "application/json"
            assert "X-RateLimit-Remaining" in resp.headers
            assert (await resp.json()) == {"message": "404: Not Found", "code": 0}
        async with session.get(f"{fake.api_base}/users/@me") as resp:
            assert resp.status == 401  # no "Bot <token>"
    assert [(r.path, r.status) for r in fake.requests[-2:]] == [
        ("/no/such/route", 404),
        ("/users/@me", 401),
    ]


async def test_rest_surface_updates_the_world_and_the_bot(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    bot = running.bot
    channel = bot.get_channel(world.guild.text_channel.id)
    msg = await channel.send(f"hello <@{world.bob.id}>")
    stored = fake.get_message(msg.id)
    assert stored is not None and [m["id"] for m in stored["mentions"]] == [str(world.bob.id)]
    await msg.edit(content="edited")
    assert stored["content"] == "edited" and stored["edited_timestamp"]
    assert (await channel.fetch_message(msg.id)).content == "edited"
    await msg.add_reaction("👍")
    assert stored["reactions"][0]["emoji"]["name"] == "👍" and stored["reactions"][0]["me"]
    await msg.pin()
    assert stored["pinned"] is True

    thread = await msg.create_thread(name="discussion")
    assert thread.id == msg.id and thread.parent_id == channel.id  # Discord reuses the id
    await thread.send("in the thread")
    assert fake.channel_messages(thread.id)[0]["content"] == "in the thread"
    free = await channel.create_thread(name="free", type=nextcord.ChannelType.public_thread)
    assert fake.get_channel(free.id).type == 11

    role = await bot.get_guild(world.guild.id).create_role(name="Growers")
    assert world.guild.role_named("Growers") is not None and role.position == 1
    member = await bot.get_guild(world.guild.id).fetch_member(world.bob.id)
    await member.edit(nick="Bobby")
    assert world.bob.nick == "Bobby"
    assert (await bot.fetch_user(world.alice.id)).name == "alice"

    fake.fail_next("/roles/", 403, code=50013, message="Missing Permissions")
    with pytest.raises(nextcord.Forbidden):
        await member.add_roles(world.dj)
    fake.rate_limit_next("/members/", retry_after=0.1, is_global=True)
    await member.add_roles(world.dj)  # retried after the global 429
    assert world.bob.has_role(world.dj)

    with pytest.raises(nextcord.NotFound) as err:
        await channel.fetch_message(1)
    assert err.value.code == 10008
    await msg.delete()
    assert fake.get_message(msg.id) is None
    await fake.settle()
    assert bot.get_guild(world.guild.id).get_member(world.bob.id).nick == "Bobby"


# ---------------------------------------------------------------------------------------------
# gateway events


async def test_message_create_reaches_on_message(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    waiter = asyncio.ensure_future(
        running.bot.wait_for("message", check=lambda m: m.content == "hello bot", timeout=5)
    )
    sent = await fake.send_message(
        world.bob, world.guild.text_channel, "hello bot", mentions=[world.alice]
    )
    message = await waiter
    assert message.id == int(sent["id"]) and message.author.id == world.bob.id
    assert [m.id for m in message.mentions] == [world.alice.id]

    dm_waiter = asyncio.ensure_future(
        running.bot.wait_for("message", check=lambda m: m.guild is None, timeout=5)
    )
    await fake.send_message(world.bob.user, None, "psst")  # a DM to the bot
    dm = await dm_waiter
    assert dm.content == "psst" and isinstance(dm.channel, nextcord.DMChannel)
    reply = await dm.channel.send("hi back")
    assert fake.channel_messages(dm.channel.id)[-1]["id"] == str(reply.id)


async def test_world_changes_after_connect_are_events(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    bot = running.bot
    joined = asyncio.ensure_future(bot.wait_for("member_join", timeout=5))
    carol = world.guild.add_member("carol")
    assert (await joined).id == carol.id
    created = asyncio.ensure_future(bot.wait_for("guild_channel_create", timeout=5))
    channel = world.guild.add_text_channel("other")
    assert (await created).id == channel.id
    removed = asyncio.ensure_future(bot.wait_for("member_remove", timeout=5))
    world.guild.remove_member(carol)
    assert (await removed).id == carol.id


async def test_voice_connect_gets_both_voice_events(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    channel = running.bot.get_channel(world.guild.voice_channel.id)
    voice = await channel.connect(cls=FakeVoice, timeout=5)
    assert voice.state["channel_id"] == str(channel.id)
    assert voice.state["user_id"] == str(fake.bot_user_id) and voice.state["session_id"]
    assert voice.server["endpoint"] == "fake-voice.local:443" and voice.server["token"]
    state = fake.voice_states[(world.guild.id, fake.bot_user_id)]
    assert state["self_deaf"] is True
    since = len(fake.gateway_received)
    await voice.disconnect()
    leave = await fake.wait_for_gateway(lambda p: p["op"] == 4, since=since)
    assert leave["d"]["channel_id"] is None
    assert (world.guild.id, fake.bot_user_id) not in fake.voice_states

    moved = asyncio.ensure_future(
        running.bot.wait_for("voice_state_update", check=lambda m, b, a: m.id == world.bob.id)
    )
    await fake.voice_join(world.bob, world.guild.voice_channel)
    member, before, _after = await moved
    assert member.id == world.bob.id and before.channel is None
    assert running.bot.get_channel(world.guild.voice_channel.id).members[0].id == world.bob.id


async def test_reconnect_resumes_and_replays(
    fake: FakeDiscord, world: World, running: Running
) -> None:
    await fake.reconnect_gateway()
    await asyncio.wait_for(running.seen.resumed.wait(), 5)
    assert fake.sessions[0].resumes == 1
    ix = await fake.slash(world.alice, "plugins enable", {"plugin": "after-resume"})
    await ix.response()
    assert running.seen.plugin_toggles[-1] == ("enable", "after-resume")


async def test_plain_text_gateway_and_message_content_intent(
    fake: FakeDiscord, world: World
) -> None:
    fake.compress = False  # plain JSON text frames even though nextcord asks for zlib-stream
    no_content = nextcord.Intents.default()
    no_content.members = True
    bot = commands.Bot(intents=no_content, guild_ready_timeout=0.2)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await fake.wait_until_connected()
        assert fake.sessions[0].connection is not None
        channel = world.guild.text_channel
        plain = asyncio.ensure_future(bot.wait_for("message", timeout=5))
        await fake.send_message(world.bob, channel, "secret")
        assert (await plain).content == ""  # no MESSAGE_CONTENT intent
        mention = asyncio.ensure_future(bot.wait_for("message", timeout=5))
        await fake.send_message(world.bob, channel, f"<@{fake.bot_user_id}> hi")
        assert (await mention).content.endswith("hi")  # mentions the bot: content kept
        assert fake.text_of(fake.channel_messages(channel.id)[0]) == "secret"
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)


class QuickShardedBot(commands.AutoShardedBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # nextcord sleeps 5 s between shard IDENTIFYs by default


async def test_two_shards_get_their_own_guilds() -> None:
    async with FakeDiscord(token="shard-token", shard_count=2) as fake:
        g0 = fake.create_guild("Zero", shard_id=0)
        g1 = fake.create_guild("One", shard_id=1)
        owner = g1.owner
        old_base, Route.BASE = Route.BASE, fake.api_base
        bot = QuickShardedBot(
            intents=intents(), default_guild_ids=[g0.id, g1.id], guild_ready_timeout=0.2
        )
        seen: list[str] = []

        @bot.slash_command(description="Where am I")
        async def where(inter: nextcord.Interaction) -> None:
            seen.append(f"{inter.guild_id}")
            await inter.response.send_message(f"shard {inter.guild.shard_id}")

        task = asyncio.create_task(bot.start(fake.token))
        try:
            await fake.wait_until_connected()
            by_shard = {s.shard_id: s for s in fake.sessions}
            assert set(by_shard) == {0, 1} and by_shard[0].shard_count == 2
            for shard_id, guild in ((0, g0), (1, g1)):
                frames = [t for _, t in by_shard[shard_id].history if '"GUILD_CREATE"' in t]
                assert len(frames) == 1 and f'"id":"{guild.id}"' in frames[0]
            assert bot.get_guild(g0.id).shard_id == 0 and bot.get_guild(g1.id).shard_id == 1
            await fake.wait_for_command("where", guild_id=g1.id)
            ix = await fake.slash(owner, "where")
            assert (await ix.response())["data"]["content"] == "shard 1"
        finally:
            await bot.close()
            await asyncio.wait_for(task, 10)
            Route.BASE = old_base
        assert not fake.internal_errors


# ---------------------------------------------------------------------------------------------
# limits (no bot needed)


def test_limits_produce_discord_error_trees() -> None:
    errors = FormErrors()
    assert check_message(errors, {"content": ""}) is True  # empty
    errors = FormErrors()
    check_message(
        errors,
        {
            "content": "x" * 2001,
            "embeds": [{"title": "t" * 257, "fields": [{"name": "n", "value": ""}] * 26}] * 11,
        },
    )
    tree = errors.tree
    assert tree["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert tree["embeds"]["_errors"][0]["message"] == "Must be 10 or fewer in length."
    assert tree["embeds"]["0"]["title"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert "fields" in tree["embeds"]["0"]

    errors = FormErrors()
    button = {"type": 2, "style": 1, "label": "l" * 81, "custom_id": "c" * 101}
    select = {"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}] * 26}
    check_components(
        errors,
        [{"type": 1, "components": [button] * 6}, {"type": 1, "components": [select, button]}]
        + [
            {"type": 1, "components": [{"type": 2, "style": 2, "label": "ok", "custom_id": f"{i}"}]}
            for i in range(4)
        ],
    )
    codes = str(errors.tree)
    for code in (
        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
        "BASE_TYPE_BAD_LENGTH",
        "COMPONENT_CUSTOM_ID_DUPLICATED",
        "Must be 5 or fewer in length.",
    ):
        assert code in codes

    errors = FormErrors()
    check_modal(
        errors,
        {
            "title": "t" * 46,
            "custom_id": "m",
            "components": [
                {
                    "type": 1,
                    "components": [{"type": 4, "custom_id": f"f{i}", "style": 1, "label": "x"}],
                }
                for i in range(6)
            ],
        },
    )
    assert "title" in errors.tree["data"] and "components" in errors.tree["data"]
