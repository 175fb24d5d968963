"""Forged custom_ids for every compliance action, sent as an unverified member would.

A modified client can send any custom_id on any message, as a button click or a modal submit.
Whatever it sends, the member gets "This control has expired" (ephemeral), and nothing changes:
no verification, no review decision, no role.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from plugins.compliance.components import ComplianceComponents
from plugins.compliance.models import MemberRecord
from plugins.compliance.tests.helpers import content, registry

EXPIRED = "This control has expired"
ACTIONS = ("verify", "dob", "approve", "deny")


async def _forge_click(fake, actor, message, custom_id):
    data = {"custom_id": custom_id, "component_type": 2}
    return await fake._send_interaction(fake._component_interaction(actor, message, data))


def test_every_registered_action_is_covered_here():
    """A new compliance action must be added to the forged-id scenarios below."""
    assert set(ComplianceComponents(None).handlers()) == set(ACTIONS)  # type: ignore[arg-type]  # names only


@pytest.fixture
async def scene(start_bot, world, fake_discord):
    running = await start_bot(registry=registry())
    # A real message to forge clicks on: a staff review request for another member.
    review = world.guild.add_text_channel("age-review")
    ix = await fake_discord.slash(world.admin, "verification settings",
                                  {"mode": "staff_review", "review_channel": review})
    await ix.response()
    await (await fake_discord.slash(world.other, "verify")).response()
    sub = await fake_discord.submit_modal(world.other, "compliance:dob",
                                          {"dob": "1990-06-15", "attest": "yes"})
    assert "Staff will review" in content(await sub.response())
    [request] = fake_discord.channel_messages(review)
    other_kind = await running.services.components.create(
        "compliance", "leaderboard_probe", {"requester": world.member.id},
        guild_id=world.guild.id, ttl=timedelta(hours=1))
    foreign = await running.services.components.create(
        "ui", "review", {"requester": world.member.id}, guild_id=world.guild.id,
        ttl=timedelta(hours=1))
    return running, request, other_kind.id, foreign.id


@pytest.mark.parametrize("action", ACTIONS)
async def test_forged_click_without_state_or_with_a_wrong_row_has_expired(
    scene, world, fake_discord, action
):
    _running, request, other_kind, foreign = scene
    forged = [f"compliance:{action}:{other_kind}", f"compliance:{action}:{foreign}",
              f"compliance:{action}:doesnotexist"]
    if action in ("approve", "deny"):
        forged.append(f"compliance:{action}")  # these need a "review" row
    for custom_id in forged:
        ix = await _forge_click(fake_discord, world.member, request, custom_id)
        answer = await ix.response()
        assert answer["type"] == 4 and EXPIRED in content(answer), custom_id
        assert ix.ephemeral, custom_id
        modal = await fake_discord.submit_modal(world.member, custom_id,
                                                {"dob": "1990-06-15", "attest": "yes"})
        assert EXPIRED in content(await modal.response()) and modal.ephemeral, custom_id
    # Nothing happened: the member was not verified, the other request is still pending.
    assert await MemberRecord.get_or_none(guild_id=world.guild.id,
                                          user_id=world.member.id) is None
    other = await MemberRecord.get(guild_id=world.guild.id, user_id=world.other.id)
    assert other.status == "pending"


async def test_an_admin_cannot_decide_a_review_through_a_row_of_another_kind(
    scene, world, fake_discord
):
    """Even staff with the permission get nothing from a state row made for something else."""
    _running, request, other_kind, _foreign = scene
    ix = await _forge_click(fake_discord, world.admin, request,
                            f"compliance:approve:{other_kind}")
    assert EXPIRED in content(await ix.response()) and ix.ephemeral
    other = await MemberRecord.get(guild_id=world.guild.id, user_id=world.other.id)
    assert other.status == "pending"


async def test_the_stateless_verify_button_still_opens_the_form(scene, world, fake_discord):
    _running, request, _other_kind, _foreign = scene
    ix = await _forge_click(fake_discord, world.member, request, "compliance:verify")
    shown = await ix.response()
    assert shown["type"] == 9 and shown["data"]["custom_id"] == "compliance:dob"
