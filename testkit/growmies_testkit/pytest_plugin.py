"""The Growmies pytest plugin (entry point `pytest11`, distribution growmies-testkit): fakes of
Discord, Lavalink and an OpenAI-compatible API over real sockets, database fixtures, and a
fixture that starts the real bot exactly as `growmies run` does. Plugin authors get all of it
with `pip install 'growmies[testing]'`; the fixtures are listed in the README ("Testing your
plugin").

Set TEST_DATABASE_URL=postgres://user@host:5432/db to run on PostgreSQL: each test session
creates its own database next to that one and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from growmies_testkit.databases import throwaway_database_sync
from growmies_testkit.world import World, make_world

_ASYNCIO_MODE = "asyncio_mode"
_FIXTURE_LOOP_SCOPE = "asyncio_default_fixture_loop_scope"


def _configured_in_ini(config: pytest.Config, name: str) -> bool:
    """Whether the project's pytest configuration (or `-o name=...`) sets `name`."""
    # pytest 9 keeps the parsed ini in `_inicfg` and deprecates the public `inicfg` view.
    values = getattr(config, "_inicfg", None)
    if values is None:
        values = getattr(config, "inicfg", {})
    return name in values


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Set pytest-asyncio up for a plugin author who has not: every fixture here is a coroutine,
    and so are the tests written against them. Without this, pytest-asyncio's default strict
    mode would skip an unmarked `async def test_...` and warn about the loop scope. A project
    that sets asyncio_mode (ini, `-o` or `--asyncio-mode`) keeps its own choice; the fixtures
    here are declared with pytest_asyncio.fixture, so they work in strict mode too. Runs before
    pytest-asyncio reads its settings (tryfirst)."""
    if config.getoption(_ASYNCIO_MODE, None) is None and not _configured_in_ini(
        config, _ASYNCIO_MODE
    ):
        config.option.asyncio_mode = "auto"
    if not _configured_in_ini(config, _FIXTURE_LOOP_SCOPE):
        # Every fixture gets a fresh loop with its test (pytest-asyncio's future default); there
        # is no public setter for an ini value, so the value goes into pytest's ini cache,
        # which getini() reads first.
        config._inicache[_FIXTURE_LOOP_SCOPE] = "function"


async def _finish(*steps: Callable[[], Awaitable[object]]) -> None:
    """Run every teardown step, even after one fails, then report the first failure as an
    ordinary exception.

    pytest stops tearing a test down at the first BaseException a finalizer raises (an
    asyncio.CancelledError escaping a bot's shutdown, say): the fixtures after it are never
    finalised, and the next test silently gets them back, with this test's rows, messages and
    queued tracks still in them. Turning that into an error of this test keeps it to one test."""
    failures: list[BaseException] = []
    for step in steps:
        try:
            await step()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # CancelledError, BaseExceptionGroup: see the docstring
            failures.append(exc)
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and task is not None:
                # The cancellation was delivered; let the remaining steps await normally.
                task.uncancel()
    if failures:
        first = failures[0]
        raise RuntimeError(f"teardown failed: {type(first).__name__}: {first}") from first


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database for this test session: SQLite by default, PostgreSQL on request."""
    with throwaway_database_sync(os.environ.get("TEST_DATABASE_URL", "")) as url:
        yield url


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgres")


# The audit log refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) in the database itself
# (migrations/core/2_*_audit_append_only.py); its free-text table goes with it.
AUDIT_TABLES = ("core_audit_text", "core_audit_log")


async def _clean_tables() -> None:
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    for app, models in Tortoise.apps.items():
        for model in models.values():
            table = model._meta.db_table
            if table == "aerich" or table in AUDIT_TABLES:
                continue
            await conn.execute_script(f'DELETE FROM "{table}"')
        del app
    await _clean_audit_log(conn)


async def _clean_audit_log(conn: Any) -> None:
    """Empty the append-only audit log between tests: lift its guard for one transaction (the
    bot itself never does this; the guard's own tests check that raw SQL is refused)."""
    if conn.capabilities.dialect == "postgres":
        # One simple-query string runs as one transaction: the trigger is back on even if the
        # TRUNCATE fails. TRUNCATE fires no row triggers; only the statement-level guard.
        await conn.execute_script(
            'ALTER TABLE "core_audit_log" DISABLE TRIGGER "core_audit_log_no_truncate"; '
            'TRUNCATE "core_audit_text", "core_audit_log" RESTART IDENTITY; '
            'ALTER TABLE "core_audit_log" ENABLE TRIGGER "core_audit_log_no_truncate";'
        )
        return
    # SQLite has no way to switch a trigger off: drop the guards, delete, put them back exactly
    # as the migration created them (their SQL is kept in sqlite_master).
    triggers = await conn.execute_query_dict(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        "AND tbl_name = 'core_audit_log'"
    )
    script = ["BEGIN;"]
    script += [f'DROP TRIGGER "{t["name"]}";' for t in triggers]
    script += ['DELETE FROM "core_audit_text";', 'DELETE FROM "core_audit_log";']
    script += [f"{t['sql']};" for t in triggers]
    script.append("COMMIT;")
    await conn.execute_script("\n".join(script))


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The ORM initialised with every installed plugin's models, migrated and emptied."""
    from bot.database import apply_migrations, close_database, init_database
    from bot.loader import discover

    models = discover().model_modules()
    await apply_migrations(database_url, models)
    await init_database(database_url, models)
    await _clean_tables()
    try:
        yield database_url
    finally:
        await _finish(close_database)


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[Any]:
    from growmies_testkit.fake_discord import FakeDiscord

    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await _finish(fake.close)


@pytest.fixture
def running_bots() -> list[RunningBot]:
    """Bots started in this test; the fakes stop them before closing themselves, so a bot
    never watches its Lavalink node or API server vanish during teardown."""
    return []


async def _stop_all(bots: list[RunningBot]) -> None:
    await _finish(*(handle.stop for handle in reversed(bots)))


@pytest_asyncio.fixture
async def fake_lavalink(running_bots: list[RunningBot]) -> AsyncIterator[Any]:
    from growmies_testkit.fake_lavalink import FakeLavalink

    node = FakeLavalink(player_update_interval=0.2)
    await node.start()
    try:
        yield node
    finally:
        await _finish(lambda: _stop_all(running_bots), node.close)


@pytest_asyncio.fixture
async def fake_openai(running_bots: list[RunningBot]) -> AsyncIterator[Any]:
    from growmies_testkit.fake_openai import FakeOpenAI

    srv = FakeOpenAI()
    await srv.start()
    try:
        yield srv
    finally:
        await _finish(lambda: _stop_all(running_bots), srv.close)


@dataclass
class RunningBot:
    """A real GrowmiesBot connected to the fake Discord, started like `growmies run`."""

    bot: Any
    task: asyncio.Task[None]
    settings: Any
    _stopped: bool = field(default=False)

    @property
    def services(self) -> Any:
        return self.bot.services

    async def stop(self) -> None:
        """A clean shutdown, as on SIGTERM: plugins torn down, buffers flushed."""
        if self._stopped:
            return
        self._stopped = True
        from bot.app import shutdown

        async def end_task() -> None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

        # The gateway task ends even when the shutdown fails, so a broken bot never keeps
        # talking to the fakes of the next test.
        await _finish(lambda: shutdown(self.bot), end_task)

    async def kill(self) -> None:
        """An abrupt stop, as on SIGKILL: nothing is flushed or torn down politely."""
        self._stopped = True
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        with contextlib.suppress(Exception):
            await self.bot.http.close()
            if self.bot.ws is not None:
                await self.bot.ws.close(code=4000)
        from bot.database import close_database

        await close_database()


BotStarter = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
def settings_factory(database_url: str, fake_discord: Any, tmp_path: Path) -> Callable[..., Any]:
    """Settings pointing at the fakes; keyword arguments override any setting."""
    from bot.settings import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "discord_token": fake_discord.token,
            "discord_api_base": fake_discord.api_base,
            "database_url": database_url,
            "log_format": "json",
            "interaction_rate": 1000,
            "interaction_burst": 1000,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest_asyncio.fixture
async def start_bot(
    fake_discord: Any, settings_factory: Callable[..., Any], database_url: str,
    running_bots: list[RunningBot],
) -> AsyncIterator[BotStarter]:
    """Start the real bot (migrations, plugins, gateway) and wait for its command sync."""
    from bot.app import prepare
    from bot.database import close_database, init_database
    from bot.loader import discover

    running = running_bots
    # Each test starts from empty tables.
    models = discover().model_modules()
    from bot.database import apply_migrations

    await apply_migrations(database_url, models)
    await init_database(database_url, models)
    await _clean_tables()
    await close_database()

    async def start(*, registry: Any = None, plugins: Sequence[Any] = (),
                    timeout: float = 15.0,
                    plugin_settings: dict[str, dict[str, Any]] | None = None,
                    **overrides: Any) -> RunningBot:
        # `overrides` are core settings; `plugin_settings` is {plugin: {field: value}} for the
        # plugins' own settings (ctx.settings), e.g. {"music": {"max_queue_size": 10}};
        # `plugins` are Plugin objects loaded next to the installed ones (stand-ins, probes).
        if plugins:
            registry = registry if registry is not None else discover()
            for extra in plugins:
                registry.plugins[extra.name] = extra
        settings = settings_factory(**overrides)
        bot = await prepare(settings, registry, plugin_settings=plugin_settings)
        task = asyncio.create_task(bot.start(settings.require_token()))
        handle = RunningBot(bot, task, settings)
        running.append(handle)
        synced = asyncio.create_task(bot.commands_synced.wait())
        done, _ = await asyncio.wait({synced, task}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            synced.cancel()
            task.result()
        if synced not in done:
            synced.cancel()
            raise TimeoutError("the bot did not sync its commands in time")
        return handle

    try:
        yield start
    finally:
        await _finish(lambda: _stop_all(running))


@pytest.fixture
def world(fake_discord: Any) -> World:
    """A guild with an owner-admin, a plain member, a DJ role holder and channels."""
    return make_world(fake_discord)


@pytest_asyncio.fixture
async def growmies(start_bot: BotStarter, world: World) -> RunningBot:
    """The bot with every installed plugin, connected and synced, in `world`."""
    return await start_bot()
