"""The test kit's boundary and its one throwaway-database helper.

The runtime packages (`bot`, `plugins`) hold runtime code only: test code lives in the
growmies-testkit distribution (testkit/), in each plugin's tests/ (left out of the wheel) and in
bench/.
"""

from __future__ import annotations

import ast
import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from growmies_testkit.databases import throwaway_database, throwaway_database_sync

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
needs_postgres = pytest.mark.skipif(
    not PG_URL.startswith("postgres"), reason="TEST_DATABASE_URL is not a PostgreSQL URL"
)
TEST_ONLY_MODULES = ("pytest", "pytest_asyncio", "growmies_testkit", "tests", "bench")


def _runtime_modules() -> list[Path]:
    return [path for top in ("bot", "plugins") for path in sorted((ROOT / top).rglob("*.py"))
            if "tests" not in path.relative_to(ROOT).parts]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_runtime_packages_import_no_test_code() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imports(path) if name.split(".")[0] in TEST_ONLY_MODULES
        )
        for path in _runtime_modules()
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_runtime_packages_hold_no_fakes_fixtures_or_bench_support() -> None:
    misplaced = [
        str(path.relative_to(ROOT)) for path in _runtime_modules()
        if path.name == "conftest.py" or path.stem.startswith(("fake_", "bench_support"))
        or "testing" in path.relative_to(ROOT).parts
    ]
    assert misplaced == []


def test_the_pytest_plugin_comes_from_the_testkit_distribution() -> None:
    from importlib.metadata import distribution, entry_points

    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "growmies"]
    assert plugin.value == "growmies_testkit.pytest_plugin"
    assert plugin.dist is not None and plugin.dist.name == "growmies-testkit"
    assert "pytest-asyncio" in " ".join(distribution("growmies-testkit").requires or [])


def _fill(path: Path) -> bool:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    return path.is_file()


async def test_a_throwaway_sqlite_database_is_removed_afterwards() -> None:
    async with throwaway_database("") as url:
        path = Path(url.removeprefix("sqlite://"))
        assert await asyncio.to_thread(_fill, path)
    assert not await asyncio.to_thread(path.parent.exists)


def test_the_sync_form_removes_its_sqlite_database_too() -> None:
    with throwaway_database_sync("sqlite://ignored.sqlite3") as url:
        path = Path(url.removeprefix("sqlite://"))
        assert _fill(path)
    assert not path.parent.exists()


@needs_postgres
async def test_a_throwaway_postgres_database_is_dropped_even_with_a_connection_open() -> None:
    import asyncpg

    async with throwaway_database(PG_URL, prefix="growmies_kit") as url:
        name = urlsplit(url).path.lstrip("/")
        assert name.startswith("growmies_kit_")
        left_open = await asyncpg.connect(url)
        await left_open.execute("CREATE TABLE t (x INTEGER)")
    admin = await asyncpg.connect(PG_URL)
    try:
        assert await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1",
                                    name) == 0
    finally:
        await admin.close()
        left_open.terminate()


@needs_postgres
def test_the_sync_form_serves_code_without_an_event_loop() -> None:
    import asyncpg

    with throwaway_database_sync(PG_URL, prefix="growmies_kit") as url:
        name = urlsplit(url).path.lstrip("/")

    async def exists() -> bool:
        admin = await asyncpg.connect(PG_URL)
        try:
            return bool(await admin.fetchval(
                "SELECT count(*) FROM pg_database WHERE datname = $1", name))
        finally:
            await admin.close()

    assert asyncio.run(exists()) is False


# A plugin author's two tests: the first one's bot is interrupted while shutting down (a
# CancelledError out of its close, as a cancelled background task can cause); the second one
# must still get a new fake Discord and empty tables, not the first test's leftovers.
INTERRUPTED_TEARDOWN = '''
import asyncio

from bot.models import GuildPluginState


async def test_a_bot_whose_shutdown_is_interrupted(start_bot, fake_discord, world):
    running = await start_bot()
    await GuildPluginState.create(guild_id=world.guild.id, plugin="music", enabled=False)
    fake_discord.left_behind = True
    close = running.bot.close

    async def close_then_interrupted():
        await close()
        raise asyncio.CancelledError

    running.bot.close = close_then_interrupted


async def test_the_next_test_starts_clean(start_bot, fake_discord):
    await start_bot()
    assert not hasattr(fake_discord, "left_behind")
    assert await GuildPluginState.all().count() == 0
'''


def test_an_interrupted_teardown_fails_its_own_test_and_never_leaks_into_the_next(
        tmp_path: Path) -> None:
    (tmp_path / "test_author.py").write_text(INTERRUPTED_TEARDOWN, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
         "test_author.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    summary = done.stdout.strip().splitlines()[-1]
    # The interrupted shutdown is reported as an error of the first test only.
    assert "2 passed, 1 error" in summary, done.stdout[-3000:]
    assert "teardown failed: CancelledError" in done.stdout
