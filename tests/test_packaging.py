"""What a packager or an admin reading `growmies plugins` sees: honest versions, an SPDX
license, a Docker build context without secrets or local state."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "DATABASE_", "OPENAI_", "LAVALINK_", "GROWMIES_",
                                 "MUSIC_", "LLM_"))}


def test_growmies_plugins_shows_each_plugins_own_version_next_to_its_package(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bot.cli", "plugins"], cwd=tmp_path,
                            env=_clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["plugin", "version", "package", "default"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    from plugins.compliance.plugin import CompliancePlugin

    own = CompliancePlugin.version
    assert own == "0.2.0"  # differs from the package's, which is what used to be shown
    assert rows["compliance"][1:4] == [own, "growmies", "0.1.0"]


def test_pyproject_license_is_an_spdx_expression():
    for path in (ROOT / "pyproject.toml", ROOT / "testkit" / "pyproject.toml"):
        data = tomllib.loads(path.read_text())
        assert data["project"]["license"] == "MIT", path
        # setuptools reads an SPDX string from 77 on; older ones would fail the build.
        assert data["build-system"]["requires"] == ["setuptools>=77"], path


def _ignored(patterns: list[str], path: str) -> bool:
    """Docker's rule for a file: the last matching pattern wins; `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        pattern = pattern.removeprefix("**/")
        parts = path.split("/")
        # A pattern matches the path itself or any folder above it (or, for **/, any suffix).
        candidates = {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
        candidates |= {"/".join(parts[i:j]) for i in range(len(parts))
                       for j in range(i + 1, len(parts) + 1)}
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            ignored = not negate
    return ignored


def test_the_docker_build_context_leaves_out_secrets_and_local_state():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".env", ".env.local", ".venv/bin/python", "data/growmies.sqlite3",
                 ".git/HEAD", "build/lib/bot/app.py", "growmies.egg-info/PKG-INFO",
                 "bot/__pycache__/app.cpython-312.pyc", ".pytest_cache/v", ".mypy_cache/x",
                 ".ruff_cache/x", "plugins/music/tests/.env"):
        assert _ignored(patterns, path), path
    # What the Dockerfile copies must stay in the context.
    for path in ("pyproject.toml", "README.md", "bot/app.py", "plugins/music/plugin.py",
                 "plugins/compliance/migrations/compliance/0_x.py", ".env.example"):
        assert not _ignored(patterns, path), path
