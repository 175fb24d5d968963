"""Throwaway databases: the one helper the test fixtures, the migration tests and the
benchmarks use to get a fresh, empty database and to remove it afterwards.

- No URL, or a ``sqlite://`` URL: a SQLite file in a new temporary directory, deleted after.
- A ``postgres://`` (or ``postgresql://``) URL: a new database named ``<prefix>_<pid>_<hex>`` on
  that server, created through an admin connection to the URL's own database (``postgres``
  when the URL names none) and dropped ``WITH (FORCE)`` afterwards, so a connection a test
  left open cannot keep it alive.

``throwaway_database`` is for async code; ``throwaway_database_sync`` is for places without a
running event loop (a session-scoped pytest fixture, a benchmark's ``main()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "database_refused",
    "is_postgres_url",
    "throwaway_database",
    "throwaway_database_sync",
    "with_database",
]


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` on the same server (user, host, query kept)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _pg_admin(base: str, sql: str) -> None:
    import asyncpg

    admin_db = urlsplit(base).path.lstrip("/") or "postgres"
    conn = await asyncpg.connect(with_database(base, admin_db))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _new_name(prefix: str) -> str:
    # The pid keeps parallel sessions (CI shards, two developers) apart; the random part keeps
    # several databases of one process apart.
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"


def _normalise(url: str) -> str:
    return url.strip().replace("postgresql://", "postgres://", 1)


@contextlib.asynccontextmanager
async def throwaway_database(
    base_url: str = "", *, prefix: str = "growmies_test", filename: str = "growmies.sqlite3"
) -> AsyncIterator[str]:
    """Yield the URL of a fresh database next to `base_url` (see the module docstring)."""
    base = _normalise(base_url)
    if not is_postgres_url(base):
        with tempfile.TemporaryDirectory(prefix=f"{prefix}_") as tmp:
            yield f"sqlite://{Path(tmp) / filename}"
        return
    name = _new_name(prefix)
    await _pg_admin(base, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(base, name)
    finally:
        # Close the ORM's pool first when it points here, so the forced drop does not cut
        # connections from under code that is still shutting down.
        with contextlib.suppress(Exception):
            from tortoise import Tortoise

            await Tortoise.close_connections()
        await _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def throwaway_database_sync(
    base_url: str = "", *, prefix: str = "growmies_test", filename: str = "growmies.sqlite3"
) -> Iterator[str]:
    """`throwaway_database` for code with no running event loop: the admin statements run in
    their own short-lived loop."""
    base = _normalise(base_url)
    if not is_postgres_url(base):
        with tempfile.TemporaryDirectory(prefix=f"{prefix}_") as tmp:
            yield f"sqlite://{Path(tmp) / filename}"
        return
    name = _new_name(prefix)
    asyncio.run(_pg_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(base, name)
    finally:
        asyncio.run(_pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def database_refused(when: Callable[[str], bool] | None = None) -> Iterator[asyncio.Event]:
    """A database outage for the length of the block: every query on the default connection
    (and its transactions) fails as when the server refuses the socket. Yields an event set
    at each refused query, so a test can wait until background work has run into the outage
    (clear it to wait for the next one) instead of sleeping.

    `when` narrows the outage to the statements whose SQL it accepts: the connection dropping
    half-way through a transaction, say, after its first statements went through."""
    from tortoise import Tortoise
    from tortoise.exceptions import OperationalError

    base = type(Tortoise.get_connection("default"))
    # The client's class and its transaction wrappers (which override some of the methods).
    classes, todo = [], [base]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    names = ("execute_query", "execute_query_dict", "execute_insert", "execute_many",
             "execute_script")
    own = [(cls, name, cls.__dict__[name]) for cls in classes for name in names
           if name in cls.__dict__]
    inherited = [(base, name, getattr(base, name)) for name in names
                 if name not in base.__dict__]
    hit = asyncio.Event()

    def refusing(original: Any) -> Any:
        async def refused(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            if when is not None and not when(query):
                return await original(self, query, *args, **kwargs)
            hit.set()
            # As the client reports it: the driver's refused socket, inside tortoise's error.
            refusal = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
            raise OperationalError(str(refusal)) from refusal

        return refused

    for cls, name, func in own + inherited:
        setattr(cls, name, refusing(func))
    try:
        yield hit
    finally:
        for cls, name, func in own:
            setattr(cls, name, func)
        for cls, name, _ in inherited:
            delattr(cls, name)
