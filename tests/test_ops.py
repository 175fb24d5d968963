"""Checks of the operations files: the shell scripts, docker-compose.yml, lavalink/application.yml
and .env.example. Fast and offline: nothing is installed or started here."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIND_PYTHON = ROOT / "scripts" / "find-python"
BASH = shutil.which("bash") or "/bin/bash"
SCRIPTS = [
    ROOT / "scripts" / "find-python",
    ROOT / "scripts" / "setup",
    ROOT / "scripts" / "run",
    ROOT / "scripts" / "test",
    ROOT / ".ci" / "run",
]
NONE_FOUND = "Growmies needs Python 3.12 or newer (nextcord 3 requires it); found none."
HAVE_YAML = importlib.util.find_spec("yaml") is not None
COMPOSE = shutil.which("docker-compose")
# The interpreter running the tests, with any venv symlink resolved: a real Python >= 3.12.
REAL_PYTHON = os.path.realpath(sys.executable)


def _version_of(python: str) -> tuple[int, int]:
    out = subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def _find_python(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(FIND_PYTHON)], env=env, capture_output=True, text=True, timeout=60
    )


def _bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """PATH holds only a fake python3.12 that fails like the pyenv shim; no pyenv installs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "python3.12"
    fake.write_text('#!/bin/sh\necho "pyenv: python3.12: command not found" >&2\nexit 1\n')
    fake.chmod(0o755)
    pyenv_root = tmp_path / "pyenv"
    pyenv_root.mkdir()
    env = {"PATH": str(bin_dir), "PYENV_ROOT": str(pyenv_root), "HOME": str(tmp_path)}
    env.update(extra)
    return env


# --- scripts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_script_is_executable_bash(script: Path) -> None:
    assert os.access(script, os.X_OK), f"{script} must be executable (git update-index --chmod=+x)"
    subprocess.run([BASH, "-n", str(script)], check=True, timeout=30)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_scripts_pass_shellcheck() -> None:
    result = subprocess.run(
        ["shellcheck", "-S", "warning", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_find_python_prints_a_312_interpreter() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    result = _find_python(env)
    assert result.returncode == 0, result.stderr
    python = result.stdout.strip()
    assert Path(python).is_absolute()
    assert _version_of(python) >= (3, 12)


def test_find_python_explains_when_nothing_fits(tmp_path: Path) -> None:
    result = _find_python(_bare_env(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert NONE_FOUND in result.stderr
    assert "set PYTHON=/path/to/python3.12" in result.stderr


def test_find_python_uses_pyenv_installs_when_the_shim_fails(tmp_path: Path) -> None:
    env = _bare_env(tmp_path)
    old = Path(env["PYENV_ROOT"]) / "versions" / "3.11.7" / "bin"
    old.mkdir(parents=True)
    (old / "python3").symlink_to(REAL_PYTHON)  # would pass the check: must be skipped by name
    new = Path(env["PYENV_ROOT"]) / "versions" / "3.12.99" / "bin"
    new.mkdir(parents=True)
    (new / "python3.12").symlink_to(REAL_PYTHON)
    result = _find_python(env)
    assert result.returncode == 0, result.stderr
    python = result.stdout.strip()
    assert "3.11.7" not in python
    assert _version_of(python) >= (3, 12)


def test_find_python_prefers_PYTHON_and_survives_a_bad_one(tmp_path: Path) -> None:
    good = _find_python(_bare_env(tmp_path / "good", PYTHON=REAL_PYTHON))
    assert good.returncode == 0, good.stderr
    assert os.path.realpath(good.stdout.strip()) == REAL_PYTHON

    bad = _find_python(_bare_env(tmp_path / "bad", PYTHON=str(tmp_path / "nope")))
    assert bad.returncode == 1
    assert "is not a working Python >= 3.12" in bad.stderr
    assert NONE_FOUND in bad.stderr


# --- docker-compose.yml -----------------------------------------------------------------------


def _compose_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    assert COMPOSE is not None
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    drop = {"DISCORD_TOKEN", "POSTGRES_PASSWORD", "LAVALINK_PASSWORD", "COMPOSE_FILE"}
    full_env = {k: v for k, v in os.environ.items() if k not in drop}
    full_env.update(env)
    return subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(empty_env), "config"],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _service_blocks(config: str) -> dict[str, str]:
    """Text of each service in `docker-compose config` output (used when PyYAML is absent)."""
    services = config.split("\nservices:\n", 1)[1] if "\nservices:\n" in config else config
    services = re.split(r"\n(?=\S)", services, maxsplit=1)[0]
    blocks: dict[str, str] = {}
    for match in re.finditer(r"^  (\w[\w-]*):\n((?:(?:    .*)?\n)*)", services, re.M):
        blocks[match.group(1)] = match.group(2)
    return blocks


def _loopback(port: object) -> bool:
    if isinstance(port, dict):
        return port.get("host_ip") == "127.0.0.1"
    return str(port).startswith("127.0.0.1:")


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")
def test_compose_config_is_valid_and_safe(tmp_path: Path) -> None:
    result = _compose_config(tmp_path, DISCORD_TOKEN="dummy-token",
                             LAVALINK_PASSWORD="dummy-lavalink-password",
                             POSTGRES_PASSWORD="dummy-postgres-password")
    assert result.returncode == 0, result.stderr
    if HAVE_YAML:
        import yaml

        services = yaml.safe_load(result.stdout)["services"]
        depends = services["bot"]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["lavalink"]["condition"] == "service_healthy"
        lavalink_ports = services["lavalink"].get("ports", [])
        assert lavalink_ports, "lavalink should publish 2333 on the host's loopback"
        assert all(_loopback(p) for p in lavalink_ports), lavalink_ports
        assert all(_loopback(p) for p in services["db"].get("ports", [])), "db must stay private"
        assert services["bot"]["environment"]["DISCORD_TOKEN"] == "dummy-token"
        assert "healthcheck" in services["db"] and "healthcheck" in services["lavalink"]
    else:
        blocks = _service_blocks(result.stdout)
        assert {"bot", "db", "lavalink"} <= blocks.keys(), blocks.keys()
        bot = blocks["bot"]
        for dependency in ("db", "lavalink"):
            pattern = rf"\n      {dependency}:\n        condition: service_healthy\n"
            assert re.search(pattern, "\n" + bot), f"bot must wait for a healthy {dependency}"
        ports = re.findall(r"^    - (.+)$", blocks["lavalink"].split("ports:", 1)[1], re.M)
        assert ports and all(p.strip("'\"").startswith("127.0.0.1:") for p in ports), ports
        assert "ports:" not in blocks["db"], "db must stay private"
        assert "healthcheck:" in blocks["db"] and "healthcheck:" in blocks["lavalink"]


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")
def test_compose_requires_discord_token(tmp_path: Path) -> None:
    result = _compose_config(tmp_path)
    assert result.returncode != 0
    assert "set DISCORD_TOKEN in .env" in result.stderr


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")
def test_compose_requires_a_lavalink_password_instead_of_a_default(tmp_path: Path) -> None:
    result = _compose_config(tmp_path, DISCORD_TOKEN="dummy-token")
    assert result.returncode != 0
    assert "set LAVALINK_PASSWORD in .env" in result.stderr
    assert "youshallnotpass" not in (ROOT / "docker-compose.yml").read_text()


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")
def test_compose_requires_a_postgres_password_instead_of_a_default(tmp_path: Path) -> None:
    result = _compose_config(tmp_path, DISCORD_TOKEN="dummy-token",
                             LAVALINK_PASSWORD="dummy-lavalink-password")
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr
    assert "POSTGRES_PASSWORD:-" not in (ROOT / "docker-compose.yml").read_text()


# --- lavalink/application.yml -----------------------------------------------------------------

APPLICATION_YML = ROOT / "lavalink" / "application.yml"


def _uncommented(text: str) -> str:
    return "\n".join(
        line.split(" #", 1)[0] for line in text.splitlines() if not line.lstrip().startswith("#")
    )


def test_lavalink_password_comes_from_the_environment() -> None:
    text = _uncommented(APPLICATION_YML.read_text())
    passwords = re.findall(r"^\s*password:\s*(.*)$", text, re.M)
    assert passwords, "lavalink.server.password must be set"
    for value in passwords:
        assert re.fullmatch(r"""(["']?)\$\{LAVALINK_SERVER_PASSWORD\}\1""", value.strip()), value
    assert "youshallnotpass" not in text


def test_lavalink_sources() -> None:
    if HAVE_YAML:
        import yaml

        config = yaml.safe_load(APPLICATION_YML.read_text())
        server = config["lavalink"]["server"]
        assert server["sources"]["http"] is True
        assert server["sources"]["local"] is False
        # the built-in YouTube source is dead; the youtube-source plugin replaces it
        assert server["sources"]["youtube"] is False
        plugins = [p["dependency"] for p in config["lavalink"]["plugins"]]
        assert any(d.startswith("dev.lavalink.youtube:youtube-plugin:") for d in plugins)
        assert config["server"]["port"] == 2333
    else:
        text = _uncommented(APPLICATION_YML.read_text())
        assert re.search(r"^\s+http:\s*true\s*$", text, re.M)
        assert re.search(r"^\s+local:\s*false\s*$", text, re.M)
        assert re.search(r"^\s+youtube:\s*false\s*$", text, re.M)
        assert "dev.lavalink.youtube:youtube-plugin:" in text


# .env.example, the README tables, the doctor and compose's environment are checked against
# the settings' declarations in tests/test_settings_documented.py.


def _section(text: str, *path: str) -> list[str]:
    """The lines under a nested key of a block-style YAML file (comments stripped), enough for
    the checks below when PyYAML is not installed."""
    lines = [ln for ln in _uncommented(text).splitlines() if ln.strip()]
    found = lines
    for key in path:
        top = min(len(ln) - len(ln.lstrip()) for ln in found)  # this level's own keys
        for i, line in enumerate(found):
            depth = len(line) - len(line.lstrip())
            if depth == top and line.strip() == f"{key}:":
                body = []
                for nxt in found[i + 1:]:
                    if len(nxt) - len(nxt.lstrip()) <= depth:
                        break
                    body.append(nxt)
                found = body
                break
        else:
            raise AssertionError(f"{'.'.join(path)} not found")
    return found


def _flags(text: str, *path: str) -> dict[str, str]:
    pairs = (ln.strip().split(":", 1) for ln in _section(text, *path))
    return {k.strip(): v.strip() for k, v in pairs}


def test_lavalink_loads_lavasrc_and_lavalyrics_and_starts_without_credentials() -> None:
    text = APPLICATION_YML.read_text()
    deps = re.findall(r'dependency:\s*"([^"]+)"', _uncommented(text))
    # Coordinates as published on maven.lavalink.dev (Lavalink's default plugin repository).
    assert any(re.fullmatch(r"com\.github\.topi314\.lavasrc:lavasrc-plugin:4\.\d+\.\d+", d)
               for d in deps), deps
    assert any(re.fullmatch(r"com\.github\.topi314\.lavalyrics:lavalyrics-plugin:1\.\d+\.\d+", d)
               for d in deps), deps
    # LavaSrc refuses to start (so Lavalink does) with Deezer on, as a source or a lyrics
    # source, and no master key; every service stays off until an admin adds its credentials.
    assert _flags(text, "plugins", "lavasrc", "sources") == {
        "spotify": "false", "applemusic": "false", "deezer": "false"}
    lyrics = _flags(text, "plugins", "lavasrc", "lyrics-sources")
    assert lyrics == {"youtube": "true", "spotify": "false", "deezer": "false"}
    # Credentials come from the environment with an empty default, never written here.
    for key, env in (("clientId", "MUSIC_SPOTIFY_CLIENT_ID"), ("clientSecret",
                     "MUSIC_SPOTIFY_CLIENT_SECRET")):
        assert _flags(text, "plugins", "lavasrc", "spotify")[key] == f'"${{{env}:}}"'
    assert _flags(text, "plugins", "lavasrc", "deezer") == {
        "masterDecryptionKey": '"${MUSIC_DEEZER_MASTER_KEY:}"', "arl": '"${MUSIC_DEEZER_ARL:}"'}
    # Every filter the effects use is on (Lavalink's own key names).
    filters = _flags(text, "lavalink", "server", "filters")
    for name in ("equalizer", "timescale", "rotation", "karaoke", "tremolo"):
        assert filters[name] == "true", name
