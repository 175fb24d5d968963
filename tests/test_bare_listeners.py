"""Listeners a plugin registers outside its cogs (`ctx.bot.add_listener`, `@ctx.bot.listen()`,
`@ctx.bot.event`, a cog it adds in setup) get the same gate and toggle as cog listeners: an
unverified member's message never reaches them in an ADULTS_ONLY plugin."""

from __future__ import annotations

import asyncio

import nextcord
import pytest
from nextcord.ext import commands
from structlog.testing import capture_logs

from bot.contract import Plugin, PluginContext, all_ages
from bot.gating import UNATTRIBUTED, surfaces
from bot.models import AuditLog
from tests.listen_probe import OVERHEARD, OVERHEARD_EVENT, LooseProbe, overheard
from tests.probe_plugin import ProbePlugin

pytestmark = pytest.mark.asyncio

GATED = {"add_listener", "listen", "event", "later", "extra_events", "assigned"}


@pytest.fixture
async def loose_bot(world, start_bot):
    probe, loose = ProbePlugin(), LooseProbe()
    running = await start_bot(plugins=[probe, loose])
    return running, probe, loose


async def test_an_unverified_members_message_reaches_only_the_all_ages_listener(
    loose_bot, world, fake_discord
):
    _running, probe, loose = loose_bot
    loose.register_now.set()
    await loose.registered_later.wait()
    probe.gate.verified.add(world.other.id)

    await fake_discord.send_message(world.member, world.channel, "unverified says hi")
    await fake_discord.send_message(world.other, world.channel, "verified says hi")
    await loose.wait_for(lambda: loose.heard_from("verified says hi") == GATED | {"all_ages"}
                         and "all_ages" in loose.heard_from("unverified says hi"))
    await probe.gate.wait_asked(world.member.id)
    assert loose.heard_from("unverified says hi") == {"all_ages"}
    denied = await AuditLog.filter(action="age_gate.denied", actor_id=world.member.id)\
        .values_list("target", flat=True)
    assert "loose:on_message:heard" in denied


async def test_bot_event_adds_a_listener_and_leaves_the_bots_own_handlers_alone(
    loose_bot, world, fake_discord
):
    running, probe, loose = loose_bot
    probe.gate.verified.add(world.member.id)
    # The router still answers slash commands: @bot.event replaced no handler of the bot.
    ix = await fake_discord.slash(world.member, "probe ping")
    assert (await ix.response())["data"]["content"] == "pong"
    await fake_discord.send_message(world.member, world.channel, "hello")
    await loose.wait_for(lambda: "event" in loose.heard_from("hello"))
    assert "on_message" not in vars(running.bot)


async def test_disabling_the_plugin_in_a_guild_silences_its_loose_listeners_there(
    loose_bot, world, fake_discord
):
    _running, probe, loose = loose_bot
    probe.gate.verified.add(world.member.id)
    off = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "loose"})
    await off.response()
    await fake_discord.send_message(world.member, world.channel, "while off")
    ix = await fake_discord.slash(world.member, "loose tip")
    assert "turned off" in (await ix.response())["data"]["content"]

    on = await fake_discord.slash(world.admin, "plugins enable", {"plugin": "loose"})
    await on.response()
    await fake_discord.send_message(world.member, world.channel, "back on")
    await loose.wait_for(lambda: loose.heard_from("back on") >= GATED - {"later"})
    # Messages are handled in order: "back on" heard proves "while off" was dropped.
    assert loose.heard_from("while off") == set()
    assert ("command", "tip") not in loose.heard


async def test_a_cog_the_plugin_adds_in_setup_routes_as_the_plugins(
    loose_bot, world, fake_discord
):
    _running, probe, loose = loose_bot
    ix = await fake_discord.slash(world.member, "loose tip")
    assert "Verify your age" in (await ix.response())["data"]["content"]
    assert loose.heard == []
    probe.gate.verified.add(world.member.id)
    ix = await fake_discord.slash(world.member, "loose tip")
    assert (await ix.response())["data"]["content"] == "Cure buds for two weeks."


async def test_every_loose_listener_is_listed_as_a_gated_surface_but_the_all_ages_one(
    loose_bot
):
    running, _probe, loose = loose_bot
    loose.register_now.set()
    await loose.registered_later.wait()
    listed = {s.name: s.gate for s in surfaces(running.bot)
              if s.plugin == "loose" and s.kind == "listener"}
    assert set(listed) == {"on_message:heard", "on_message:listened", "on_message:on_message",
                           "on_message:counted", "on_message:partial", "on_message:appended",
                           "on_message:assigned"}
    assert [name for name, gate in listed.items() if not gate.gated] == ["on_message:counted"]
    assert listed["on_message:counted"].why == "all_ages"
    loose_commands = {s.name for s in surfaces(running.bot)
                if s.plugin == "loose" and s.kind == "command"}
    assert loose_commands == {"/loose tip", "/loose ask"}


async def test_a_listener_no_plugin_owns_hears_only_verified_members_and_is_logged(
    loose_bot, world, fake_discord
):
    running, probe, _loose = loose_bot
    stray_heard: list[str] = []
    heard = asyncio.Event()

    async def stray(message: nextcord.Message) -> None:
        stray_heard.append(message.content)
        heard.set()

    stray.__module__ = "some_library"  # code no plugin owns, registered outside any plugin
    with capture_logs() as logs:
        running.bot.add_listener(stray, "on_message")
    assert [e["surface"] for e in logs if e["event"] == "listener.unattributed"] == [
        "on_message:stray"]
    listed = [s for s in surfaces(running.bot) if s.plugin == UNATTRIBUTED]
    assert [(s.name, s.gate.gated) for s in listed] == [("on_message:stray", True)]

    probe.gate.verified.add(world.other.id)
    await fake_discord.send_message(world.member, world.channel, "unverified")
    await probe.gate.wait_asked(world.member.id)
    await fake_discord.send_message(world.other, world.channel, "verified")
    await asyncio.wait_for(heard.wait(), 5)
    assert stray_heard == ["verified"]


async def test_wait_for_in_a_command_skips_an_unverified_members_message(
    loose_bot, world, fake_discord
):
    _running, probe, loose = loose_bot
    probe.gate.verified.add(world.admin.id)
    ix = await fake_discord.slash(world.admin, "loose ask")
    assert (await ix.response())["data"]["content"] == "Name a strain."
    await asyncio.wait_for(loose.waiting.wait(), 5)
    await fake_discord.send_message(world.member, world.channel, "unverified answer")
    await probe.gate.wait_asked(world.member.id)
    await fake_discord.send_message(world.admin, world.channel, "Blue Dream")
    await loose.wait_for(lambda: any(how == "wait_for" for how, _ in loose.heard))
    assert [said for how, said in loose.heard if how == "wait_for"] == ["Blue Dream"]


async def test_a_plugin_removes_its_own_listener_with_the_function_it_added(
    loose_bot, world, fake_discord
):
    running, probe, loose = loose_bot
    probe.gate.verified.add(world.member.id)
    running.bot.remove_listener(loose.funcs["add_listener"], "on_message")
    await fake_discord.send_message(world.member, world.channel, "after removal")
    await loose.wait_for(lambda: "listen" in loose.heard_from("after removal"))
    assert "add_listener" not in loose.heard_from("after removal")
    assert "on_message:heard" not in {s.name for s in surfaces(running.bot)}


class HalfwayPlugin(Plugin):
    """Registers a listener, then fails its setup: the listener must go with it."""

    name = "halfway"

    def __init__(self) -> None:
        self.heard: list[str] = []

    async def setup(self, ctx: PluginContext) -> None:
        @ctx.bot.listen("on_message")
        @all_ages
        async def heard(message: nextcord.Message) -> None:
            self.heard.append(message.content)

        raise RuntimeError("cannot reach its service")


async def test_a_plugin_whose_setup_fails_leaves_no_listener_behind(
    world, start_bot, fake_discord
):
    probe, halfway = ProbePlugin(), HalfwayPlugin()
    running = await start_bot(plugins=[probe, halfway])
    assert "halfway" in running.bot.plugins.failed
    assert [e for e in running.bot.listeners.registrations() if e.plugin == "halfway"] == []
    await fake_discord.send_message(world.member, world.channel, "anyone there?")
    assert await probe.wait_messages(1) == ["anyone there?"]
    assert halfway.heard == []


async def test_a_listener_registered_from_outside_is_its_modules_plugins(
    loose_bot, world, fake_discord
):
    running, probe, _loose = loose_bot
    OVERHEARD.clear()
    OVERHEARD_EVENT.clear()
    running.bot.add_listener(overheard, "on_message")
    listed = {(s.plugin, s.name): s.gate.gated for s in surfaces(running.bot)}
    assert listed[("loose", "on_message:overheard")] is True

    probe.gate.verified.add(world.other.id)
    await fake_discord.send_message(world.member, world.channel, "unverified")
    await probe.gate.wait_asked(world.member.id)
    await fake_discord.send_message(world.other, world.channel, "verified")
    await asyncio.wait_for(OVERHEARD_EVENT.wait(), 5)
    assert OVERHEARD == ["verified"]


async def test_a_cog_no_plugin_owns_is_refused(loose_bot):
    running, _probe, _loose = loose_bot

    class Stray(commands.Cog):
        @nextcord.slash_command(name="stray", description="Would route as the core's")
        async def stray(self, interaction: nextcord.Interaction) -> None: ...

    Stray.__module__ = "some_library"
    with capture_logs() as logs, pytest.raises(nextcord.ClientException, match="no plugin"):
        running.bot.add_cog(Stray())
    assert [e["cog"] for e in logs if e["event"] == "cog.unattributed"] == ["Stray"]
    assert running.bot.get_cog("Stray") is None
