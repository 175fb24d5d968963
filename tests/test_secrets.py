"""Secrets stay secret: a token Discord rejects, database passwords in every URL form, and the
log settings people actually type (LOG_LEVEL=debug, LOG_FORMAT=JSON)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import nextcord
import pytest
import structlog

from bot.app import prepare, shutdown
from bot.doctor import settings_rows, show_value
from bot.logs import FRAGMENT, SecretRedactor, configure_logging, growmies_handler, mask_url
from bot.settings import Settings, load_settings
from tests.probe_plugin import ProbePlugin, registry_with

ROOT = Path(__file__).resolve().parents[1]

SHORT_TOKEN = "Zq7xK"  # all of it fits in nextcord's "first 8 characters" log key
LONG_TOKEN = ("MTI4NzY1NDMyMTA5ODc2NTQzMg.GhJkLm.Qw3rTy8uIoPaSdFgHjKlZxCvBnMq1w2E3r4T5y6U7i8O9p"
              [:70])


def _fragments(secret: str) -> list[str]:
    """Every piece of `secret` the redactor promises to hide (the whole of a short one)."""
    if len(secret) <= FRAGMENT:
        return [secret]
    return [secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)]


@pytest.mark.parametrize("token", [SHORT_TOKEN, LONG_TOKEN], ids=["5 chars", "70 chars"])
async def test_a_rejected_token_leaves_no_trace_in_any_log(
    token, settings_factory, fake_discord, capfd
):
    assert len(token) in (5, 70)
    settings = settings_factory(discord_token=token, log_level="debug")
    bot = await prepare(settings, registry_with(ProbePlugin()))
    # The worst case: every library's logger at DEBUG, nextcord's rate-limit keys (which carry
    # "Bot " + the token's first 8 characters) and aiohttp's client included.
    for name in ("nextcord", "nextcord.http", "nextcord.client", "nextcord.gateway", "aiohttp"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        with pytest.raises(nextcord.LoginFailure):  # the fake Discord answers 401
            await bot.start(token)
    finally:
        await shutdown(bot)
        growmies_handler().flush()
    out, err = capfd.readouterr()
    logged = out + err
    assert "logging in using static token" in logged  # nextcord's own lines did get through
    assert "[redacted]" in logged  # ...including the one that used to hold the token's prefix
    for piece in _fragments(token):
        assert piece not in logged


async def test_a_whole_session_at_debug_logs_no_piece_of_the_token(
    settings_factory, fake_discord, world, capfd
):
    # Login, the gateway's IDENTIFY, command sync: every line nextcord and aiohttp write at
    # DEBUG while the token is in use.
    fake_discord.token = LONG_TOKEN
    settings = settings_factory(discord_token=LONG_TOKEN, log_level="DEBUG")
    bot = await prepare(settings, registry_with(ProbePlugin()))
    for name in ("nextcord", "nextcord.http", "nextcord.client", "nextcord.gateway", "aiohttp"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    task = asyncio.create_task(bot.start(LONG_TOKEN))
    try:
        synced = asyncio.create_task(bot.commands_synced.wait())
        done, _ = await asyncio.wait({synced, task}, timeout=15,
                                     return_when=asyncio.FIRST_COMPLETED)
        assert synced in done, "the bot did not sync its commands"
    finally:
        await shutdown(bot)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        growmies_handler().flush()
    out, err = capfd.readouterr()
    logged = out + err
    assert "IDENTIFY" in logged and "[redacted]" in logged
    for piece in _fragments(LONG_TOKEN):
        assert piece not in logged


def test_the_redactor_masks_prefixes_and_slices_not_just_the_whole_token():
    redactor = SecretRedactor([LONG_TOKEN])
    line = (f"Path ('GET', '/users/@me', 'Bot {LONG_TOKEN[:8]}[redacted]') "
            f"tail={LONG_TOKEN[-20:]} middle={LONG_TOKEN[30:41]}")
    masked = redactor.scrub(line)
    assert masked == "Path ('GET', '/users/@me', 'Bot ***[redacted]') tail=*** middle=***"
    # Text that merely shares a few characters with the token is left alone.
    assert redactor.scrub("logged in as Growmies (MTI4)") == "logged in as Growmies (MTI4)"


DATABASE_URLS = [
    # (url, password as the driver sends it, what the doctor shows)
    ("postgres://growmies:p@ss:w0rd!@db:5432/growmies", "p@ss:w0rd!",
     "postgres://growmies:****@db:5432/growmies"),
    ("postgres://growmies:p%40ss%2Fw0rd%25x@db/growmies", "p@ss/w0rd%x",
     "postgres://growmies:****@db/growmies"),
    ("postgres://db:5432/growmies?user=growmies&password=Hunter2Hunter2&sslmode=require",
     "Hunter2Hunter2", "postgres://db:5432/growmies?user=growmies&password=****&sslmode=require"),
]


@pytest.mark.parametrize(("url", "password", "shown"), DATABASE_URLS,
                         ids=["@ and : in password", "percent-encoded", "?password="])
def test_database_passwords_are_masked_in_every_form(url, password, shown, capsys):
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    # growmies doctor's table
    row = next(r for r in settings_rows(settings) if r.part == "DATABASE_URL")
    assert row.detail == shown
    assert mask_url(url) == shown
    # ... and the logs, whether the URL is logged raw, encoded or the password alone.
    configure_logging("INFO", "json", settings.secrets())
    structlog.get_logger("t").error("db.failed", url=url, password=password)
    logging.getLogger("tortoise").error("could not connect with %s", url)
    growmies_handler().flush()
    err = capsys.readouterr().err
    assert "db.failed" in err
    for piece in {password, url.split("//", 1)[1].split("@")[0]}:
        assert piece not in err
    for piece in _fragments(password):
        assert piece not in err


def test_a_url_in_a_plugin_setting_is_masked_in_the_doctor():
    assert show_value("http://user:s3cret@lavalink:2333") == "http://user:****@lavalink:2333"


def test_log_level_and_format_are_read_in_any_case(monkeypatch, capsys):
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    settings = load_settings(_env_file=None)
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    configure_logging(settings.log_level, settings.log_format, [])
    structlog.get_logger("t").debug("a.debug.line")
    growmies_handler().flush()
    assert '"event": "a.debug.line"' in capsys.readouterr().err
    configure_logging("Warning", " Console ", [])
    assert logging.getLogger().level == logging.WARNING


def test_nextcords_housekeeping_is_not_logged_at_info(capsys):
    configure_logging("INFO", "json", [])
    http = logging.getLogger("nextcord.http")
    http.info("Allowed %s rate limits to be garbage collected.", 1)
    logging.getLogger("nextcord.state").info(
        "nextcord.ConnectionState: Registering command with signature ('help', 1, None)")
    logging.getLogger("nextcord.client").info("logging in using static token")
    http.warning("We are being rate limited.")
    logging.getLogger("nextcord.gateway").info("Shard ID 0 has connected to Gateway")
    growmies_handler().flush()
    err = capsys.readouterr().err
    for noise in ("garbage collected", "Registering command", "static token"):
        assert noise not in err
    # What an admin can act on still shows.
    assert "being rate limited" in err and "connected to Gateway" in err
    configure_logging("DEBUG", "json", [])
    http.info("Allowed %s rate limits to be garbage collected.", 1)
    growmies_handler().flush()
    assert "garbage collected" in capsys.readouterr().err


def test_scripts_run_creates_env_readable_by_its_owner_only(tmp_path):
    # A copy of the script in an otherwise empty checkout; scripts/setup (the .venv) is not
    # what is tested here, so the copy's is a no-op.
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "run", tmp_path / "scripts" / "run")
    (tmp_path / "scripts" / "setup").write_text("#!/usr/bin/env bash\nexit 0\n")
    (tmp_path / "scripts" / "setup").chmod(0o755)
    (tmp_path / ".env.example").write_text("DISCORD_TOKEN=\n")
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    done = subprocess.run(["bash", str(tmp_path / "scripts" / "run")], cwd=tmp_path,
                          env={**env, "HOME": str(tmp_path)}, capture_output=True, text=True,
                          umask=0o022, timeout=30)
    assert "DISCORD_TOKEN is empty" in done.stderr  # stops before starting the bot
    mode = stat.S_IMODE((tmp_path / ".env").stat().st_mode)
    assert mode == 0o600, oct(mode)


def test_a_crash_outside_any_logger_is_redacted_too(tmp_path):
    # Python's own traceback printer and the warnings module write to stderr directly.
    code = (
        "import warnings\n"
        "from bot.logs import configure_logging\n"
        f"configure_logging('info', 'json', [{LONG_TOKEN!r}])\n"
        f"warnings.warn('retrying with {LONG_TOKEN[:12]}')\n"
        f"raise RuntimeError('gateway refused Bot {LONG_TOKEN}')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "RuntimeError: gateway refused Bot ***" in done.stderr
    assert "retrying with ***" in done.stderr
    for piece in _fragments(LONG_TOKEN):
        assert piece not in done.stderr
