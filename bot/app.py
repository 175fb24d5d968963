"""Starting and stopping the bot, the same way for `growmies run` and for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Mapping
from typing import Any

import nextcord
import structlog

from bot.client import GrowmiesBot
from bot.database import apply_migrations, close_database, init_database
from bot.loader import PluginRegistry, discover
from bot.logs import configure_logging
from bot.settings import (
    Settings,
    plugin_settings_for,
    unknown_setting_message,
    unknown_settings,
)

log = structlog.get_logger("bot.app")


def point_at_api(base: str | None) -> None:
    """nextcord builds every REST, callback and webhook URL from `Route.BASE`."""
    if base:
        nextcord.http.Route.BASE = base.rstrip("/")


async def prepare(settings: Settings, registry: PluginRegistry | None = None, *,
                  plugin_settings: Mapping[str, Mapping[str, Any]] | None = None,
                  **bot_options: Any) -> GrowmiesBot:
    """Discover plugins, read their settings, migrate, open the database and set plugins up;
    does not connect. `plugin_settings` ({plugin: {field: value}}) overrides the environment
    (tests, benchmarks). A bad plugin setting raises SettingsError before anything starts."""
    # Idempotent; ensures every secret is redacted even when the caller set up nothing.
    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    point_at_api(settings.discord_api_base)
    registry = registry if registry is not None else discover(settings.growmies_plugins)
    registry.settings.update(plugin_settings_for(registry.plugins, settings, plugin_settings))
    declared = {name: p.settings_model for name, p in registry.plugins.items()}
    for name, closest in unknown_settings(settings, declared).items():
        log.warning("settings.unknown", setting=name, closest=closest,
                    message=unknown_setting_message(name, closest))
    models = registry.model_modules()
    applied = await apply_migrations(
        settings.database_url, models, packages=registry.migration_packages()
    )
    if any(applied.values()):
        log.info("migrations.applied", versions={k: v for k, v in applied.items() if v})
    await init_database(settings.database_url, models)
    bot = GrowmiesBot(settings, registry, **bot_options)
    await bot.load_plugins()
    # Plugins import large libraries (openai, wavelink, Pillow). Moving everything alive after
    # start-up out of the collector's reach keeps full collections from pausing the event loop
    # for tens of milliseconds in the middle of interactions.
    gc.collect()
    gc.freeze()
    return bot


async def shutdown(bot: GrowmiesBot) -> None:
    try:
        await bot.close()
    finally:
        await close_database()


async def run(settings: Settings) -> None:
    token = settings.require_token()
    bot = await prepare(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(bot.start(token), name="growmies-bot")
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            runner.result()
    finally:
        stopper.cancel()
        await shutdown(bot)
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
