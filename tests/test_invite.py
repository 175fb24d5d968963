"""`growmies invite` gives a new admin the exact link to add the bot, without the network."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bot.invite import client_id_from_token

ROOT = Path(__file__).resolve().parent.parent
BOT_ID = 1181234567890123456


def token_for(user_id: int) -> str:
    first = base64.b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{first}.GhIjKl.{'x' * 38}"


def invite(tmp_path: Path, *args: str, env: dict[str, str]):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "DATABASE_", "GROWMIES_", "XDG_"))}
    full.update({"PYTHONPATH": str(ROOT), "HOME": str(tmp_path / "user"),
                 # Nothing listens here: a network call would fail the command.
                 "DISCORD_API_BASE": "http://127.0.0.1:1/api/v10", **env})
    return subprocess.run([sys.executable, "-m", "bot.cli", "invite", *args], env=full,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_invite_prints_the_oauth_url_from_the_token_alone(tmp_path):
    result = invite(tmp_path, env={"DISCORD_TOKEN": token_for(BOT_ID)})
    assert result.returncode == 0, result.stderr
    url = result.stdout.splitlines()[0]
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://discord.com/oauth2/authorize"
    assert query["client_id"] == [str(BOT_ID)]
    assert query["scope"] == ["bot applications.commands"]
    bits = [10, 11, 14, 15, 16,  # view, send, embed links, attach files, read history
            20, 21,  # connect, speak
            28,  # manage roles
            35, 36, 38]  # create public/private threads, send in threads
    assert query["permissions"] == [str(sum(1 << b for b in bits))]
    assert not int(query["permissions"][0]) & (1 << 3)  # never Administrator
    assert "manage roles: compliance: give the verified role" in result.stdout
    assert "drag the bot's role above the verified role" in result.stdout
    assert token_for(BOT_ID) not in result.stdout + result.stderr


def test_invite_asks_only_for_the_enabled_plugins_needs(tmp_path):
    result = invite(tmp_path, env={"DISCORD_TOKEN": token_for(BOT_ID),
                                   "GROWMIES_PLUGINS": "compliance"})
    query = parse_qs(urlsplit(result.stdout.splitlines()[0]).query)
    assert query["permissions"] == [str(sum(1 << b for b in (10, 11, 14, 15, 16, 28)))]


def test_client_id_option_and_tokens_that_do_not_decode(tmp_path):
    assert client_id_from_token("abc") is None
    assert client_id_from_token("") is None
    assert client_id_from_token(token_for(BOT_ID)) == BOT_ID
    result = invite(tmp_path, "--client-id", "42", env={})
    assert "client_id=42&" in result.stdout
    # Without a token or an id there is nothing to build the link from.
    result = invite(tmp_path, env={})
    assert result.returncode == 2 and "DISCORD_TOKEN is not set" in result.stderr


async def test_a_token_that_does_not_decode_asks_discord_for_the_application(
    fake_discord, tmp_path
):
    import asyncio

    # The fake's token ("fake-token"-like) carries no base64 id: the CLI asks the API instead.
    assert client_id_from_token(fake_discord.token) is None
    result = await asyncio.to_thread(
        invite, tmp_path, env={"DISCORD_TOKEN": fake_discord.token,
                               "DISCORD_API_BASE": fake_discord.api_base})
    assert result.returncode == 0, result.stderr
    assert f"client_id={fake_discord.application_id}&" in result.stdout
