"""The committed aerich migrations: both dialects in every file, they apply on a fresh database
(twice is a no-op), and they match the current models (no drift).

Every app's migrations ship inside its own package (core: bot/migrations/core/, a plugin:
<package>/migrations/<app>/). Models changed without a migration, or a plugin with models but no
migrations in its package, fail `test_models_match_migrations` with the command to run
(`growmies makemigrations <app>`), and `growmies migrate` refuses such a plugin. The PostgreSQL
tests run only when TEST_DATABASE_URL starts with postgres.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aerich.utils import import_py_file

from bot import migrations_tool
from bot.database import (
    MigrationsMissing,
    apply_migrations,
    migration_folders,
    package_dir,
    pending_migrations,
    version_files,
)
from bot.loader import discover
from growmies_testkit.databases import throwaway_database

ROOT = Path(__file__).resolve().parent.parent

CORE_TABLES = {"core_audit_log", "core_component_state", "core_guild_plugin_state", "aerich"}
PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
needs_postgres = pytest.mark.skipif(
    not PG_URL.startswith("postgres"), reason="TEST_DATABASE_URL is not a PostgreSQL URL"
)


def _folders() -> dict[str, Path]:
    """Each installed app's migrations folder, as `growmies migrate` finds it."""
    registry = discover()
    return migration_folders(registry.model_modules(), registry.migration_packages())


def _migration_files() -> list[Path]:
    return [folder / name for folder in _folders().values() for name in version_files(folder)]


def _scratch_copy(target: Path) -> Path:
    """Every app's committed migrations copied into one `<target>/<app>/` tree."""
    for app, folder in _folders().items():
        shutil.copytree(folder, target / app, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _fake_db(dialect: str) -> Any:
    return SimpleNamespace(capabilities=SimpleNamespace(dialect=dialect))


async def _fresh[T](make: Callable[[], Awaitable[T]]) -> T:
    """Run in an empty context, as a new process would: Tortoise keeps its state in a context
    variable that stays "inited" after apply_migrations closes its connections."""
    return await asyncio.create_task(make(), context=contextvars.Context())  # type: ignore[arg-type]


def _forget_dialect_caches() -> None:
    # Tortoise caches INSERT SQL per connection name ("default"), not per dialect: after SQLite
    # in this process, PostgreSQL would get SQLite's placeholders (and the other way round).
    from tortoise.backends.base import executor

    executor.EXECUTOR_CACHE.clear()


@pytest.fixture(autouse=True)
def _clean_dialect_caches() -> Iterator[None]:
    _forget_dialect_caches()
    yield
    _forget_dialect_caches()


def test_core_has_migrations() -> None:
    core = package_dir("bot.migrations")
    assert core == ROOT / "bot" / "migrations"
    assert version_files(core / "core"), "run `growmies makemigrations core`"


def test_each_plugin_ships_its_migrations_inside_its_own_package() -> None:
    registry = discover()
    folders = _folders()
    for name, plugin in registry.plugins.items():
        if not plugin.models:
            continue
        package = Path(sys.modules[type(plugin).__module__.rpartition(".")[0]].__file__ or "")
        assert folders[name] == package.parent / "migrations" / name, name


def test_aerich_toml_location_links_to_every_package_folder() -> None:
    """`aerich -c aerich.toml --app <app>` reads ./migrations/<app>/: a link to the package."""
    for app, folder in _folders().items():
        link = ROOT / "migrations" / app
        assert link.is_symlink() and link.resolve() == folder.resolve(), app


def test_aerich_cli_with_aerich_toml_upgrades_and_lists_a_plugin_app(tmp_path: Path) -> None:
    database = tmp_path / "aerich-cli.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite://{database}"}
    aerich = [str(Path(sys.executable).parent / "aerich"), "-c", "aerich.toml"]

    def run(*args: str) -> str:
        done = subprocess.run(
            [*aerich, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("--app", "core", "upgrade")
    run("--app", "llm", "upgrade")
    shipped = version_files(_folders()["llm"])
    assert run("--app", "llm", "history").split() == shipped
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT version FROM aerich WHERE app = 'llm' ORDER BY id").fetchall()
    assert [r[0] for r in rows] == shipped


@pytest.mark.parametrize("path", _migration_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_migration_has_both_dialects(path: Path) -> None:
    module = import_py_file(path)
    sqlite_sql = await module.upgrade(_fake_db("sqlite"))
    pg_sql = await module.upgrade(_fake_db("postgres"))
    assert sqlite_sql.strip(), f"{path.name}: empty SQLite upgrade"
    assert pg_sql.strip(), f"{path.name}: empty PostgreSQL upgrade"
    assert "AUTOINCREMENT" not in pg_sql.upper(), (
        f"{path.name}: PostgreSQL upgrade has SQLite SQL; regenerate it with scripts/makemigrations"
    )
    # aerich itself calls upgrade(None) while diffing for PostgreSQL.
    assert await module.upgrade(None) == pg_sql
    for dialect in ("sqlite", "postgres"):
        assert isinstance(await module.downgrade(_fake_db(dialect)), str)
    assert getattr(module, "MODELS_STATE", None), f"{path.name}: no MODELS_STATE"


def _sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


async def test_migrations_apply_on_fresh_sqlite_and_are_idempotent(tmp_path: Path) -> None:
    models = discover().model_modules()
    path = tmp_path / "fresh.sqlite3"
    url = f"sqlite://{path}"
    first = await _fresh(lambda: apply_migrations(url, models))
    assert first.get("core"), first
    second = await _fresh(lambda: apply_migrations(url, models))
    assert all(not versions for versions in second.values()), second
    assert CORE_TABLES <= _sqlite_tables(path)


async def test_models_match_migrations() -> None:
    drift = await migrations_tool.find_drift(discover().model_modules())
    assert not drift, "models and migrations differ:\n" + "\n".join(drift.values())


@pytest.mark.parametrize(
    "command",
    [["scripts/makemigrations"], [str(Path(sys.executable).parent / "growmies"), "makemigrations"]],
    ids=["scripts/makemigrations", "growmies makemigrations"],
)
def test_makemigrations_check_passes_from_both_entry_points(command: list[str]) -> None:
    """CI and authors run `--check`; the script stays a thin wrapper of the CLI command."""
    if command[0].startswith("scripts/"):
        command = [sys.executable, *command]
    done = subprocess.run(
        [*command, "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "no changes"


async def test_drift_names_an_app_without_migrations(models_path: Path) -> None:
    package = f"growmies_drift_{uuid.uuid4().hex[:8]}"
    module = _write_plugin_package(models_path, package)
    drift = await migrations_tool.find_drift({"driftapp": module})
    assert set(drift) == {"driftapp"}
    assert "growmies makemigrations driftapp" in drift["driftapp"]
    assert f"{package}/migrations/driftapp" in drift["driftapp"]


def _write_plugin_package(root: Path, package: str) -> str:
    """A third-party plugin's package with models and (so far) no migrations; returns the
    models module."""
    folder = root / package
    folder.mkdir()
    (folder / "__init__.py").write_text('"""A plugin."""\n', encoding="utf-8")
    _write_models(folder, "models", extra_field="")
    return f"{package}.models"


@pytest.mark.parametrize("declared", [None, "growmies_nomig_{n}.not_shipped"])
async def test_migrate_refuses_a_plugin_with_models_but_no_migrations(
    tmp_path: Path, models_path: Path, declared: str | None
) -> None:
    """Its tables would be created once with no history and could never change: refused
    before the database is touched, naming the plugin, where they were looked for, and the
    command its author runs."""
    package = f"growmies_nomig_{uuid.uuid4().hex[:8]}"
    models = {"notes": _write_plugin_package(models_path, package)}
    packages = {"notes": declared.format(n=package[len("growmies_nomig_"):]) if declared else None}
    expected_package = packages["notes"] or f"{package}.migrations"
    database = tmp_path / "refused.sqlite3"

    with pytest.raises(MigrationsMissing) as refused:
        await _fresh(lambda: apply_migrations(f"sqlite://{database}", models, packages=packages))
    message = str(refused.value)
    assert "plugin 'notes' has models" in message
    assert f"package {expected_package}" in message
    assert "growmies makemigrations notes" in message
    assert not database.exists()
    with pytest.raises(MigrationsMissing):
        await _fresh(lambda: pending_migrations(f"sqlite://{database}", models, packages=packages))


# ---------------------------------------------------------------------------------------------
# PostgreSQL.


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    # The test kit's throwaway database (it closes the ORM's connections before the drop).
    async with throwaway_database(PG_URL, prefix=f"{migrations_tool.TEMP_DB_PREFIX}test") as url:
        yield url


async def _pg_tables(url: str) -> set[str]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r[0] for r in rows}


@needs_postgres
async def test_migrations_apply_on_fresh_postgres_and_are_idempotent(pg_database: str) -> None:
    models = discover().model_modules()
    first = await _fresh(lambda: apply_migrations(pg_database, models))
    assert first.get("core"), first
    second = await _fresh(lambda: apply_migrations(pg_database, models))
    assert all(not versions for versions in second.values()), second
    assert CORE_TABLES <= await _pg_tables(pg_database)


def _write_models(folder: Path, module: str, extra_field: str) -> str:
    (folder / f"{module}.py").write_text(
        "from tortoise import fields\n"
        "from tortoise.models import Model\n\n\n"
        "class Note(Model):\n"
        '    """A note."""\n\n'
        "    id = fields.IntField(primary_key=True)\n"
        "    guild_id = fields.BigIntField(db_index=True)\n"
        "    text = fields.TextField()\n"
        f"{extra_field}\n"
        "    class Meta:\n"
        '        table = "toolapp_note"\n',
        encoding="utf-8",
    )
    return module


@pytest.fixture
def models_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@needs_postgres
async def test_tool_round_trip_for_a_new_plugin_app(
    tmp_path: Path, models_path: Path, pg_database: str
) -> None:
    """A plugin gains models, then a field: both merged migrations apply on both dialects."""
    migrations = _scratch_copy(tmp_path / "migrations")
    v1 = {"toolapp": _write_models(models_path, "growmies_toolapp_v1", "")}
    pinned = "    pinned = fields.BooleanField(default=False)\n"
    v2 = {"toolapp": _write_models(models_path, "growmies_toolapp_v2", pinned)}

    init = await migrations_tool.make_migration(
        "toolapp", plugin_models=v1, migrations_dir=migrations, pg_url=PG_URL
    )
    assert init is not None and init.name.startswith("0_") and init.name.endswith("_init.py")
    sql = init.read_text(encoding="utf-8")
    assert "toolapp_note" in sql and "core_audit_log" not in sql  # only this app's tables
    assert await migrations_tool.find_drift(v1, migrations) == {}
    assert "toolapp" in await migrations_tool.find_drift(v2, migrations)

    step = await migrations_tool.make_migration(
        "toolapp", "pinned", plugin_models=v2, migrations_dir=migrations, pg_url=PG_URL
    )
    assert step is not None and step.name.startswith("1_") and step.name.endswith("_pinned.py")
    assert (
        await migrations_tool.make_migration(
            "toolapp", "again", plugin_models=v2, migrations_dir=migrations, pg_url=PG_URL
        )
        is None
    )
    assert await migrations_tool.find_drift(v2, migrations) == {}

    lite = tmp_path / "roundtrip.sqlite3"
    for url in (f"sqlite://{lite}", pg_database):
        _forget_dialect_caches()
        applied = await _fresh(lambda u=url: apply_migrations(u, v2, migrations))
        assert applied["toolapp"] == [init.name, step.name], (url, applied)
        again = await _fresh(lambda u=url: apply_migrations(u, v2, migrations))
        assert again == {"core": [], "toolapp": []}
    assert "toolapp_note" in _sqlite_tables(lite)
    assert "toolapp_note" in await _pg_tables(pg_database)


@needs_postgres
async def test_a_third_party_plugins_first_migration_is_written_into_its_package(
    tmp_path: Path, models_path: Path, pg_database: str
) -> None:
    """`growmies makemigrations notes` for a plugin with models and no migrations yet: the
    file lands in <its package>/migrations/notes/, which becomes an importable package, and
    `growmies migrate` then applies it with its history."""
    import importlib

    package = f"growmies_notes_{uuid.uuid4().hex[:8]}"
    models = {"notes": _write_plugin_package(models_path, package)}

    written = await migrations_tool.make_migration("notes", plugin_models=models, pg_url=PG_URL)

    assert written is not None
    assert written.parent == models_path / package / "migrations" / "notes"
    assert written.name.startswith("0_") and written.name.endswith("_init.py")
    assert (models_path / package / "migrations" / "__init__.py").is_file()
    importlib.invalidate_caches()
    assert await migrations_tool.find_drift(models) == {}
    applied = await _fresh(lambda: apply_migrations(pg_database, models))
    assert applied["notes"] == [written.name]
    assert "toolapp_note" in await _pg_tables(pg_database)
