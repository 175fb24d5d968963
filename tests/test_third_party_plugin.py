"""A third-party plugin installed as its own distribution is discovered and answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def hello_site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("hello-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(target), str(ROOT / "examples" / "hello-plugin")],
        check=True, timeout=300, capture_output=True,
    )
    return target


async def test_example_plugin_is_discovered_and_its_command_answers(
    hello_site, monkeypatch, start_bot, world, fake_discord
):
    monkeypatch.syspath_prepend(str(hello_site))
    from bot.loader import discover

    registry = discover()
    assert "hello" in registry.plugins
    assert registry.discovered["hello"].distribution == "growmies-hello"
    assert registry.discovered["hello"].version == "1.0.0"

    await start_bot(registry=registry)
    ix = await fake_discord.slash(world.member, "hello")
    resp = await ix.response()
    assert resp["data"]["content"] == f"Hello, {world.member.name}!"
    message = await ix.wait_original()
    wave = message["components"][0]["components"][0]["custom_id"]
    assert wave.startswith("hello:wave:")
    click = await fake_discord.click(world.other, message, wave)
    assert "waved 1 time" in (await click.response())["data"]["content"]

    off = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "hello"})
    await off.response()
    ix = await fake_discord.slash(world.member, "hello")
    assert "turned off" in (await ix.response())["data"]["content"]
