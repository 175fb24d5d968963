"""examples/notes-plugin, an out-of-tree plugin, installed as its own distribution: it migrates
its own table and its own test suite passes, run exactly as its author runs it (its own
pytest configuration, which sets no asyncio options; the fixtures come from the test kit)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "notes-plugin"


@pytest.fixture(scope="module")
def notes_site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("notes-site")
    # Built from a clean copy: setuptools would otherwise reuse (and leave) build/ in the
    # example's folder, where stale files could mask a missing one.
    source = tmp_path_factory.mktemp("notes-src") / "notes-plugin"
    shutil.copytree(EXAMPLE, source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, timeout=300, capture_output=True,
    )
    return target


def test_the_wheel_ships_the_plugins_migrations(notes_site: Path) -> None:
    shipped = sorted(p.name for p in (notes_site / "growmies_notes/migrations/notes").glob("*.py"))
    in_source = sorted(p.name for p in (EXAMPLE / "growmies_notes/migrations/notes").glob("*.py"))
    assert shipped == in_source and shipped, shipped


def test_the_plugins_migrations_match_its_models(notes_site: Path, tmp_path: Path) -> None:
    """`growmies makemigrations --check` run from an empty directory, with the example
    installed: its migration is found inside its package and describes its models."""
    env = {**os.environ, "PYTHONPATH": str(notes_site), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "makemigrations", "--check"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_examples_own_tests_pass_with_the_test_kit(notes_site: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(notes_site), "PYTHONDONTWRITEBYTECODE": "1"}
    # TEST_DATABASE_URL passes through: on PostgreSQL the example's session gets its own
    # throwaway database from the test kit, like this one.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "pytest"), "tests"],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    # The example's own configuration was used, not this repository's (which sets
    # asyncio_mode = auto), and the test kit put pytest-asyncio in auto mode by itself.
    assert f"rootdir: {EXAMPLE}" in output and "configfile: pyproject.toml" in output, output
    assert re.search(r"asyncio: mode=(Mode\.)?AUTO", output, re.IGNORECASE), output[:2000]
    summary = output.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary), summary
    assert not re.search(r"failed|skipped|error", summary), summary
