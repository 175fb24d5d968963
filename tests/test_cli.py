"""`growmies` on the command line: bad settings give one clear line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def growmies(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "DATABASE_", "OPENAI_", "LAVALINK_", "GROWMIES_",
                                 "MUSIC_", "LLM_"))}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=full, cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=60)


def test_run_without_token_names_the_setting(tmp_path):
    result = growmies("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "growmies: DISCORD_TOKEN is not set: put your bot token in .env"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("url", ["mysql://x/y", "not a url"])
def test_malformed_database_url_is_one_line(tmp_path, url):
    result = growmies("migrate", env={"DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("growmies: DATABASE_URL is invalid")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unreachable_database_is_one_line_without_password(tmp_path):
    url = "postgres://bot:hunter22@127.0.0.1:1/growmies"
    result = growmies("migrate", env={"DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 2
    assert "DATABASE_URL: cannot reach postgres://127.0.0.1:1/growmies" in result.stderr
    assert "hunter22" not in result.stderr and "Traceback" not in result.stderr


def test_bad_setting_value_names_it(tmp_path):
    result = growmies("migrate", env={"SHARD_COUNT": "many"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("growmies: SHARD_COUNT is invalid")


def test_bad_lavalink_nodes_does_not_echo_the_password(tmp_path):
    # A plugin's setting (music's) refuses the start like a core setting does.
    result = growmies("run", env={"DISCORD_TOKEN": "abc",
                                  "DISCORD_API_BASE": "http://127.0.0.1:1/api/v10",
                                  "LAVALINK_NODES": '[{"uri": "x", "password": "s3cr3tpw"}]'},
                      cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("growmies: LAVALINK_NODES is invalid (plugin music): Value "
                                     "error, uri must look like http://host:port")
    assert "s3cr3tpw" not in result.stderr


def test_plugins_lists_the_builtins_with_versions(tmp_path):
    result = growmies("plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("compliance", "music", "llm", "ui"):
        assert name in result.stdout
    assert "0.1.0" in result.stdout


def test_migrate_on_sqlite_then_nothing_pending(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/g.sqlite3"}
    first = growmies("migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = growmies("migrate", env=env, cwd=tmp_path)
    assert "(0 migration(s) applied)" in second.stdout


async def test_doctor_reports_each_part_and_fails_on_a_bad_token(fake_discord, fake_openai,
                                                                 fake_lavalink, tmp_path):
    import asyncio

    env = {
        "DISCORD_TOKEN": "wrong-token", "DISCORD_API_BASE": fake_discord.api_base,
        "DATABASE_URL": f"sqlite://{tmp_path}/d.sqlite3",
        "OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "sk-test-secret",
        "OPENAI_MODEL": "growmies-test-model",
        "LAVALINK_NODES": f'[{{"id":"a","uri":"{fake_lavalink.uri}",'
                          f'"password":"{fake_lavalink.password}"}}]',
    }
    await asyncio.to_thread(growmies, "migrate", env=env, cwd=tmp_path)
    result = await asyncio.to_thread(growmies, "doctor", env=env, cwd=tmp_path)
    out = result.stdout
    assert result.returncode == 1
    assert "rejected by Discord (401)" in out
    assert "migrations current" in out
    assert "reachable, version 4.2" in out
    assert "'growmies-test-model' exists" in out
    assert "wrong-token" not in out and fake_lavalink.password not in out
    assert "sk-test-secret" not in out

    env["DISCORD_TOKEN"] = fake_discord.token
    result = await asyncio.to_thread(growmies, "doctor", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "valid: logged in as" in result.stdout


def test_seed_loads_starter_data_once(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/s.sqlite3"}
    first = growmies("seed", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    added = {line.split(":")[0]: int(line.split(":")[1].split()[0])
             for line in first.stdout.splitlines() if "record(s) added" in line}
    assert added["ui"] >= 40 and added["llm"] >= 5
    second = growmies("seed", env=env, cwd=tmp_path)
    assert all(line.endswith(": 0 record(s) added") for line in second.stdout.splitlines())


def test_shard_ids_without_a_count_is_one_clear_line(tmp_path):
    result = growmies("plugins", env={"SHARD_IDS": "1"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("growmies: SHARD_IDS is invalid: Value error, SHARD_IDS "
                                     "needs SHARD_COUNT (the total number of shards)")


def test_unreachable_discord_is_one_line_and_a_non_zero_exit(tmp_path):
    env = {"DISCORD_TOKEN": "abc", "DISCORD_API_BASE": "http://127.0.0.1:1/api/v10",
           "DATABASE_URL": f"sqlite://{tmp_path}/u.sqlite3", "LOG_LEVEL": "ERROR"}
    result = growmies("run", env=env, cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1] == (
        "growmies: cannot reach Discord at http://127.0.0.1:1/api/v10 (ClientConnectorError); "
        "check the network or DISCORD_API_BASE")
    assert "Traceback" not in result.stderr and "PyNaCl" not in result.stderr
