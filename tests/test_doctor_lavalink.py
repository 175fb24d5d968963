"""`growmies doctor` on Lavalink-compatible servers: it names the server and its v4 API from
`/v4/info` and the response headers, and applies Lavalink's version rule (4.2+ for Discord's
encrypted voice) to Lavalink only. Below each node, rows say what the music features get from
it (lyrics, other services, effects' filters): information and warnings, never failures."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
from pydantic import SecretStr

from bot.doctor import check_lavalink
from growmies_testkit.fake_lavalink import (
    DEFAULT_FILTERS,
    DEFAULT_SOURCE_MANAGERS,
    LAVALYRICS_PLUGIN,
    LAVASRC_PLUGIN,
    FakeLavalink,
)
from tests.test_cli import growmies

PASSWORD = "doctor-s3cret-pw"


def settings_for(*nodes: FakeLavalink) -> SimpleNamespace:
    return SimpleNamespace(lavalink_nodes=[
        SimpleNamespace(id=f"n{i}", uri=n.uri, password=SecretStr(n.password))
        for i, n in enumerate(nodes)])


async def doctor_rows(*nodes: FakeLavalink) -> list[tuple[str, str]]:
    """Each node's own row (the server and its API)."""
    return [(status, detail) for part, status, detail in await all_rows(*nodes)
            if part.count(" ") == 1]


async def all_rows(*nodes: FakeLavalink) -> list[tuple[str, str, str]]:
    async with aiohttp.ClientSession() as session:
        checks = await check_lavalink(session, settings_for(*nodes))
    assert all(not c.required for c in checks)
    return [(c.part, c.status, c.detail) for c in checks]


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
            [wrong] = await check_lavalink(session, settings)  # no feature rows without /v4/info
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


async def test_a_node_as_shipped_names_lyrics_the_services_that_are_on_and_its_filters():
    # lavalink/application.yml's node once the admin has switched Spotify on.
    async with FakeLavalink(password=PASSWORD, plugins=(LAVASRC_PLUGIN, LAVALYRICS_PLUGIN),
                            source_managers=(*DEFAULT_SOURCE_MANAGERS, "spotify")) as node:
        rows = await all_rows(node)
    assert rows[1:] == [
        ("lavalink n0 lyrics", "ok", "LavaLyrics 1.1.0: /music lyrics works (sources under "
                                     "plugins.lavasrc.lyrics-sources)"),
        ("lavalink n0 services", "info", "LavaSrc 4.8.3; on: Spotify; off: Apple Music, "
         "Deezer. To turn one on: its credentials in .env, then plugins.lavasrc.sources in "
         "application.yml, restart Lavalink"),
        ("lavalink n0 filters", "ok", "every effect available; listed: "
         + ", ".join(sorted(DEFAULT_FILTERS))),
    ]


async def test_a_bare_node_gets_warnings_with_the_fix_never_a_failure():
    filters = [f for f in DEFAULT_FILTERS if f not in ("timescale", "rotation")]
    async with FakeLavalink(password=PASSWORD, filters=filters) as node:
        rows = {part: (status, detail) for part, status, detail in await all_rows(node)}
    assert rows["lavalink n0"][0] == "ok"
    assert rows["lavalink n0 lyrics"] == (
        "warn", "no LavaLyrics plugin: /music lyrics says lyrics are unavailable. Fix: load "
                "lavalyrics-plugin and lavasrc-plugin as lavalink/application.yml does")
    assert rows["lavalink n0 services"] == (
        "warn", "no LavaSrc plugin: Spotify, Apple Music and Deezer links are refused. Fix: "
                "load lavasrc-plugin as lavalink/application.yml does")
    status, detail = rows["lavalink n0 filters"]
    assert status == "warn"
    assert detail.startswith("off: timescale (nightcore, vaporwave, speed/pitch); rotation (8D);")
    assert detail.endswith("Fix: set them true under lavalink.server.filters in application.yml")


async def test_lavalyrics_without_lavasrc_is_told_it_has_no_lyrics_source():
    async with FakeLavalink(plugins=(LAVALYRICS_PLUGIN,)) as node:
        rows = {part: (status, detail) for part, status, detail in await all_rows(node)}
    assert rows["lavalink n0 lyrics"] == (
        "warn", "LavaLyrics 1.1.0 without LavaSrc, which gives it its lyrics sources. Fix: "
                "load lavasrc-plugin as lavalink/application.yml does")


async def test_the_doctor_command_warns_about_a_bare_node_and_still_succeeds(fake_discord,
                                                                             tmp_path):
    async with FakeLavalink(password=PASSWORD) as node:
        env = {
            "DISCORD_TOKEN": fake_discord.token, "DISCORD_API_BASE": fake_discord.api_base,
            "DATABASE_URL": f"sqlite://{tmp_path}/d.sqlite3",
            "LAVALINK_NODES": f'[{{"id":"main","uri":"{node.uri}","password":"{PASSWORD}"}}]',
        }
        await asyncio.to_thread(growmies, "migrate", env=env, cwd=tmp_path)
        result = await asyncio.to_thread(growmies, "doctor", env=env, cwd=tmp_path)
    lines = {ln.split("  ")[0]: ln for ln in result.stdout.splitlines()
             if ln.startswith("lavalink main")}
    assert "WARN" in lines["lavalink main lyrics"] and "Fix:" in lines["lavalink main lyrics"]
    assert "WARN" in lines["lavalink main services"]
    assert "OK" in lines["lavalink main filters"]
    assert PASSWORD not in result.stdout
    assert result.returncode == 0, result.stdout


async def test_nodelink_with_its_own_spotify_source_is_not_sent_to_lavasrc():
    async with FakeLavalink(version="3.7.0", flavour="nodelink",
                            source_managers=(*DEFAULT_SOURCE_MANAGERS, "spotify",
                                             "deezer")) as node:
        rows = {part: (status, detail) for part, status, detail in await all_rows(node)}
    assert rows["lavalink n0 services"] == (
        "info", "the server's own sources; on: Spotify, Deezer; off: Apple Music (switched on "
                "in the server's own settings)")
    assert rows["lavalink n0 lyrics"][0] == "warn"  # NodeLink has no LavaLyrics endpoint
