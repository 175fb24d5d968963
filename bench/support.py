"""Shared set-up for the benchmarks in bench/: the default database, the ORM with the compliance
app, a counter of SQL statements and a percentile. Throwaway databases come from the test kit
(growmies_testkit.databases), the one helper for them. Not part of the bot."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from growmies_testkit.databases import throwaway_database

__all__ = ["StatementCounter", "default_url", "open_orm", "p99", "percentile",
           "throwaway_database"]

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"


def default_url() -> str:
    env = os.environ.get("TEST_DATABASE_URL", "").strip()
    return env if env.startswith("postgres") else DEFAULT_PG


async def open_orm(url: str) -> None:
    """Migrate and open the ORM with the core and compliance apps only."""
    from bot.database import apply_migrations, init_database

    models = {"compliance": "plugins.compliance.models"}
    await apply_migrations(url, models)
    await init_database(url, models)


class StatementCounter:
    """Counts statements sent through Tortoise (queries, inserts, BEGIN and COMMIT)."""

    METHODS = ("execute_query", "execute_query_dict", "execute_insert", "execute_many",
               "execute_script", "begin", "commit")

    def __init__(self) -> None:
        self.count = 0
        self._patched: list[tuple[type, str, Any]] = []

    def install(self) -> None:
        from tortoise import Tortoise

        base = type(Tortoise.get_connection("default"))
        classes: list[type] = [base]
        with contextlib.suppress(ImportError):
            from tortoise.backends.asyncpg.client import TransactionWrapper

            classes.append(TransactionWrapper)
        with contextlib.suppress(ImportError):
            from tortoise.backends.sqlite.client import SqliteTransactionWrapper

            classes.append(SqliteTransactionWrapper)
        for cls in classes:
            for name in self.METHODS:
                if name not in cls.__dict__:
                    continue
                original = cls.__dict__[name]

                async def counting(*args: Any, _orig: Any = original, **kwargs: Any) -> Any:
                    self.count += 1
                    return await _orig(*args, **kwargs)

                setattr(cls, name, counting)
                self._patched.append((cls, name, original))

    def uninstall(self) -> None:
        for cls, name, original in reversed(self._patched):
            setattr(cls, name, original)
        self._patched.clear()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


def p99(values: list[float]) -> float:
    return percentile(values, 0.99)
