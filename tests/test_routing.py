"""One router for every interaction: expired and forged controls, errors, the 21+ gate,
throttling, deferral, and mentions that cannot ping anyone."""

from __future__ import annotations

import json
import logging
import re

import pytest

from bot.logs import growmies_handler
from bot.models import AuditLog, ComponentState
from bot.settings import Settings
from tests.probe_plugin import BrokenPlugin, ProbePlugin, registry_with

EXPIRED = "This control has expired"


@pytest.mark.parametrize(
    "custom_id",
    [
        "nosuch:do:abc",            # a plugin that is not installed
        "probe:nosuch",             # an action nobody handles
        "probe:count:" + "A" * 12,  # a state id that does not exist
        "probe",                    # malformed
        "probe:count:" + "x" * 95,  # over Discord's 100 characters
        "probe:count:ÄÖÜ",          # non-ASCII
        "core:pg.next:zzzzzzzzzzzz",
    ],
)
async def test_forged_or_unknown_custom_ids_say_expired(start_bot, world, fake_discord,
                                                        custom_id):
    probe = ProbePlugin()
    await start_bot(registry=registry_with(probe))
    ix = await fake_discord.slash(world.member, "probe button")
    message = await ix.wait_original()
    click = await fake_discord.click(world.member, message, custom_id)
    resp = await click.response()
    assert resp["type"] == 4 and click.ephemeral
    assert EXPIRED in resp["data"]["content"]
    assert probe.calls == []


async def test_custom_id_naming_a_disabled_plugin_is_refused(start_bot, world, fake_discord):
    probe = ProbePlugin()
    await start_bot(registry=registry_with(probe))
    ix = await fake_discord.slash(world.member, "probe button")
    message = await ix.wait_original()
    custom_id = message["components"][0]["components"][0]["custom_id"]
    off = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "probe"})
    await off.response()
    click = await fake_discord.click(world.member, message, custom_id)
    assert "turned off" in (await click.response())["data"]["content"]
    assert probe.calls == []


async def test_button_owned_by_someone_else_answers_not_yours(start_bot, world, fake_discord):
    probe = ProbePlugin()
    await start_bot(registry=registry_with(probe))
    ix = await fake_discord.slash(world.member, "probe button")
    message = await ix.wait_original()
    custom_id = message["components"][0]["components"][0]["custom_id"]
    click = await fake_discord.click(world.other, message, custom_id)
    resp = await click.response()
    assert "isn't yours" in resp["data"]["content"] and click.ephemeral
    state = await ComponentState.get(id=custom_id.split(":")[2])
    assert state.data == {"n": 0}


async def test_unexpected_error_shows_a_ref_and_logs_it_without_secrets(
    start_bot, world, fake_discord, caplog
):
    probe = ProbePlugin()
    running = await start_bot(registry=registry_with(probe))
    caplog.set_level(logging.ERROR)
    ix = await fake_discord.slash(world.member, "probe boom")
    resp = await ix.response()
    content = resp["data"]["content"]
    assert content.startswith("Something went wrong (ref ") and ix.ephemeral
    ref = content.split("ref ")[1].rstrip(").")
    assert "Traceback" not in content and "kaboom" not in content
    records = [r for r in caplog.records if ref in r.getMessage()]
    assert records, "the log line carries the same ref"
    handler = growmies_handler()
    assert handler is not None
    rendered = "\n".join(handler.format(r) for r in records)
    assert running.settings.require_token() not in rendered
    assert "***" in rendered


async def test_age_restricted_command_denies_unverified_and_audits(start_bot, world,
                                                                   fake_discord):
    probe = ProbePlugin()
    await start_bot(registry=registry_with(probe))
    ix = await fake_discord.slash(world.member, "probe secret")
    resp = await ix.response()
    assert "Verify your age" in resp["data"]["content"] and ix.ephemeral
    button = resp["data"]["components"][0]["components"][0]
    assert button["custom_id"] == "probe:verify"
    assert "secret" not in probe.calls

    probe.gate.verified.add(world.member.id)
    ix = await fake_discord.slash(world.member, "probe secret")
    assert (await ix.response())["data"]["content"] == "21+ stuff"
    rows = await AuditLog.filter(target="probe.secret").order_by("id").values_list(
        "action", "actor_id", "details")
    assert [(a, u) for a, u, _ in rows] == [
        ("age_gate.denied", world.member.id), ("age_gate.allowed", world.member.id)]
    assert rows[0][2]["reason"] == "unverified"


async def test_age_gate_fails_closed_on_errors_and_when_verifier_is_off(
    start_bot, world, fake_discord
):
    probe = ProbePlugin()
    await start_bot(registry=registry_with(probe))
    probe.gate.verified.add(world.member.id)
    probe.gate.fail = True
    ix = await fake_discord.slash(world.member, "probe secret")
    assert "unavailable" in (await ix.response())["data"]["content"]
    probe.gate.fail = False
    # Turning the verifying plugin off in the guild denies too (it is also the probe here).
    assert "secret" not in probe.calls
    reasons = await AuditLog.filter(action="age_gate.denied").values_list("details", flat=True)
    assert [r["reason"] for r in reasons] == ["error"]


async def test_age_gate_denies_when_no_verifier_is_loaded(start_bot, world, fake_discord):
    probe = ProbePlugin(provide_gate=False)
    running = await start_bot(registry=registry_with(probe, allow=[]))
    running.services.age_gate.withdraw("compliance")
    ix = await fake_discord.slash(world.member, "probe secret")
    resp = await ix.response()
    assert "not available" in resp["data"]["content"]
    assert "secret" not in probe.calls


async def test_member_throttle_answers_slow_down(start_bot, world, fake_discord):
    await start_bot(registry=registry_with(ProbePlugin()), interaction_rate=2,
                    interaction_per=60, interaction_burst=2)
    for _ in range(2):
        ix = await fake_discord.slash(world.member, "probe ping")
        assert (await ix.response())["data"]["content"] == "pong"
    ix = await fake_discord.slash(world.member, "probe ping")
    resp = await ix.response()
    assert resp["data"]["content"].startswith("Slow down — try again in ")
    assert ix.ephemeral
    # Another member is not affected.
    ix = await fake_discord.slash(world.other, "probe ping")
    assert (await ix.response())["data"]["content"] == "pong"


async def test_slow_handler_is_deferred_before_discords_deadline(start_bot, world,
                                                                 fake_discord):
    probe = ProbePlugin()
    await start_bot(registry=registry_with(probe))
    ix = await fake_discord.slash(world.member, "probe slow")
    resp = await ix.response(timeout=5)
    assert resp["type"] == 5
    assert ix.ack_latency < 3.0
    probe.release.set()
    followups = await ix.wait_followups(1)
    assert "done slowly" in json.dumps(followups) or "done slowly" in json.dumps(ix.original)


async def test_public_command_is_deferred_publicly(start_bot, world, fake_discord):
    probe = ProbePlugin()
    await start_bot(registry=registry_with(probe))
    ix = await fake_discord.slash(world.member, "probe slowpublic")
    resp = await ix.response(timeout=5)
    assert resp["type"] == 5 and not ix.ephemeral
    probe.release.set()
    await ix.wait_followups(1)


async def test_plugin_failing_setup_is_skipped_and_the_rest_start(start_bot, world,
                                                                  fake_discord):
    running = await start_bot(registry=registry_with(ProbePlugin(), BrokenPlugin()))
    assert "broken" in running.bot.plugins.failed
    assert "setup failed: RuntimeError" in running.bot.plugins.failed["broken"]
    ix = await fake_discord.slash(world.member, "probe ping")
    assert (await ix.response())["data"]["content"] == "pong"


async def test_every_message_uses_allowed_mentions_that_ping_nobody(start_bot, world,
                                                                    fake_discord):
    await start_bot(registry=registry_with(ProbePlugin()))
    ix = await fake_discord.slash(world.member, "probe ping")
    await ix.response()
    callbacks = [r for r in fake_discord.requests if r.path.endswith("/callback")]
    assert callbacks
    for req in callbacks:
        data = (req.json or {}).get("data") or {}
        if "content" in data:
            assert data["allowed_mentions"]["parse"] == []


async def test_default_throttle_lets_an_admin_page_through_a_burst(start_bot, world,
                                                                   fake_discord):
    """With the shipped defaults (burst 20, then 10 per 10 s) an admin clicking through
    fifteen pages in a row is never refused; only a member far past the burst is, and is
    told when to try again."""
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    await start_bot(registry=registry_with(ProbePlugin()),
                    interaction_rate=defaults.interaction_rate,
                    interaction_per=defaults.interaction_per,
                    interaction_burst=defaults.interaction_burst)
    for _ in range(15):
        ix = await fake_discord.slash(world.member, "probe ping")
        assert (await ix.response())["data"]["content"] == "pong"
    answers = []
    for _ in range(10):
        ix = await fake_discord.slash(world.member, "probe ping")
        answers.append((await ix.response())["data"]["content"])
    refused = [a for a in answers if a != "pong"]
    assert refused, "a member far past the burst is slowed down"
    assert all(re.fullmatch(r"Slow down — try again in \d+ s\.", a) for a in refused)
