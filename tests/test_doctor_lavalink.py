"""`growmies doctor` on Lavalink-compatible servers: it names the server and its v4 API from
`/v4/info` and the response headers, and applies Lavalink's version rule (4.2+ for Discord's
encrypted voice) to Lavalink only."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
from pydantic import SecretStr

from bot.doctor import check_lavalink
from growmies_testkit.fake_lavalink import FakeLavalink
from tests.test_cli import growmies

PASSWORD = "doctor-s3cret-pw"


def settings_for(*nodes: FakeLavalink) -> SimpleNamespace:
    return SimpleNamespace(lavalink_nodes=[
        SimpleNamespace(id=f"n{i}", uri=n.uri, password=SecretStr(n.password))
        for i, n in enumerate(nodes)])


async def doctor_rows(*nodes: FakeLavalink) -> list[tuple[str, str]]:
    async with aiohttp.ClientSession() as session:
        return [(c.status, c.detail) for c in await check_lavalink(session, settings_for(*nodes))]


async def test_nodelink_is_named_and_not_called_too_old():
    async with FakeLavalink(password=PASSWORD, version="3.7.0", flavour="nodelink") as node:
        [(status, detail)] = await doctor_rows(node)
    assert status == "ok", detail
    assert detail.startswith("NodeLink 3.7.0, Lavalink-compatible v4 API")
    assert "voice by @performanc/voice" in detail and "too old" not in detail
    assert PASSWORD not in detail


async def test_lavalink_is_judged_by_its_own_version():
    async with FakeLavalink(version="4.1.0") as old, FakeLavalink(version="4.2.0") as new:
        (old_status, old_detail), (new_status, new_detail) = await doctor_rows(old, new)
    assert old_status == "fail"
    assert old_detail == ("Lavalink 4.1.0, v4 API: too old: Discord's encrypted voice (DAVE) "
                          "needs Lavalink 4.2+")
    assert (new_status, new_detail) == ("ok", "reachable, version 4.2.0 (Lavalink, v4 API)")


async def test_a_wrong_password_and_a_server_without_the_v4_api():
    async with FakeLavalink(password=PASSWORD) as node:
        node.fail_next_request("/v4/info", 404, message="Not Found")
        settings = settings_for(node)
        settings.lavalink_nodes[0].password = SecretStr("not-the-password")
        async with aiohttp.ClientSession() as session:
            [wrong] = await check_lavalink(session, settings)
        [missing] = await doctor_rows(node)
    assert (wrong.status, wrong.detail) == ("fail", "wrong password (401)")
    # /version still says 4.2.0, but a server without /v4/info doesn't speak the v4 API.
    assert missing == ("fail", "no Lavalink v4 API here (/v4/info: HTTP 404)")


async def test_the_doctor_command_reports_a_nodelink_node(fake_discord, tmp_path):
    async with FakeLavalink(password=PASSWORD, version="3.7.0", flavour="nodelink") as node:
        env = {
            "DISCORD_TOKEN": fake_discord.token, "DISCORD_API_BASE": fake_discord.api_base,
            "DATABASE_URL": f"sqlite://{tmp_path}/d.sqlite3",
            "LAVALINK_NODES": f'[{{"id":"nl","uri":"{node.uri}","password":"{PASSWORD}"}}]',
        }
        await asyncio.to_thread(growmies, "migrate", env=env, cwd=tmp_path)
        result = await asyncio.to_thread(growmies, "doctor", env=env, cwd=tmp_path)
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("lavalink nl"))
    assert "OK" in line and "NodeLink 3.7.0, Lavalink-compatible v4 API" in line, line
    assert "too old" not in result.stdout and PASSWORD not in result.stdout
    assert result.returncode == 0, result.stdout


async def test_a_lavalink_3_server_is_told_apart_from_nodelink_3():
    # Lavalink 3.7 and NodeLink 3.7 share a version number; only NodeLink speaks v4.
    async with FakeLavalink(version="3.7.11") as v3:
        v3.fail_next_request("/v4/info", 404, message="Not Found")
        [(status, detail)] = await doctor_rows(v3)
    assert (status, detail) == ("fail", "Lavalink 3.7.11 has no v4 API (/v4/info: HTTP 404); "
                                        "the bot needs Lavalink 4.2+")
