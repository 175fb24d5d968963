"""21+ by construction: an ADULTS_ONLY plugin that declares nothing is gated on every surface,
as an unverified member trying each one would find."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.client import AUTOCOMPLETE_BURST, AUTOCOMPLETE_PER
from bot.gating import UNATTRIBUTED, surfaces
from bot.models import AuditLog, ComponentState
from bot.throttle import InteractionThrottle
from tests.adult_probe import AdultProbe
from tests.listen_probe import LooseProbe
from tests.probe_plugin import ProbePlugin, registry_with

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parent.parent
ACTION_NAME = re.compile(r"[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*")


@pytest.fixture
async def adult_bot(world, start_bot):
    AdultProbe.open_guilds = set()
    AdultProbe.open_fails = False
    probe, adult = ProbePlugin(), AdultProbe()
    # The test kit's way to load plugin objects next to the installed plugins.
    running = await start_bot(plugins=[probe, adult])
    return running, probe, adult


async def test_unverified_member_is_refused_every_subcommand_but_the_all_ages_one(
    adult_bot, world, fake_discord
):
    _running, probe, adult = adult_bot
    ix = await fake_discord.slash(world.member, "adult tip")
    resp = await ix.response()
    assert "Verify your age" in resp["data"]["content"] and ix.ephemeral
    assert resp["data"]["components"][0]["components"][0]["custom_id"] == "probe:verify"
    assert adult.calls == []

    rules = await fake_discord.slash(world.member, "adult rules")
    assert (await rules.response())["data"]["content"] == "Be kind."

    probe.gate.verified.add(world.member.id)
    ix = await fake_discord.slash(world.member, "adult tip")
    assert "cool, dark place" in (await ix.response())["data"]["content"]
    rows = await AuditLog.filter(target="adult:/adult tip").order_by("id").values_list(
        "action", flat=True)
    assert rows == ["age_gate.denied", "age_gate.allowed"]


async def test_a_surface_an_admin_opened_to_all_is_open_and_stays_gated_on_errors(
    adult_bot, world, fake_discord
):
    _running, _probe, adult = adult_bot
    ix = await fake_discord.slash(world.member, "adult chat")
    assert "Verify your age" in (await ix.response())["data"]["content"]
    AdultProbe.open_guilds.add(world.guild.id)
    ix = await fake_discord.slash(world.member, "adult chat")
    assert (await ix.response())["data"]["content"] == "chatting"
    AdultProbe.open_fails = True
    ix = await fake_discord.slash(world.member, "adult chat")
    assert "Verify your age" in (await ix.response())["data"]["content"]
    assert adult.calls == ["chat"]


async def test_autocomplete_offers_nothing_to_unverified_members_and_audits_once(
    adult_bot, world, fake_discord
):
    _running, probe, adult = adult_bot
    for typed in ("b", "bl", "blu"):
        choices = await fake_discord.autocomplete(
            world.member, "adult strain", {"name": typed}, focused="name")
        assert choices == []
    assert adult.calls == []
    denied = await AuditLog.filter(action="age_gate.denied", actor_id=world.member.id,
                                   target="adult:/adult strain").count()
    assert denied == 1, "per-keystroke decisions are audited once per window"

    probe.gate.verified.add(world.member.id)
    choices = await fake_discord.autocomplete(
        world.member, "adult strain", {"name": "b"}, focused="name")
    assert [c["name"] for c in choices] == ["Blue Dream", "Sour Diesel"]


async def test_autocomplete_has_its_own_throttle(adult_bot, world, fake_discord):
    running, probe, adult = adult_bot
    probe.gate.verified.add(world.member.id)
    # Time stands still during the burst, so no slot refills however slow the machine is.
    running.bot.autocomplete_throttle = InteractionThrottle(
        AUTOCOMPLETE_BURST, AUTOCOMPLETE_PER, clock=lambda: 1000.0)
    answers = [
        await fake_discord.autocomplete(world.member, "adult strain", {"name": "x" * (i + 1)},
                                        focused="name")
        for i in range(AUTOCOMPLETE_BURST + 3)
    ]
    assert all(answers[:AUTOCOMPLETE_BURST])
    assert answers[AUTOCOMPLETE_BURST:] == [[], [], []]
    assert adult.calls.count("autocomplete") == AUTOCOMPLETE_BURST
    # The command itself is still allowed: typing does not spend the interaction budget.
    ix = await fake_discord.slash(world.member, "adult tip")
    assert "cool, dark place" in (await ix.response())["data"]["content"]


async def test_forged_and_mismatched_controls_expire_and_live_ones_are_gated(
    adult_bot, world, fake_discord
):
    _running, probe, adult = adult_bot
    probe.gate.verified.add(world.admin.id)
    ix = await fake_discord.slash(world.admin, "adult card")
    message = await ix.wait_original()
    flip = message["components"][0]["components"][0]["custom_id"]
    state_id = flip.split(":")[2]

    forged = [
        "adult:card.flip",                          # stateful action, no state id
        f"adult:card.flip:{adult.note_state}",      # a row of another kind
        f"adult:menu:{state_id}",                   # a stateless action given state
        f"core:pg.next:{state_id}",                 # a core block given a plugin's row
    ]
    for custom_id in forged:
        click = await fake_discord.click(world.admin, message, custom_id)
        resp = await click.response()
        assert "expired" in resp["data"]["content"] and click.ephemeral, custom_id
    assert adult.calls == []

    click = await fake_discord.click(world.member, message, flip)
    resp = await click.response()
    assert "Verify your age" in resp["data"]["content"] and click.ephemeral
    click = await fake_discord.click(world.member, message, "adult:menu")
    assert "Verify your age" in (await click.response())["data"]["content"]
    assert adult.calls == []

    click = await fake_discord.click(world.admin, message, flip)
    assert "Blue Dream" in (await click.response())["data"]["content"]


async def test_listeners_hear_only_verified_authors_unless_declared_all_ages(
    adult_bot, world, fake_discord
):
    _running, probe, adult = adult_bot
    probe.gate.verified.add(world.other.id)
    await fake_discord.send_message(world.member, world.channel, "unverified says hi")
    await fake_discord.send_message(world.other, world.channel, "verified says hi")
    await adult.wait_for(lambda: len(adult.counted) == 2 and adult.heard and adult.heard_open)
    await probe.gate.wait_asked(world.member.id)
    assert adult.heard == ["verified says hi"]
    assert adult.heard_open == ["verified says hi"]
    assert sorted(adult.counted) == ["unverified says hi", "verified says hi"]

    # An admin opens the surface to everyone: the opened listener hears unverified members.
    AdultProbe.open_guilds.add(world.guild.id)
    await fake_discord.send_message(world.member, world.channel, "open now")
    await adult.wait_for(lambda: "open now" in adult.heard_open and "open now" in adult.counted)
    assert "open now" not in adult.heard


# Surfaces of ADULTS_ONLY plugins declared @all_ages, each read and judged to show nothing 21+.
# A new @all_ages must be added here, by someone who checked it.
REVIEWED_ALL_AGES: list[tuple[str, str, str]] = [
    ("adult", "command", "/adult legacy"),
    ("adult", "command", "/adult rules"),
    ("adult", "listener", "adult.counted"),
    ("loose", "listener", "on_message:counted"),  # a probe: records that a message came
    ("llm", "command", "/llm access"),   # admin settings: channel/role allow-lists
    ("llm", "command", "/llm config"),   # admin settings (Manage Server)
    ("llm", "command", "/llm models add"),     # admin settings: models and their budgets
    ("llm", "command", "/llm models remove"),
    ("llm", "command", "/llm usage"),    # token counts (own; the server's for admins)
]


async def test_every_surface_of_every_plugin_is_gated_or_declared(
    start_bot, monkeypatch
):
    """Every plugin of the test session (the built-in ones, the example plugin, the probes):
    in an ADULTS_ONLY plugin nothing may be open unless declared and reviewed."""
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "hello-plugin"))
    from growmies_hello import plugin as hello

    running = await start_bot(
        registry=registry_with(ProbePlugin(), AdultProbe(), LooseProbe(), hello))
    found = surfaces(running.bot)
    kinds = {(s.plugin, s.kind) for s in found}
    assert ("adult", "autocomplete") in kinds and ("adult", "listener") in kinds
    # Listeners added with add_listener, @bot.listen() and @bot.event are surfaces too.
    assert ("loose", "listener") in kinds
    # A listener no plugin owns is listed as such (always gated, as if ADULTS_ONLY).
    rating = {name: p.rating for name, p in running.bot.plugins.plugins.items()}
    rating[UNATTRIBUTED] = "adults_only"
    undeclared = [
        s for s in found
        if rating[s.plugin] == "adults_only" and not s.gate.gated and s.gate.why != "all_ages"
    ]
    assert undeclared == []
    open_in_adult_plugins = sorted(
        (s.plugin, s.kind, s.name) for s in found
        if rating[s.plugin] == "adults_only" and not s.gate.gated
    )
    assert open_in_adult_plugins == sorted(REVIEWED_ALL_AGES)
    assert {"compliance", "llm", "music", "ui", "hello"} <= set(rating)
    # One style for action names: lowercase words joined by dots ("<control>.<verb>").
    actions = sorted(s.name for s in found if s.kind == "component")
    assert [a for a in actions if not ACTION_NAME.fullmatch(a)] == []


async def test_21_plus_answers_are_ephemeral_outside_places_only_verified_members_can_read(
    adult_bot, world, fake_discord
):
    _running, probe, _adult = adult_bot
    probe.gate.verified.add(world.member.id)
    ix = await fake_discord.slash(world.member, "adult say")
    resp = await ix.response()
    assert ix.ephemeral, "an ordinary channel is open to unverified members"
    assert "Shown only to you" in resp["data"]["content"]
    assert "Blue Dream" in resp["data"]["content"]
    assert not [m for m in fake_discord.channel_messages(world.channel)
                if "Blue Dream" in m["content"]]


async def test_unverified_member_added_to_a_bots_private_thread_is_removed_quietly(
    adult_bot, world, fake_discord
):
    running, probe, _adult = adult_bot
    probe.gate.verified.add(world.member.id)
    ix = await fake_discord.slash(world.member, "adult room")
    await ix.response()
    created = await fake_discord.wait_for_request(
        lambda r: r.method == "POST" and r.path.endswith("/threads"), since=0)
    thread = fake_discord.get_channel(int(created.response["id"]))
    assert thread.type == 12
    await fake_discord.wait_for_message(thread, lambda m: "strain talk" in m["content"],
                                        since=0)

    await fake_discord.add_to_thread(world.member, thread, world.other)
    note = await fake_discord.wait_for_message(thread, lambda m: "removed" in m["content"])
    assert note["content"] == "A member who is not verified 21+ was removed from this thread."
    assert world.other.user.username not in note["content"]
    assert str(world.other.id) not in note["content"]
    assert world.other.id not in thread.thread_member_ids
    assert world.member.id in thread.thread_member_ids
    denied = await AuditLog.filter(action="age_gate.denied", actor_id=world.other.id,
                                   target="core:private_thread").count()
    assert denied == 1
    assert await running.services.age_gate.is_adults_only_place(
        running.bot.get_channel(thread.id))


async def test_privacy_deletion_removes_the_members_own_controls(adult_bot, world, fake_discord):
    running, _probe, _adult = adult_bot
    ix = await fake_discord.slash(world.member, "probe button")
    mine = (await ix.wait_original())["components"][0]["components"][0]["custom_id"]
    ix = await fake_discord.slash(world.other, "probe button")
    theirs = (await ix.wait_original())["components"][0]["components"][0]["custom_id"]
    removed = await running.services.privacy.delete(world.member.id, guild_id=world.guild.id)
    assert removed["core"] == 1
    assert not await ComponentState.exists(id=mine.split(":")[2])
    assert await ComponentState.exists(id=theirs.split(":")[2])


async def test_forged_custom_ids_for_every_action_of_every_plugin_expire(
    world, start_bot, fake_discord, monkeypatch
):
    """For each registered action: without a state id, with a state row of another kind, and
    (for stateless actions) with any state id, the member reads "This control has expired" —
    before any gate or handler runs."""
    from bot.contract import is_stateless
    from bot.routing import CORE

    monkeypatch.syspath_prepend(str(ROOT / "examples" / "hello-plugin"))
    from growmies_hello import plugin as hello

    probe = ProbePlugin()
    running = await start_bot(registry=registry_with(probe, AdultProbe(), hello))
    bot = running.bot
    stand_in = {"id": 1, "channel_id": world.channel.id, "components": []}
    tried = 0
    for prefix in [CORE, *bot.plugins.plugins]:
        owner = "compliance" if prefix == CORE else prefix
        other = await bot.services.components.create(owner, "forged-kind", {"x": 1},
                                                     guild_id=world.guild.id)
        for action, handler in bot.component_handlers_of(prefix).items():
            forged = [f"{prefix}:{action}:{other.id}"]
            if not is_stateless(handler):
                forged.append(f"{prefix}:{action}")
                forged.append(f"{prefix}:{action}:-:arg1")
            for custom_id in forged:
                click = await fake_discord.click(world.member, stand_in, custom_id)
                resp = await click.response()
                assert resp["type"] == 4 and click.ephemeral, custom_id
                assert resp["data"]["content"].startswith("This control has expired"), (
                    custom_id, resp["data"]["content"])
                tried += 1
    assert tried >= 40
    assert probe.calls == []


async def test_callbacks_of_nextcords_own_views_never_run(adult_bot, world, fake_discord):
    """A plugin that sends a callback-style nextcord View would skip the router: its clicks
    go through the router anyway, which knows no such action."""
    _running, _probe, adult = adult_bot
    ix = await fake_discord.slash(world.member, "adult legacy")
    message = await ix.wait_original()
    click = await fake_discord.click(world.member, message, "adult:reveal")
    resp = await click.response()
    assert resp["data"]["content"].startswith("This control has expired") and click.ephemeral
    assert "legacy-callback" not in adult.calls
