"""Where things live: the one rule for finding `.env` and the default data directory.

The home directory is, in order:
1. the current directory, when it holds a `.env` (a checkout started with `scripts/run`);
2. `GROWMIES_HOME`, when set (a service, a container, a second bot on one machine);
3. a per-user directory: `$XDG_DATA_HOME/growmies`, else `~/.local/share/growmies`.

`.env` is read from the home (a missing one is fine: the environment alone may configure the
bot), and the default SQLite database is `<home>/data/growmies.sqlite3`. A relative SQLite path
in `DATABASE_URL` is taken relative to the home too, so `growmies` started from another
directory finds the same database instead of starting an empty one there.

Nothing here creates a file or a directory: only `growmies run`/`migrate`/`seed` create the
SQLite database (and its folder), never a check such as `doctor` or `plugins`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ENV_NAME = ".env"
HOME_VARIABLE = "GROWMIES_HOME"
SQLITE_NAME = "growmies.sqlite3"


@dataclass(frozen=True)
class Home:
    directory: Path
    # Why this directory was chosen, as `growmies doctor` shows it.
    reason: str

    @property
    def env_file(self) -> Path:
        return self.directory / ENV_NAME

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def default_database_url(self) -> str:
        return f"sqlite://{self.data_dir / SQLITE_NAME}"


def user_data_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_DATA_HOME", "").strip()
    root = Path(base) if base else Path(environ.get("HOME") or Path.home()) / ".local" / "share"
    return root / "growmies"


def find_home(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Home:
    cwd = Path.cwd() if cwd is None else cwd
    environ = os.environ if environ is None else environ
    if (cwd / ENV_NAME).is_file():
        return Home(cwd.resolve(), "the current directory has a .env")
    configured = environ.get(HOME_VARIABLE, "").strip()
    if configured:
        return Home(Path(configured).expanduser().resolve(), f"{HOME_VARIABLE} is set")
    return Home(user_data_dir(environ), f"no .env here and no {HOME_VARIABLE}: the per-user "
                "directory")


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and for `:memory:`)."""
    if urlsplit(database_url).scheme != "sqlite":
        return None
    path = database_url.split("://", 1)[1].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def anchor_sqlite(database_url: str, home: Home) -> str:
    """A relative SQLite path made relative to the home (other URLs unchanged)."""
    path = sqlite_path(database_url)
    if path is None or path.is_absolute():
        return database_url
    rest = database_url.split("://", 1)[1]
    query = rest[len(rest.split("?", 1)[0]):]
    return f"sqlite://{home.directory / path}{query}"


def missing_sqlite(database_url: str) -> Path | None:
    """The SQLite file a check must not create because it does not exist yet (else None)."""
    path = sqlite_path(database_url)
    return path if path is not None and not path.exists() else None


def where_things_live(home: Home, database_url: str) -> list[tuple[str, str]]:
    """(what, where) rows for `growmies doctor`."""
    env = home.env_file
    db = sqlite_path(database_url)
    return [
        ("home", f"{home.directory} ({home.reason})"),
        (".env", f"{env}" if env.is_file() else f"{env} (none: settings come from the "
                                                  "environment only)"),
        ("data directory", f"{home.data_dir}"
         + ("" if home.data_dir.exists() else " (created by `growmies run` or `migrate`)")),
        ("database file", f"{db}" if db is not None else "not SQLite (DATABASE_URL names a "
                                                          "server)"),
    ]
