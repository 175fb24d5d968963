"""`growmies run | migrate | makemigrations | doctor | plugins | seed`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import nextcord

from bot.database import DatabaseError, apply_migrations
from bot.loader import discover
from bot.logs import configure_logging
from bot.paths import Home, anchor_sqlite, find_home
from bot.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    settings = settings_for(find_home())
    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    return settings


def settings_for(home: Home) -> Settings:
    """Settings read from the home's `.env` (if any) and the environment; the database
    defaults to the home's data directory (see bot/paths.py for the rule)."""
    env_file: Path | None = None
    if home.env_file.is_file():
        if not os.access(home.env_file, os.R_OK):
            raise SettingsError(f"{home.env_file} exists but cannot be read by this user; fix "
                                "its owner or permissions (0600, owned by the bot's user)")
        env_file = home.env_file
    settings = load_settings(_env_file=env_file)
    # An explicit DATABASE_URL (environment or .env) wins; otherwise the home's data folder.
    url = (settings.database_url if "database_url" in settings.model_fields_set
           else home.default_database_url)
    settings.database_url = anchor_sqlite(url, home)
    return settings


async def _migrate(settings: Settings) -> int:
    registry = discover(settings.growmies_plugins)
    applied = await apply_migrations(
        settings.database_url, registry.model_modules(), packages=registry.migration_packages()
    )
    total = sum(len(v) for v in applied.values())
    for app, versions in applied.items():
        for version in versions:
            print(f"applied {app}/{version}")
    print(f"database is up to date ({total} migration(s) applied)")
    return 0


async def _run(settings: Settings) -> int:
    from bot.app import run

    await run(settings)
    return 0


async def _doctor(settings: Settings) -> int:
    from bot.doctor import run_doctor

    return await run_doctor(settings)


async def _plugins(settings: Settings) -> int:
    registry = discover(settings.growmies_plugins)
    # A plugin's own version (Plugin.version, what changes when the plugin does) next to the
    # distribution that installed it: several plugins can ship in one package.
    rows = []
    for name, found in sorted(registry.discovered.items()):
        plugin = found.plugin
        description = plugin.description if plugin else f"NOT LOADED: {found.error}"
        package = f"{found.distribution or '?'} {found.version}"
        rows.append((name, plugin.version if plugin else "-", package,
                     "on" if plugin and plugin.default_enabled else "off", description))
    for name, reason in registry.failed.items():
        if name not in registry.discovered:
            rows.append((name, "-", "-", "-", f"NOT LOADED: {reason}"))
    width = max((len(r[0]) for r in rows), default=6)
    pwidth = max((len(r[2]) for r in rows), default=7)
    print(f"{'plugin':<{width}}  {'version':<8}  {'package':<{pwidth}}  default  description")
    for name, version, package, default, description in rows:
        print(f"{name:<{width}}  {version:<8}  {package:<{pwidth}}  {default:<7}  {description}")
    return 0 if not registry.failed else 1


async def _seed(settings: Settings) -> int:
    from bot.database import close_database, init_database

    registry = discover(settings.growmies_plugins)
    models = registry.model_modules()
    await apply_migrations(
        settings.database_url, models, packages=registry.migration_packages()
    )
    await init_database(settings.database_url, models)
    # Seeds only need the tables, so plugins are not set up (no clients, no background tasks).
    try:
        for name, plugin in registry.plugins.items():
            count = await plugin.seed()
            print(f"{name}: {count} record(s) added")
    finally:
        await close_database()
    return 0


async def _invite(settings: Settings, client_id: int | None = None) -> int:
    from bot.invite import client_id_from_api, client_id_from_token, explain

    if client_id is None:
        token = settings.require_token()
        # The token's first segment is the bot's id: no network unless it does not decode.
        client_id = client_id_from_token(token) or await client_id_from_api(
            token, settings.discord_api_base or settings_api_base())
    registry = discover(settings.growmies_plugins)
    print(explain(client_id, registry.plugins))
    return 0


COMMANDS: dict[str, tuple[str, Callable[[Settings], Coroutine[Any, Any, int]]]] = {
    "run": ("apply pending migrations, then start the bot", _run),
    "migrate": ("apply pending database migrations", _migrate),
    "doctor": ("check settings, database, Lavalink, the LLM endpoint and Discord", _doctor),
    "plugins": ("list installed plugins: own version, package, description", _plugins),
    "seed": ("load the starter data shipped with plugins (idempotent)", _seed),
    "invite": ("print the URL that adds the bot to a server, with the permissions it needs",
               _invite),
}


def settings_api_base() -> str:
    return nextcord.http.Route.BASE


MAKEMIGRATIONS_HELP = (
    "write the next migration of an app (core or a plugin) into its package, for SQLite and "
    "PostgreSQL; --check reports drift"
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["makemigrations"]:
        # An author's tool with its own options; it needs no bot settings (no token, no DB).
        from bot.migrations_tool import main as makemigrations

        return makemigrations(argv[1:], prog="growmies makemigrations")
    parser = argparse.ArgumentParser(prog="growmies", description="Growmies Discord bot")
    sub = parser.add_subparsers(dest="command", required=True)
    parsers = {name: sub.add_parser(name, help=help_text)
               for name, (help_text, _) in COMMANDS.items()}
    parsers["invite"].add_argument(
        "--client-id", type=int, default=None,
        help="the application's id (default: read from DISCORD_TOKEN, no network needed)")
    sub.add_parser("makemigrations", help=MAKEMIGRATIONS_HELP)
    args = parser.parse_args(argv)
    try:
        settings = _settings()
        if args.command == "run":
            settings.require_token()
        if args.command == "invite":
            return asyncio.run(_invite(settings, args.client_id))
        return asyncio.run(COMMANDS[args.command][1](settings))
    except (SettingsError, DatabaseError) as exc:
        print(f"growmies: {exc}", file=sys.stderr)
        return 2
    except nextcord.LoginFailure:
        print("growmies: DISCORD_TOKEN was rejected by Discord (401): check the token",
              file=sys.stderr)
        return 2
    except nextcord.PrivilegedIntentsRequired:
        print("growmies: Discord refused the Server Members / Message Content intents: enable "
              "both under Bot > Privileged Gateway Intents in the developer portal",
              file=sys.stderr)
        return 2
    except (aiohttp.ClientError, nextcord.GatewayNotFound, OSError, TimeoutError) as exc:
        where = settings_api_base()
        print(f"growmies: cannot reach Discord at {where} ({type(exc).__name__}); check the "
              "network or DISCORD_API_BASE", file=sys.stderr)
        return 3
    except nextcord.HTTPException as exc:
        print(f"growmies: Discord answered HTTP {exc.status} while starting; try again later",
              file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
