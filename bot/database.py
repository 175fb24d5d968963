"""Tortoise ORM set-up and aerich migrations, one app per plugin plus the core app."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tortoise import Tortoise

from bot.settings import DEFAULT_SQLITE_URL

CORE_APP = "core"
CORE_MODELS = ("bot.models", "aerich.models")


class DatabaseError(Exception):
    """The database cannot be reached or migrated; the message is safe to print."""


class MigrationsMissing(DatabaseError):
    """An app has models but its package ships no migrations; the message names it."""


# Every app's migrations ship inside its own package, in `<package>/<app>/` (aerich's layout is
# `<location>/<app>/`), and are found with importlib.resources: an installed wheel migrates
# every app with its history from any working directory, and a third-party plugin carries its
# own. Nothing is looked up relative to the working directory.
CORE_MIGRATIONS = "bot.migrations"


def migrations_package(app: str, models_module: str, declared: str | None = None) -> str:
    """The dotted package holding `app`'s migrations: the plugin's declared `migrations`, else
    `<package of its models module>.migrations` (core: `bot.migrations`)."""
    if declared:
        return declared
    if app == CORE_APP:
        return CORE_MIGRATIONS
    parent = models_module.rpartition(".")[0]
    if not parent:
        raise MigrationsMissing(
            f"plugin {app!r}: its models module {models_module!r} is not inside a package, so "
            "there is no default place for its migrations; declare `migrations = "
            '"<package>"` on the plugin'
        )
    return parent + ".migrations"


def package_dir(package: str) -> Path | None:
    """The directory of an importable package, or None when it is not installed (or is not a
    plain directory, e.g. inside a zip, which aerich cannot read)."""
    try:
        root = resources.files(package)
    except (ModuleNotFoundError, TypeError):
        return None
    if isinstance(root, Path):
        return root
    # A namespace package: importlib gives a MultiplexedPath over its directories.
    paths = [p for p in getattr(root, "_paths", ()) if isinstance(p, Path)]
    return paths[0] if paths else None


def version_files(folder: Path) -> list[str]:
    """aerich version files in `folder` (`<number>_<timestamp>_<name>.py`), oldest first."""
    if not folder.is_dir():
        return []
    names = [p.name for p in folder.glob("*.py") if p.name.split("_", 1)[0].isdigit()]
    return sorted(names, key=lambda n: int(n.split("_", 1)[0]))


def migration_folders(
    plugin_models: Mapping[str, str],
    packages: Mapping[str, str | None] | None = None,
    migrations_dir: Path | None = None,
) -> dict[str, Path]:
    """The folder holding each app's versions (core first), from its package, or from
    `migrations_dir/<app>/` when given (tests and makemigrations' scratch copies).

    Raises MigrationsMissing, naming every app with models but no migrations: creating its
    tables without a history would leave them impossible to change later."""
    folders: dict[str, Path] = {}
    missing: list[str] = []
    for app, models in {CORE_APP: CORE_MODELS[0], **plugin_models}.items():
        if migrations_dir is not None:
            folder: Path | None = migrations_dir / app
            where = f"{migrations_dir / app}/"
        else:
            package = migrations_package(app, models, (packages or {}).get(app))
            root = package_dir(package)
            folder = root / app if root else None
            where = f"package {package} ({package.replace('.', '/')}/{app}/)"
        if folder is None or not version_files(folder):
            missing.append(
                f"{'core' if app == CORE_APP else 'plugin ' + repr(app)} has models ({models}) "
                f"but no migrations in {where}; its author must ship them "
                f"(`growmies makemigrations {app}`), or leave it out of GROWMIES_PLUGINS"
            )
        else:
            folders[app] = folder
    if missing:
        raise MigrationsMissing("; ".join(missing))
    return folders


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
    await _check_login(database_url, timeout)


async def _check_login(database_url: str, timeout: float) -> None:
    """Name the two mistakes a new admin makes that Tortoise reports only as "Can't establish
    connection": a database that was never created, and a wrong user or password."""
    import asyncpg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") or parts.username or "postgres"
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    try:
        conn = await asyncpg.connect(
            host=parts.hostname or "localhost", port=parts.port or 5432,
            user=unquote(parts.username or "") or None,
            password=unquote(parts.password or "") or None, database=unquote(name),
            timeout=timeout)
    except asyncpg.InvalidCatalogNameError:
        raise DatabaseError(
            f"DATABASE_URL: the database {name!r} does not exist on {where}; create it first "
            f"(`createdb -h {parts.hostname or 'localhost'} -U <user> {name}` or "
            f"`CREATE DATABASE {name};` in psql), then run `growmies migrate`") from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        raise DatabaseError(
            f"DATABASE_URL: {where} refused the login of user {parts.username or '(none)'!r}; "
            "check the user name and password") from None
    except Exception:
        # Anything else (TLS, pg_hba, a timeout) is reported by the real open that follows.
        return
    await conn.close()


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
    migrations_dir: Path | None = None,
    *,
    packages: Mapping[str, str | None] | None = None,
) -> dict[str, list[str]]:
    """Apply pending aerich migrations for the core and every plugin app, each from the
    migrations its package ships (`packages`: the plugins' declared `migrations`, see
    `PluginRegistry.migration_packages`).

    Returns the versions applied per app. An app with models but no migrations is refused
    (MigrationsMissing) before anything is applied.
    """
    from aerich import Command

    folders = migration_folders(plugin_models, packages, migrations_dir)
    await check_reachable(database_url)
    config = tortoise_config(database_url, plugin_models)
    applied: dict[str, list[str]] = {}
    _forget_cached_sql()
    try:
        # aerich skips Tortoise.init when Tortoise believes it is initialised, which it still
        # does after an earlier close; initialise explicitly so a second call works.
        await Tortoise.init(config=config)
        for app, folder in folders.items():
            command = Command(tortoise_config=config, app=app, location=str(folder.parent))
            await command.init()
            applied[app] = await command.upgrade(run_in_transaction=True)
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(
            f"migrations failed on {_describe_url(database_url)}: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        await Tortoise.close_connections()
    return applied


async def pending_migrations(
    database_url: str,
    plugin_models: Mapping[str, str],
    migrations_dir: Path | None = None,
    *,
    packages: Mapping[str, str | None] | None = None,
) -> dict[str, list[str]]:
    """Versions shipped in each app's package but not yet applied, per app (for `doctor`)."""
    from aerich.models import Aerich

    folders = migration_folders(plugin_models, packages, migrations_dir)
    await init_database(database_url, plugin_models)
    pending: dict[str, list[str]] = {}
    try:
        for app, folder in folders.items():
            try:
                done = set(await Aerich.filter(app=app).values_list("version", flat=True))
            except Exception:
                done = set()
            missing = [f for f in version_files(folder) if f not in done]
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
