"""21+ by construction, as people live it through the fake Discord: every ui surface is behind
the core's age gate, every control needs the state row made for it, and 21+ answers are shown
only to the member who asked unless the channel is one only verified members can read."""

from __future__ import annotations

from typing import Any

import pytest

from bot.api import ADULTS_ONLY
from bot.models import AuditLog, ComponentState
from plugins.ui.models import QuizAttempt, Strain
from plugins.ui.plugin import UIPlugin
from plugins.ui.tests.conftest import custom_ids, embed_text, find_id

EXPIRED = "This control has expired"

# Every component action the plugin registers, with the kind of state row it was made with.
ACTIONS = {
    "strain.details": "card",
    "strain.effects": "card",
    "strain.grow": "card",
    "strain.pick": "picker",
    "explore.cat": "explore",
    "quiz.answer": "quiz",
}
SELECTS = {"strain.pick", "explore.cat"}

# Every slash command of the plugin (leaves of the groups), with valid options.
MEMBER_COMMANDS = [
    ("strain info", {"name": "OG Kush"}),
    ("strain recommend", {"effect": "Sleepy"}),
    ("strain explore", {}),
    ("quiz start", {}),
    ("grow wizard", {}),
    ("compliance check", {}),
]
ADMIN_COMMANDS = [
    ("strain add", {}),
    ("strain edit", {"name": "OG Kush"}),
    ("quiz add", {}),
]


def _custom_id(action: str, state_id: str | None, arg: str | None) -> str:
    """A custom_id as it travels: `ui:<action>[:<state id>[:<arg>]]`, "-" for a missing state
    id before an argument."""
    parts = ["ui", action]
    if state_id is not None or arg is not None:
        parts.append(state_id or "-")
    if arg is not None:
        parts.append(arg)
    return ":".join(parts)


def _state_id(custom_id: str) -> str:
    """The state id of a control's custom_id (the ui plugin's or a core block's)."""
    _prefix, _action, state_id, *_arg = custom_id.split(":")
    assert state_id != "-"
    return state_id


async def _press(fake_discord: Any, actor: Any, message: dict[str, Any], action: str,
                 state_id: str | None, *, arg: str | bool | None = True) -> Any:
    """Send the control `action` as a client would (a forged one is sent all the same);
    `arg=True`: the argument the real control carries (a quiz answer's "0.0")."""
    if arg is True:
        arg = "0.0" if action == "quiz.answer" else None
    custom_id = _custom_id(action, state_id, arg or None)
    if action in SELECTS:
        value = "all" if action == "explore.cat" else str((await Strain.first()).id)
        return await fake_discord.select(actor, message, custom_id, [value])
    return await fake_discord.click(actor, message, custom_id)


async def _controls_of_every_kind(fake_discord: Any, world: Any) -> dict[str, tuple[Any, str]]:
    """A verified member opens one control of each kind; kind → (message, state id)."""
    card = await (await fake_discord.slash(world.member, "strain info",
                                           {"name": "OG Kush"})).wait_original()
    picker = await (await fake_discord.slash(world.member, "strain recommend",
                                             {"effect": "Sleepy"})).wait_original()
    explore = await (await fake_discord.slash(world.member, "strain explore")).wait_original()
    quiz = await (await fake_discord.slash(world.member, "quiz start")).wait_original()
    picked = await fake_discord.select(world.member, explore,
                                       find_id(explore, "explore.cat"), ["all"])
    pages = await picked.wait_original()
    return {
        "card": (card, _state_id(find_id(card, "strain.details"))),
        "picker": (picker, _state_id(find_id(picker, "strain.pick"))),
        "explore": (explore, _state_id(find_id(explore, "explore.cat"))),
        "quiz": (quiz, _state_id(find_id(quiz, "quiz.answer"))),
        # A core paginator row owned by the ui plugin is yet another kind.
        "paginator": (pages, _state_id(find_id(pages, "pg.next"))),
    }


def _assert_denied(ix: Any, resp: dict[str, Any]) -> None:
    """The gate's answer: ephemeral, a Verify button, and nothing of the content."""
    data = resp["data"]
    assert resp["type"] == 4 and ix.ephemeral
    assert "Verify" in data["content"] or "21+" in data["content"]
    assert "uitest:verify" in custom_ids(data)
    assert not data.get("embeds")


# ----- slash commands and autocomplete --------------------------------------------------------

def _leaves(command: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(full name, command) of each runnable command in a synced command tree."""
    name = f"{prefix}{command['name']}"
    nested = [o for o in command.get("options") or [] if o["type"] in (1, 2)]
    if not nested:
        return [(name, command)]
    return [leaf for o in nested for leaf in _leaves(o, f"{name} ")]


async def test_these_tests_cover_every_ui_surface(ui_bot, fake_discord):
    """A command, autocomplete or control added to the plugin fails here until it is added
    to the lists the tests below walk through, which show each of them closed to unverified
    members. The plugin is rated adults_only: the core gates whatever it does not open."""
    assert UIPlugin.rating == ADULTS_ONLY
    ours = {c.name for c in ui_bot.bot.get_cog("ui").application_commands}
    synced = [leaf for c in fake_discord.all_commands() if c["name"] in ours
              for leaf in _leaves(c)]
    assert sorted(name for name, _ in synced) == sorted(
        name for name, _ in MEMBER_COMMANDS + ADMIN_COMMANDS)
    autocompleted = sorted(f"/{name} {o['name']}" for name, c in synced
                           for o in c.get("options") or [] if o.get("autocomplete"))
    assert autocompleted == ["/strain edit name", "/strain info name"]
    assert sorted(ui_bot.bot.component_handlers_of("ui")) == sorted(ACTIONS)


@pytest.mark.parametrize(("command", "options"), MEMBER_COMMANDS + ADMIN_COMMANDS)
async def test_unverified_member_is_stopped_at_the_gate(ui_bot, world, fake_discord, command,
                                                        options):
    # An unverified admin: holding Manage Server is no substitute for being verified 21+.
    ui_bot.providers.verified.discard(world.admin.id)
    asker = world.admin if (command, options) in ADMIN_COMMANDS else world.other
    ix = await fake_discord.slash(asker, command, options)
    _assert_denied(ix, await ix.response())
    assert ix.modal is None and len(ix.responses) == 1
    denied = await AuditLog.filter(action="age_gate.denied", actor_id=asker.id).count()
    assert denied == 1
    # Nothing was started on the member's behalf.
    assert await ComponentState.all().count() == 0
    assert await QuizAttempt.all().count() == 0


@pytest.mark.parametrize("command", ["strain info", "strain edit"])
async def test_strain_autocomplete_offers_unverified_members_nothing(ui_bot, world,
                                                                      fake_discord, command):
    ui_bot.providers.verified.discard(world.admin.id)
    for asker in (world.other, world.admin):
        choices = await fake_discord.autocomplete(asker, command, {"name": "blue"},
                                                  focused="name")
        assert choices == []


# ----- components: forged, mismatched and gated -----------------------------------------------

@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_a_control_without_a_state_id_has_expired(ui_bot, world, fake_discord, action):
    card = await (await fake_discord.slash(world.member, "strain info",
                                           {"name": "OG Kush"})).wait_original()
    # `ui:<action>`, and `ui:<action>:-:<arg>` (no state id, an argument all the same).
    for arg in (None, "0.0"):
        ix = await _press(fake_discord, world.member, card, action, None, arg=arg)
        resp = await ix.response()
        assert ix.ephemeral and resp["data"]["content"].startswith(EXPIRED), (arg, resp)
        assert not resp["data"].get("embeds") and not ix.followups


async def test_a_state_row_drives_only_the_controls_made_for_it(ui_bot, world, fake_discord):
    rows = await _controls_of_every_kind(fake_discord, world)
    quiz_state = await ComponentState.get(id=rows["quiz"][1])
    for action, kind in ACTIONS.items():
        for other_kind, (message, state_id) in rows.items():
            if other_kind == kind:
                continue
            ix = await _press(fake_discord, world.member, message, action, state_id)
            resp = await ix.response()
            assert ix.ephemeral, (action, other_kind)
            assert resp["data"]["content"].startswith(EXPIRED), (action, other_kind, resp)
            assert not resp["data"].get("embeds") and not ix.followups
    # The quiz was not advanced by any of it.
    assert (await ComponentState.get(id=quiz_state.id)).data == quiz_state.data


async def test_unverified_member_pressing_live_controls_is_stopped_at_the_gate(
        ui_bot, world, fake_discord):
    rows = await _controls_of_every_kind(fake_discord, world)
    # Staff reset the member's verification: their open controls stop working for them.
    ui_bot.providers.verified.discard(world.member.id)
    for action, kind in ACTIONS.items():
        message, state_id = rows[kind]
        before = await AuditLog.filter(action="age_gate.denied").count()
        ix = await _press(fake_discord, world.member, message, action, state_id)
        _assert_denied(ix, await ix.response())
        assert await AuditLog.filter(action="age_gate.denied",
                                     actor_id=world.member.id).count() == before + 1
    # And an unverified member pressing a card someone shared in the channel is stopped too.
    card, state_id = rows["card"]
    for action in ("strain.details", "strain.effects", "strain.grow"):
        ix = await _press(fake_discord, world.other, card, action, state_id)
        _assert_denied(ix, await ix.response())


# ----- where 21+ answers go -------------------------------------------------------------------

async def test_strain_card_and_quiz_are_private_in_an_ordinary_channel(ui_bot, world,
                                                                      fake_discord):
    card = await fake_discord.slash(world.member, "strain info", {"name": "Blue Dream"})
    resp = await card.response()
    assert resp["type"] == 4 and int(resp["data"]["flags"]) & 64
    assert "Blue Dream" in embed_text(resp["data"])
    assert "Shown only to you" in resp["data"]["content"]

    quiz = await fake_discord.slash(world.member, "quiz start")
    resp = await quiz.response()
    assert resp["type"] == 4 and int(resp["data"]["flags"]) & 64
    assert "question 1 of 5" in embed_text(resp["data"])
    # Nothing of either landed in the channel for everyone to read.
    public = [m for m in fake_discord.channel_messages(world.channel)
              if not int(m.get("flags") or 0) & 64]
    assert public == []


async def test_core_controls_showing_ui_content_are_gated_too(ui_bot, world, fake_discord):
    """The explorer's pages and strain chooser and the grow wizard's form are core blocks, but
    what they show is the ui plugin's 21+ content: same gate."""
    explore = await (await fake_discord.slash(world.member, "strain explore")).wait_original()
    picked = await fake_discord.select(world.member, explore, find_id(explore, "explore.cat"),
                                       ["all"])
    pages = await picked.wait_original()
    [chooser] = await picked.wait_followups(1)
    wizard = await fake_discord.slash(world.member, "grow wizard")
    modal = (await wizard.response())["data"]

    ui_bot.providers.verified.discard(world.member.id)
    next_page = await fake_discord.click(world.member, pages, find_id(pages, "pg.next"))
    _assert_denied(next_page, await next_page.response())
    pick = await fake_discord.select(world.member, chooser, find_id(chooser, "sl.pick"),
                                     ["ACDC"])
    _assert_denied(pick, await pick.response())
    submitted = await fake_discord.submit_modal(
        world.member, modal["custom_id"], {"goal": "Big harvest", "experience": "beginner"})
    _assert_denied(submitted, await submitted.response())
    denied = await AuditLog.filter(action="age_gate.denied", actor_id=world.member.id).count()
    assert denied == 3


async def test_strain_card_and_quiz_are_public_in_a_21_plus_channel(ui_bot, world,
                                                                   fake_discord):
    lounge = world.guild.add_text_channel("21-plus-lounge")
    # An admin marked it 21+ and the verifying plugin found it closed to unverified members.
    ui_bot.providers.adult_channels.add(lounge.id)
    await fake_discord.settle()

    card = await fake_discord.slash(world.member, "strain info", {"name": "Blue Dream"},
                                    channel=lounge)
    shown = await card.wait_original()
    assert not card.ephemeral and "Blue Dream" in embed_text(shown)
    assert "Shown only to you" not in (shown.get("content") or "")
    # Another verified member in the lounge may use the shared card's buttons.
    effects = await fake_discord.click(world.admin, shown, find_id(shown, "strain.effects"))
    answer = (await effects.response())["data"]
    assert effects.ephemeral and "**Relaxed**" in embed_text(answer)

    quiz = await fake_discord.slash(world.member, "quiz start", channel=lounge)
    question = await quiz.wait_original()
    assert not quiz.ephemeral and "question 1 of 5" in embed_text(question)
    assert [m["id"] for m in fake_discord.channel_messages(lounge)] == [shown["id"],
                                                                        question["id"]]
    # The ordinary channel next door got nothing.
    assert fake_discord.channel_messages(world.channel) == []
