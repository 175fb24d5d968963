"""A new admin runs `growmies` from wherever they are: it finds its `.env` and data by one rule,
says where in `growmies doctor`, and no check creates a database behind their back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.paths import anchor_sqlite, find_home
from growmies_testkit.databases import is_postgres_url, with_database

ROOT = Path(__file__).resolve().parent.parent


def growmies(*args: str, cwd: Path, env: dict[str, str] | None = None):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "DATABASE_", "OPENAI_", "LAVALINK_", "GROWMIES_",
                                 "MUSIC_", "LLM_", "XDG_"))}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=90)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*"))


def test_the_rule_current_directory_then_growmies_home_then_per_user(tmp_path):
    here, elsewhere, user = tmp_path / "here", tmp_path / "home", tmp_path / "user"
    here.mkdir()
    env = {"HOME": str(user)}
    assert find_home(here, env).directory == user / ".local" / "share" / "growmies"
    assert find_home(here, {**env, "XDG_DATA_HOME": str(user / "xdg")}).directory == (
        user / "xdg" / "growmies")
    assert find_home(here, {**env, "GROWMIES_HOME": str(elsewhere)}).directory == elsewhere
    (here / ".env").write_text("DISCORD_TOKEN=x\n")
    home = find_home(here, {**env, "GROWMIES_HOME": str(elsewhere)})
    assert home.directory == here.resolve()
    assert home.default_database_url == f"sqlite://{here.resolve()}/data/growmies.sqlite3"
    # A relative SQLite path in DATABASE_URL means "in the home", whatever the current directory.
    assert anchor_sqlite("sqlite://db/x.sqlite3", home) == f"sqlite://{here.resolve()}/db/x.sqlite3"
    assert anchor_sqlite("postgres://u:p@h/db", home) == "postgres://u:p@h/db"


def test_doctor_and_plugins_from_an_empty_directory_create_nothing(tmp_path):
    empty, user = tmp_path / "empty", tmp_path / "user"
    empty.mkdir()
    env = {"HOME": str(user)}
    for command in ("doctor", "plugins"):
        growmies(command, cwd=empty, env=env)
    assert files_under(empty) == [] and not user.exists()

    doctor = growmies("doctor", cwd=empty, env=env)
    per_user = user / ".local" / "share" / "growmies"
    assert f"{per_user} (no .env here and no GROWMIES_HOME" in doctor.stdout
    assert f"no database yet at {per_user}/data/growmies.sqlite3" in doctor.stdout
    assert "Traceback" not in doctor.stderr


def test_growmies_home_is_used_from_any_directory(tmp_path):
    home, elsewhere = tmp_path / "bot-home", tmp_path / "somewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / ".env").write_text("GROWMIES_PLUGINS=compliance\n")
    result = growmies("migrate", cwd=elsewhere, env={"GROWMIES_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    # The .env in GROWMIES_HOME was read (only compliance), and the database went there.
    assert "applied compliance/" in result.stdout and "applied music/" not in result.stdout
    assert (home / "data" / "growmies.sqlite3").is_file()
    assert files_under(elsewhere) == []

    doctor = growmies("doctor", cwd=elsewhere, env={"GROWMIES_HOME": str(home)})
    assert f"{home} (GROWMIES_HOME is set)" in doctor.stdout
    assert f"{home}/.env " in doctor.stdout or doctor.stdout.count(f"{home}/.env") >= 1


def test_unreadable_env_is_named(tmp_path, monkeypatch, capsys):
    env_file = tmp_path / ".env"
    env_file.write_text("DISCORD_TOKEN=x\n")
    env_file.chmod(0)
    if os.geteuid() != 0:
        result = growmies("doctor", cwd=tmp_path)
        assert result.returncode == 2
        assert "cannot be read by this user" in result.stderr
        return
    # Root reads every file (CI runs as root): the same check, with the OS saying no for this
    # one file only, in-process.
    from bot.cli import main

    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, *a, **k: (
        False if Path(path) == env_file and mode == os.R_OK else real_access(path, mode, *a, **k)))
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "DATABASE_", "GROWMIES_")):
            monkeypatch.delenv(name)
    assert main(["doctor"]) == 2
    assert "cannot be read by this user" in capsys.readouterr().err


def test_a_postgres_url_naming_a_missing_database_says_so(tmp_path):
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not is_postgres_url(base):
        pytest.skip("needs TEST_DATABASE_URL pointing at PostgreSQL")
    url = with_database(base, "growmies_never_created")
    result = growmies("migrate", cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode == 2
    assert "the database 'growmies_never_created' does not exist" in result.stderr
    assert "CREATE DATABASE growmies_never_created;" in result.stderr
    doctor = growmies("doctor", cwd=tmp_path, env={"DATABASE_URL": url})
    assert "the database 'growmies_never_created' does not exist" in doctor.stdout


async def test_growmies_run_from_an_empty_directory_keeps_its_data_in_the_home(
    fake_discord, world, tmp_path
):
    import asyncio
    import signal

    empty, user = tmp_path / "empty", tmp_path / "user"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DISCORD_", "DATABASE_", "GROWMIES_", "XDG_", "LAVALINK_",
                                "MUSIC_", "LLM_", "OPENAI_"))}
    env.update({"HOME": str(user), "DISCORD_TOKEN": fake_discord.token,
                "DISCORD_API_BASE": fake_discord.api_base, "LOG_FORMAT": "json",
                "PYTHONPATH": str(ROOT)})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env, cwd=empty,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await fake_discord.wait_for_command("help", timeout=60)
        await fake_discord.wait_until_connected(timeout=30)
        ix = await fake_discord.slash(world.member, "help")
        assert "Help · core" in fake_discord.text_of(await ix.wait_original())
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 60)
    assert files_under(empty) == []
    assert (user / ".local" / "share" / "growmies" / "data" / "growmies.sqlite3").is_file()
