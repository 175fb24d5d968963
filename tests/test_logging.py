"""Logs: one structlog pipeline for everything, context bound per interaction, no secrets."""

from __future__ import annotations

import json
import logging

import structlog

from bot.logs import SecretRedactor, configure_logging, growmies_handler, redactor
from tests.probe_plugin import ProbePlugin, registry_with

LAVALINK_PASSWORD = "lava-pass-9f8e7d"
OPENAI_KEY = "sk-live-abcdef123456"


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_secrets_never_reach_the_logs_even_in_error_paths(
    start_bot, world, fake_discord, capsys
):
    nodes = f'[{{"id":"a","uri":"http://127.0.0.1:9","password":"{LAVALINK_PASSWORD}"}}]'
    # Plugins' secrets (their own settings) are registered with the redactor when read.
    running = await start_bot(registry=registry_with(ProbePlugin()), plugin_settings={
        "music": {"lavalink_nodes": nodes}, "llm": {"api_key": OPENAI_KEY}})
    token = running.settings.require_token()
    configure_logging("DEBUG", "json", running.settings.secrets())
    try:
        ix = await fake_discord.slash(world.member, "probe boom")  # raises with the token
        await ix.response()
        logging.getLogger("wavelink.node").error("auth failed with %s", LAVALINK_PASSWORD)
        structlog.get_logger("x").error("llm.failed", key=OPENAI_KEY, nested={"k": [token]})
        try:
            raise ValueError(f"bad key {OPENAI_KEY}")
        except ValueError:
            logging.getLogger("openai").exception("request failed")
    finally:
        growmies_handler().flush()
    err = capsys.readouterr().err
    for secret in (token, LAVALINK_PASSWORD, OPENAI_KEY):
        assert secret not in err
    events = _lines(err)
    assert any(e.get("event") == "interaction.failed" for e in events)
    failed = next(e for e in events if e.get("event") == "interaction.failed")
    # Every interaction is logged with its guild, user, plugin, command and id.
    assert failed["guild_id"] == world.guild.id and failed["user_id"] == world.member.id
    assert failed["plugin"] == "probe" and failed["command"] == "probe boom"
    assert failed["interaction_id"]
    assert any(e.get("logger") == "wavelink.node" and "***" in e["event"] for e in events)


def test_redactor_masks_nested_values_and_exceptions():
    r = SecretRedactor(["topsecret"])
    out = r(None, "info", {"event": "x topsecret", "a": {"b": ["topsecret"]},
                           "exc": RuntimeError("topsecret!")})
    assert "topsecret" not in json.dumps(out)


def test_console_renderer_on_a_terminal_json_otherwise(capsys):
    configure_logging("INFO", "json", [])
    structlog.get_logger("t").info("hello", n=1)
    growmies_handler().flush()
    assert _lines(capsys.readouterr().err)[0]["event"] == "hello"
    configure_logging("INFO", "console", [])
    structlog.get_logger("t").info("hello2")
    assert "hello2" in capsys.readouterr().err
    assert redactor is not None
