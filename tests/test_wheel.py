"""The runtime wheel, installed outside the source tree, migrates every app with its history.

An operator runs `pip install growmies-….whl` (plus third-party plugins' wheels) and then
`growmies migrate` from wherever they happen to be. This builds the wheels of growmies and of
the two examples (hello: no models; notes: its own model and migration) offline
(`pip wheel --no-deps --no-build-isolation` from a copy of the sources, so the checkout gets no
build/ or egg-info), installs them into a fresh venv that sees the project's dependencies but
not its source tree, runs `growmies migrate` in an empty directory, and reads the `aerich`
table: every app's history, the same versions as the source tree, and no stray files.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.database import migration_folders, version_files
from bot.loader import discover

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello-plugin"
NOTES = ROOT / "examples" / "notes-plugin"
BUILT_IN_APPS = {"core", "compliance", "llm", "music", "ui"}


@dataclass
class Installed:
    growmies_wheel: Path
    notes_wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def _run(
    cmd: list[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _copy_sources(source: Path, target: Path, keep: list[str]) -> Path:
    """The files a wheel is built from, without build/, *.egg-info or caches."""
    target.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for name in keep:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, target / name, ignore=ignore)
        else:
            shutil.copy2(path, target / name)
    return target


def _build_wheel(sources: Path, dist: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", dist, sources])
    (wheel,) = [p for p in dist.glob("*.whl") if p.name.startswith(_dist_name(sources))]
    return wheel


def _dist_name(sources: Path) -> str:
    import tomllib

    name = tomllib.loads((sources / "pyproject.toml").read_text())["project"]["name"]
    return name.replace("-", "_")


def _dependencies_only(target: Path) -> Path:
    """The project venv's site-packages minus growmies itself: links to every installed
    distribution except those offering growmies plugins or the test kit (their editable
    installs point back into this checkout), and without .pth files (which would activate
    those editable finders)."""
    site = Path(sysconfig.get_paths()["purelib"])
    target.mkdir()
    skipped_prefixes = ("growmies", "__editable__", "_growmies")
    for entry in site.iterdir():
        lowered = entry.name.lower()
        if lowered.startswith(skipped_prefixes) or lowered.endswith(".pth"):
            continue
        if lowered.endswith(".dist-info") and "growmies.plugins" in _entry_points(entry):
            continue
        (target / entry.name).symlink_to(entry)
    return target


def _entry_points(dist_info: Path) -> str:
    path = dist_info / "entry_points.txt"
    return path.read_text() if path.is_file() else ""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    growmies_sources = ["pyproject.toml", "README.md", "bot", "plugins"]
    growmies_wheel = _build_wheel(_copy_sources(ROOT, tmp / "src-growmies", growmies_sources), dist)
    hello_wheel = _build_wheel(
        _copy_sources(HELLO, tmp / "src-hello", ["pyproject.toml", "growmies_hello"]), dist
    )
    notes_sources = ["pyproject.toml", "README.md", "growmies_notes"]
    notes_wheel = _build_wheel(_copy_sources(NOTES, tmp / "src-notes", notes_sources), dist)
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    venv_site = Path(_run([venv / "bin" / "python", "-c", purelib]).stdout.strip())
    deps = _dependencies_only(tmp / "deps")
    (venv_site / "growmies-test-dependencies.pth").write_text(f"{deps}\n")
    _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
          "--no-deps", "--no-index", growmies_wheel, hello_wheel, notes_wheel])
    yield Installed(growmies_wheel, notes_wheel, venv)


def _source_versions() -> dict[str, list[str]]:
    """The built-in apps' versions in this checkout (the notes example is not installed in
    the project's venv, so it is read from its folder)."""
    registry = discover()
    models = {k: v for k, v in registry.model_modules().items() if k in BUILT_IN_APPS}
    folders = migration_folders(models, registry.migration_packages())
    versions = {app: version_files(folder) for app, folder in folders.items()}
    return {**versions, "notes": version_files(NOTES / "growmies_notes/migrations/notes")}


def test_the_wheel_ships_every_migration_and_no_test_code(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.growmies_wheel).namelist())
    source = {k: v for k, v in _source_versions().items() if k != "notes"}
    assert set(source) == BUILT_IN_APPS
    for app, versions in source.items():
        package = "bot/migrations" if app == "core" else f"plugins/{app}/migrations"
        assert f"{package}/__init__.py" in names, app
        for version in versions:
            assert f"{package}/{app}/{version}" in names, (app, version)
    test_code = sorted(
        n for n in names
        if "/tests/" in n
        or n.startswith("bot/testing/")
        or n.rsplit("/", 1)[-1].startswith("test_")
    )
    assert test_code == []
    assert "migrations/" not in {n.split("/", 1)[0] + "/" for n in names}  # only in packages
    notes = set(zipfile.ZipFile(installed.notes_wheel).namelist())
    assert {f"growmies_notes/migrations/notes/{v}" for v in _source_versions()["notes"]} <= notes


def test_growmies_migrate_from_an_empty_directory_records_every_apps_history(
    installed: Installed, tmp_path: Path
) -> None:
    workdir = tmp_path / "anywhere"
    workdir.mkdir()
    database = workdir / "fresh.sqlite3"
    env = {
        "PATH": f"{installed.bin}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite://{database}",
        "LANG": "C.UTF-8",
    }
    # The code that runs is the installed one, not this checkout.
    where = _run([installed.bin / "python", "-c", "import bot, plugins; print(bot.__file__)"],
                 cwd=workdir, env=env).stdout
    assert str(installed.venv) in where and str(ROOT) not in where
    plugins = _run([installed.bin / "growmies", "plugins"], cwd=workdir, env=env).stdout
    assert "hello" in plugins and "notes" in plugins and "NOT LOADED" not in plugins, plugins

    migrated = _run([installed.bin / "growmies", "migrate"], cwd=workdir, env=env).stdout

    source = _source_versions()
    # closing(): sqlite3's own context manager only commits, and an open reader would leave
    # the -wal/-shm files this test then finds in the directory.
    with closing(sqlite3.connect(database)) as conn:
        rows = conn.execute("SELECT app, version FROM aerich ORDER BY id").fetchall()
    history: dict[str, list[str]] = {}
    for app, version in rows:
        history.setdefault(app, []).append(version)
    assert set(source) == BUILT_IN_APPS | {"notes"} and all(source.values()), source
    assert history == source, migrated
    assert f"({sum(map(len, source.values()))} migration(s) applied)" in migrated
    assert sorted(p.name for p in workdir.iterdir()) == [database.name]

    again = _run([installed.bin / "growmies", "migrate"], cwd=workdir, env=env).stdout
    assert "(0 migration(s) applied)" in again
    assert sorted(p.name for p in workdir.iterdir()) == [database.name]
