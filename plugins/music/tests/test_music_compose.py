"""docker-compose.yml keeps Lavalink (which fetches whatever URL a track names) on a network
from which PostgreSQL is unreachable."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = shutil.which("docker-compose")


def compose_config(tmp_path: Path) -> str:
    assert COMPOSE is not None
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "COMPOSE_FILE"}
    env["DISCORD_TOKEN"] = "dummy-token"
    # Compose requires both passwords (no defaults).
    env["LAVALINK_PASSWORD"] = "dummy-lavalink-password"
    env["POSTGRES_PASSWORD"] = "dummy-postgres-password"
    result = subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(env_file), "config"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def top_level(config: str, key: str) -> str:
    """The indented block under a top-level key of `docker-compose config` output."""
    match = re.search(rf"^{key}:\n((?:(?: .*)?\n)*)", config, re.M)
    assert match is not None, f"no {key}: in the config"
    return match.group(1)


def service_networks(config: str) -> dict[str, set[str]]:
    services = top_level(config, "services")
    out: dict[str, set[str]] = {}
    for match in re.finditer(r"^  (\w[\w-]*):\n((?:(?:    .*)?\n)*)", services, re.M):
        block = match.group(2)
        nets = re.search(r"^    networks:\n((?:      .*\n)*)", block, re.M)
        names = re.findall(r"^      ([\w-]+):", nets.group(1), re.M) if nets else ["default"]
        out[match.group(1)] = set(names)
    return out


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")
def test_lavalink_shares_no_network_with_postgres(tmp_path: Path) -> None:
    config = compose_config(tmp_path)
    networks = service_networks(config)
    assert not networks["lavalink"] & networks["db"], networks
    assert networks["db"] <= networks["bot"] and networks["lavalink"] <= networks["bot"]
    # The database's network has no way out either.
    [db_net] = networks["db"]
    declared = top_level(config, "networks")
    block = re.search(rf"^  {db_net}:\n((?:    .*\n)*)", declared, re.M)
    assert block is not None and "internal: true" in block.group(1), declared
