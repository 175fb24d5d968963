"""Settings document themselves: each is declared once, as a pydantic field (the core's
`Settings`, each built-in plugin's `settings_model`) with its type, default, range and
description; `.env.example`, the README's configuration tables, `growmies doctor` and compose's
bot environment are checked against those declarations. A name that looks like ours but that
nothing reads (a typo) is warned about at start and in the doctor, with the closest known name."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from bot.doctor import plugin_settings_rows, settings_rows, unknown_setting_rows
from bot.loader import discover
from bot.settings import Settings, setting_names
from tests.test_cli import growmies

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
README = (ROOT / "README.md").read_text()
COMPOSE = (ROOT / "docker-compose.yml").read_text()

# In .env.example but not in the bot's environment in compose, and why.
NOT_IN_COMPOSE_BOT = {
    "POSTGRES_PASSWORD": "the db service's password; the bot gets it inside DATABASE_URL",
    "LAVALINK_PASSWORD": "the lavalink service's password; the bot gets it inside LAVALINK_NODES",
    "LAVALINK_HEAP": "the lavalink service's Java heap, nothing the bot reads",
}
# Compose-only settings: documented in .env.example, read by compose, not by the bot.
COMPOSE_ONLY = {"POSTGRES_PASSWORD", "LAVALINK_HEAP"}


def _builtin_models() -> dict[str, type[BaseSettings]]:
    """Settings models of the plugins shipped with growmies (a third-party plugin documents its
    own settings in its own README)."""
    registry = discover()
    models = {name: p.settings_model for name, p in registry.plugins.items()
              if p.settings_model is not None
              and registry.discovered[name].distribution == "growmies"}
    assert {"music", "llm"} <= models.keys()
    return models


def _declarations() -> list[tuple[str, list[str], FieldInfo]]:
    """(owner, environment names with the primary one first, field) for every setting."""
    found = [("core", [name.upper()], info) for name, info in Settings.model_fields.items()]
    for plugin, model in _builtin_models().items():
        names = setting_names(model)
        found += [(plugin, names[field], info) for field, info in model.model_fields.items()]
    return found


def _bounds(info: FieldInfo) -> list[float]:
    """The range's ends worth telling a person (an upper bound, a lower bound above 1)."""
    ends: list[float] = []
    for meta in info.metadata:
        for attr in ("le", "lt", "ge", "gt"):
            value = getattr(meta, attr, None)
            if value is not None and (attr in ("le", "lt") or value > 1):
                ends.append(value)
    return ends


def _env_example() -> dict[str, str]:
    """Each KEY in .env.example with the comment block just above it (shared blocks too)."""
    documented: dict[str, str] = {}
    comment: list[str] = []
    for line in ENV_EXAMPLE.splitlines():
        if line.startswith("#"):
            comment.append(line)
        elif "=" in line:
            assert " #" not in line, f"keep comments on their own line (docker-compose 1.x): {line}"
            key = line.split("=", 1)[0]
            assert key not in documented, f"{key} twice in .env.example"
            documented[key] = "\n".join(comment)
        else:
            comment = []
    return documented


def _compose_bot_environment() -> set[str]:
    bot = COMPOSE.split("\n  bot:\n", 1)[1].split("\n    environment:\n", 1)[1]
    return set(re.findall(r"^      ([A-Z][A-Z0-9_]*):", bot.split("\n    networks:", 1)[0], re.M))


def test_every_setting_is_declared_with_a_description_and_numbers_with_a_range() -> None:
    for owner, names, info in _declarations():
        assert info.description, f"{names[0]} ({owner}) has no description="
        if info.annotation in (int, float, int | None, float | None):
            assert info.metadata, f"{names[0]} ({owner}) is a number without a range"


def test_env_example_documents_every_setting_with_its_range_and_nothing_else() -> None:
    documented = _env_example()
    assert "DISCORD_TOKEN=" in ENV_EXAMPLE.splitlines(), "the example must not carry a token"
    declared: set[str] = set()
    for owner, names, info in _declarations():
        key = next((n for n in names if n in documented), None)
        assert key is not None, f"{names[0]} ({owner}) is missing from .env.example"
        declared.add(key)
        for end in _bounds(info):
            assert re.search(rf"\b{end:g}\b", documented[key]), \
                f".env.example should tell {key}'s range ({end:g})"
    assert set(documented) - declared == COMPOSE_ONLY, "a key .env.example documents is unread"


def test_readme_tables_list_every_setting_with_its_range() -> None:
    rows = {line for line in README.splitlines() if line.startswith("| `")}
    for owner, names, info in _declarations():
        row = next((r for r in rows if f"`{names[0]}`" in r), None)
        assert row is not None, f"{names[0]} ({owner}) is not in README's settings tables"
        for name in names[1:]:
            assert f"`{name}`" in row, f"README: {names[0]} is also read as {name}"
        for end in _bounds(info):
            assert re.search(rf"\b{end:g}\b", row), f"README should tell {names[0]}'s range"


def test_doctor_shows_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISCORD_TOKEN", "LLM_MODEL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    core = Settings(_env_file=None)  # type: ignore[call-arg]
    rows, _ = plugin_settings_rows(discover(), core)
    shown = {row.part for row in settings_rows(core) + rows}
    missing = [names[0] for _, names, _ in _declarations() if names[0] not in shown]
    assert not missing, f"growmies doctor has no row for {missing}"


def test_compose_passes_every_bot_setting_and_reads_only_documented_ones() -> None:
    documented = set(_env_example())
    environment = _compose_bot_environment()
    assert environment == documented - set(NOT_IN_COMPOSE_BOT)
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE))
    assert interpolated <= documented, f"compose reads undocumented {interpolated - documented}"
    assert "-Xmx${LAVALINK_HEAP:-1G}" in COMPOSE


@pytest.mark.parametrize("value, expected", [("debug", "DEBUG"), (" Warning ", "WARNING")])
def test_log_level_in_any_case(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv("LOG_LEVEL", value)
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.log_level, settings.log_format) == (expected, "json")


# --- a name nothing reads ---------------------------------------------------------------------


def _typos(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv("MUSIC_DEFAULT_VOLUM", "80")
    monkeypatch.setenv("GROWMIES_PLUGIN", "music")
    monkeypatch.setenv("NOT_OURS_AT_ALL", "1")
    env_file = tmp_path / ".env"
    env_file.write_text("LLM_MODLE=gpt-4o-mini\nLLM_ZZZZZZZZZZZZ=1\n")
    return Settings(_env_file=env_file)  # type: ignore[call-arg]


def test_doctor_names_the_closest_setting_to_a_misspelt_one(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rows = {row.part: row for row in unknown_setting_rows(_typos(monkeypatch, tmp_path))}
    assert set(rows) == {"MUSIC_DEFAULT_VOLUM", "GROWMIES_PLUGIN", "LLM_MODLE", "LLM_ZZZZZZZZZZZZ"}
    assert all(row.status == "warn" for row in rows.values())
    assert rows["MUSIC_DEFAULT_VOLUM"].detail == (
        "MUSIC_DEFAULT_VOLUM is not a setting of the core or of a loaded plugin; "
        "did you mean MUSIC_DEFAULT_VOLUME?")
    assert rows["GROWMIES_PLUGIN"].detail.endswith("did you mean GROWMIES_PLUGINS?")
    assert rows["LLM_MODLE"].detail.endswith("did you mean LLM_MODEL?")
    assert rows["LLM_ZZZZZZZZZZZZ"].detail.endswith("no setting of that name exists")


def test_growmies_doctor_prints_the_warning(tmp_path: Path) -> None:
    result = growmies("doctor", env={"MUSIC_MAX_QUEUE_SIZ": "9"}, cwd=tmp_path)
    line = next(line for line in result.stdout.splitlines()
                if line.startswith("MUSIC_MAX_QUEUE_SIZ "))
    assert "WARN" in line and "did you mean MUSIC_MAX_QUEUE_SIZE?" in line


async def test_the_bot_warns_at_start_about_a_misspelt_setting(
        start_bot: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("MUSIC_DEFAULT_VOLUM", "80")
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        await start_bot()
    warned = [r.getMessage() for r in caplog.records if "settings.unknown" in r.getMessage()]
    assert len(warned) == 1
    assert ("MUSIC_DEFAULT_VOLUM is not a setting of the core or of a loaded plugin; "
            "did you mean MUSIC_DEFAULT_VOLUME?") in warned[0]
