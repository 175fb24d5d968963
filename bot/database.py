"""Tortoise ORM set-up and aerich migrations, one app per plugin plus the core app."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tortoise import Tortoise

from bot.settings import DEFAULT_SQLITE_URL

CORE_APP = "core"
CORE_MODELS = ("bot.models", "aerich.models")


def _find_migrations() -> Path:
    """migrations/ next to the source tree (a checkout or editable install), else in the
    working directory (the Docker image installs the package and keeps migrations in /app);
    GROWMIES_MIGRATIONS_DIR overrides both."""
    override = os.environ.get("GROWMIES_MIGRATIONS_DIR")
    if override:
        return Path(override)
    beside_source = Path(__file__).resolve().parent.parent / "migrations"
    if beside_source.is_dir():
        return beside_source
    return Path.cwd() / "migrations"


MIGRATIONS_DIR = _find_migrations()


class DatabaseError(Exception):
    """The database cannot be reached or migrated; the message is safe to print."""


def with_pool_defaults(database_url: str) -> str:
    """Give PostgreSQL a connection pool sized for concurrent interactions.

    Tortoise defaults to at most 5 connections; at 50 concurrent clicks the queue for a
    connection, not the database, dominated latency. An explicit `maxsize` in the URL wins."""
    if not database_url.startswith("postgres") or "maxsize=" in database_url:
        return database_url
    return database_url + ("&" if "?" in database_url else "?") + "minsize=2&maxsize=20"


def tortoise_config(database_url: str, plugin_models: Mapping[str, str]) -> dict[str, Any]:
    """Tortoise config with one app per plugin that has models, all on one connection."""
    apps: dict[str, Any] = {
        CORE_APP: {"models": list(CORE_MODELS), "default_connection": "default"}
    }
    for name, module in plugin_models.items():
        apps[name] = {"models": [module], "default_connection": "default"}
    return {
        "connections": {"default": with_pool_defaults(database_url)},
        "apps": apps,
        "use_tz": True,
        "timezone": "UTC",
    }


def _describe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


async def check_reachable(database_url: str, timeout: float = 3.0) -> None:
    """Fail fast with a clear message when a server database is unreachable."""
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        path = database_url.split("://", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return
    host, port = parts.hostname or "localhost", parts.port or 5432
    try:
        _r, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.close()
    except (OSError, TimeoutError, socket.gaierror) as exc:
        raise DatabaseError(
            f"DATABASE_URL: cannot reach {_describe_url(database_url)} ({type(exc).__name__})"
        ) from None


def _forget_cached_sql() -> None:
    # Tortoise caches each model's INSERT per connection *name*, not per database kind, so a
    # process that switched from SQLite to PostgreSQL would reuse SQLite's statements.
    from tortoise.backends.base import executor

    executor.EXECUTOR_CACHE.clear()


async def init_database(database_url: str, plugin_models: Mapping[str, str]) -> None:
    await check_reachable(database_url)
    _forget_cached_sql()
    try:
        await Tortoise.init(config=tortoise_config(database_url, plugin_models))
    except Exception as exc:
        raise DatabaseError(
            f"DATABASE_URL: cannot open {_describe_url(database_url)} ({type(exc).__name__})"
        ) from None


async def close_database() -> None:
    await Tortoise.close_connections()


async def apply_migrations(
    database_url: str,
    plugin_models: Mapping[str, str],
    migrations_dir: Path = MIGRATIONS_DIR,
) -> dict[str, list[str]]:
    """Apply pending aerich migrations for the core and every plugin app.

    Returns the versions applied per app. Apps without committed migrations (a third-party
    plugin that ships none) get their tables created directly, safely.
    """
    from aerich import Command

    await check_reachable(database_url)
    config = tortoise_config(database_url, plugin_models)
    applied: dict[str, list[str]] = {}
    apps = [CORE_APP, *plugin_models]
    _forget_cached_sql()
    try:
        # aerich skips Tortoise.init when Tortoise believes it is initialised, which it still
        # does after an earlier close; initialise explicitly so a second call works.
        await Tortoise.init(config=config)
        for app in apps:
            if not (migrations_dir / app).is_dir():
                continue
            command = Command(tortoise_config=config, app=app, location=str(migrations_dir))
            await command.init()
            applied[app] = await command.upgrade(run_in_transaction=True)
        await _create_unmigrated(config, [a for a in apps if not (migrations_dir / a).is_dir()])
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(
            f"migrations failed on {_describe_url(database_url)}: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        await Tortoise.close_connections()
    return applied


async def _create_unmigrated(config: dict[str, Any], apps: list[str]) -> None:
    if not apps:
        return
    from tortoise.utils import get_schema_sql

    if not Tortoise._inited:
        await Tortoise.init(config=config)
    client = Tortoise.get_connection("default")
    # Tortoise generates the schema for all apps at once; `safe` keeps existing tables.
    sql = get_schema_sql(client, safe=True)
    await client.execute_script(sql)


async def pending_migrations(
    database_url: str, plugin_models: Mapping[str, str], migrations_dir: Path = MIGRATIONS_DIR
) -> dict[str, list[str]]:
    """Versions committed under migrations/ but not yet applied, per app (for `doctor`)."""
    from aerich.models import Aerich

    await init_database(database_url, plugin_models)
    pending: dict[str, list[str]] = {}
    try:
        for app in [CORE_APP, *plugin_models]:
            folder = migrations_dir / app
            if not folder.is_dir():
                continue
            files = sorted(p.name for p in folder.glob("*.py") if p.name[0].isdigit())
            try:
                done = set(await Aerich.filter(app=app).values_list("version", flat=True))
            except Exception:
                done = set()
            missing = [f for f in files if f not in done]
            if missing:
                pending[app] = missing
    finally:
        await Tortoise.close_connections()
    return pending


def _aerich_config() -> dict[str, Any]:
    """The config aerich's CLI reads (aerich.toml): every installed plugin's models."""
    from bot.loader import discover

    url = os.environ.get("DATABASE_URL") or DEFAULT_SQLITE_URL
    return tortoise_config(url, discover().model_modules())


def __getattr__(name: str) -> Any:
    # Built lazily so importing bot.database does not import every plugin.
    if name == "AERICH_CONFIG":
        return _aerich_config()
    raise AttributeError(name)
