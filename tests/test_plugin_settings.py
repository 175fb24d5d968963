"""Plugins own their settings: `Plugin.settings_model`, read as `<NAME>_<FIELD>` from the
environment and the core's `.env`, handed over as `ctx.settings`, shown by `growmies doctor`
and listed in `.env.example`; bad values and shared names are refused with one clear line."""

from __future__ import annotations

import asyncio
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bot import loader
from bot.contract import Plugin, PluginContext
from bot.doctor import plugin_settings_rows
from bot.loader import ENTRY_POINT_GROUP, DiscoveredPlugin, _load_one, discover
from bot.logs import redactor
from bot.settings import (
    PluginSettings,
    Settings,
    SettingsError,
    load_plugin_settings,
    plugin_settings_for,
    setting_names,
)
from tests.probe_plugin import ProbePlugin, registry_with
from tests.test_cli import growmies

ROOT = Path(__file__).resolve().parent.parent


# --- plugins used below ------------------------------------------------------------------------


class GreeterSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="GREETER_")

    greeting: str = "hello"
    max_per_member: int = Field(default=3, ge=1)
    api_token: SecretStr | None = None


class Plain(Plugin):
    name = "plain"
    description = "Has no settings"

    def __init__(self) -> None:
        self.ctx: PluginContext | None = None

    async def setup(self, ctx: PluginContext) -> None:
        self.ctx = ctx


class Greeter(Plain):
    name = "greeter"
    description = "Says hello"
    settings_model = GreeterSettings


def _shared(own: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(own, "SHARED_TOKEN"))


class AlphaSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="ALPHA_")

    token: str | None = _shared("ALPHA_TOKEN")


class BetaSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="BETA_")

    token: str | None = _shared("BETA_TOKEN")


class GammaSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="GAMMA_")

    token: str | None = None


def _plugin(name: str, model: Any) -> Plugin:
    cls = type(f"{name.title()}Plugin", (Plugin,), {"name": name, "settings_model": model})
    return cls()


alpha = _plugin("alpha", AlphaSettings)
beta = _plugin("beta", BetaSettings)
gamma = _plugin("gamma", GammaSettings)


class WrongPrefixSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="NOTES_")

    limit: int = 3


class CoreNameSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="SNEAKY_")

    url: str = Field(default="", validation_alias=AliasChoices("SNEAKY_URL", "DATABASE_URL"))


class OldNameFirstSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="OLDFIRST_")

    size: int = Field(default=1, validation_alias=AliasChoices("SIZE", "OLDFIRST_SIZE"))


wrong_prefix = _plugin("wrongprefix", WrongPrefixSettings)
core_name = _plugin("sneaky", CoreNameSettings)
old_name_first = _plugin("oldfirst", OldNameFirstSettings)


# Entry-point name -> the module attribute holding the plugin.
_ATTR = {"alpha": "alpha", "beta": "beta", "gamma": "gamma", "wrongprefix": "wrong_prefix",
         "sneaky": "core_name", "oldfirst": "old_name_first"}


def _entry_point(name: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=f"{__name__}:{_ATTR[name]}",
                               group=ENTRY_POINT_GROUP)


# --- reading -----------------------------------------------------------------------------------


def test_a_plugin_reads_its_prefixed_settings_from_the_environment_and_the_core_env_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GREETER_MAX_PER_MEMBER=7\nGREETER_API_TOKEN=greeter-secret-42\n"
                        "GREETING=not mine\n")
    monkeypatch.setenv("GREETER_GREETING", "hey there")
    core = Settings(_env_file=env_file)  # type: ignore[call-arg]

    built = plugin_settings_for({"greeter": Greeter(), "probe": ProbePlugin()}, core)

    settings = built["greeter"]
    assert isinstance(settings, GreeterSettings)
    assert settings.greeting == "hey there" and settings.max_per_member == 7
    assert settings.api_token is not None
    # A plugin without a settings_model gets none; the secret is masked in every log line.
    assert "probe" not in built
    assert redactor(None, "info", {"event": "token greeter-secret-42"})["event"] == "token ***"


def test_the_design_document_names_stay_accepted_and_the_prefixed_name_wins(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from plugins.llm.env import LlmSettings
    from plugins.music.env import MusicSettings

    monkeypatch.setenv("OPENAI_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-design-doc-name")
    monkeypatch.setenv("MAX_QUEUE_SIZE", "80")
    monkeypatch.setenv("DEFAULT_VOLUME", "40")
    monkeypatch.setenv("MUSIC_DEFAULT_VOLUME", "90")
    llm = load_plugin_settings("llm", LlmSettings, env_file=None)
    music = load_plugin_settings("music", MusicSettings, env_file=None)
    assert isinstance(llm, LlmSettings) and isinstance(music, MusicSettings)
    assert llm.model == "gpt-4o-mini" and llm.api_key is not None
    assert music.max_queue_size == 80 and music.default_volume == 90


@pytest.mark.parametrize("name", ["MAX_QUEUE_SIZE", "MUSIC_MAX_QUEUE_SIZE"])
def test_a_wrong_type_names_the_variable_that_was_set(
        monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    from plugins.music.env import MusicSettings

    monkeypatch.setenv(name, "lots")
    with pytest.raises(SettingsError) as caught:
        load_plugin_settings("music", MusicSettings, env_file=None)
    assert str(caught.value) == (f"{name} is invalid (plugin music): Input should be a valid "
                                 "integer, unable to parse string as an integer")


async def test_the_bot_hands_each_plugin_its_own_settings_and_the_core_settings_apart(
        start_bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREETER_GREETING", "from the environment")
    greeter, plain = Greeter(), Plain()
    running = await start_bot(registry=registry_with(greeter, plain, ProbePlugin(), allow=[]),
                              plugin_settings={"greeter": {"max_per_member": 9}})

    assert greeter.ctx is not None
    assert isinstance(greeter.ctx.settings, GreeterSettings)
    assert greeter.ctx.settings.greeting == "from the environment"
    assert greeter.ctx.settings.max_per_member == 9
    assert greeter.ctx.core_settings is running.settings
    assert plain.ctx is not None and plain.ctx.settings is None  # no settings_model
    assert plain.ctx.core_settings is running.settings


# --- bad input ---------------------------------------------------------------------------------


def test_growmies_run_refuses_a_wrong_type_in_env_file_with_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=abc\nDISCORD_API_BASE=http://127.0.0.1:1/api\n"
                                   "OPENAI_MAX_TOKENS=plenty\n")
    result = growmies("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("growmies: OPENAI_MAX_TOKENS is invalid (plugin llm): Input "
                                     "should be a valid integer, unable to parse string as an "
                                     "integer")


async def test_doctor_fails_on_a_wrong_type_under_a_plugin_prefix(
        fake_discord: Any, tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": fake_discord.token, "DISCORD_API_BASE": fake_discord.api_base,
           "DATABASE_URL": f"sqlite://{tmp_path}/d.sqlite3", "MUSIC_DEFAULT_VOLUME": "loud"}
    await asyncio.to_thread(growmies, "migrate", env=env, cwd=tmp_path)
    result = await asyncio.to_thread(growmies, "doctor", env=env, cwd=tmp_path)
    assert result.returncode == 1
    row = next(line for line in result.stdout.splitlines() if line.startswith("music settings"))
    assert row.split(maxsplit=3)[2:] == ["FAIL", "MUSIC_DEFAULT_VOLUME is invalid (plugin music): "
                                         "Input should be a valid integer, unable to parse "
                                         "string as an integer"]


def test_two_plugins_declaring_one_name_are_both_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [_entry_point(n) for n in ("alpha", "beta", "gamma")]
    monkeypatch.setattr(loader.metadata, "entry_points", lambda group: eps)

    registry = discover()

    assert set(registry.plugins) == {"gamma"}
    assert registry.failed == {
        "alpha": "setting SHARED_TOKEN is also declared by plugin beta; each setting name has "
                 "one owner",
        "beta": "setting SHARED_TOKEN is also declared by plugin alpha; each setting name has "
                "one owner",
    }


@pytest.mark.parametrize(("name", "reason"), [
    ("wrongprefix", "settings_model WrongPrefixSettings must read its settings with the prefix "
                    "'WRONGPREFIX_' (model_config env_prefix), not 'NOTES_'"),
    ("sneaky", "setting DATABASE_URL belongs to the core; name the plugin's setting SNEAKY_URL"),
    ("oldfirst", "setting 'size' must be read as OLDFIRST_SIZE first (list it first in its "
                 "AliasChoices, before any older name)"),
])
def test_a_settings_model_breaking_the_naming_rule_is_refused(name: str, reason: str) -> None:
    found = DiscoveredPlugin(name, None, "0")
    assert _load_one(_entry_point(name), found) == reason
    assert found.plugin is None


# --- where they are shown ----------------------------------------------------------------------


def _installed_models() -> dict[str, Any]:
    """Settings models of the plugins installed with growmies itself (a third-party plugin
    in the same environment documents its own settings in its own README)."""
    registry = discover()
    models = {name: p.settings_model for name, p in registry.plugins.items()
              if p.settings_model is not None
              and registry.discovered[name].distribution == "growmies"}
    assert {"music", "llm"} <= models.keys()
    return models


def test_doctor_shows_every_plugin_setting_with_secrets_masked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-doctor-must-mask")
    monkeypatch.setenv("LLM_MODEL", "growmies-test-model")
    nodes = '[{"id":"a","uri":"http://127.0.0.1:2333","password":"lava-doctor-pw"}]'
    monkeypatch.setenv("LAVALINK_NODES", nodes)
    rows, built = plugin_settings_rows(discover(), Settings(_env_file=None))  # type: ignore[call-arg]

    shown = {row.part: row.detail for row in rows}
    for model in _installed_models().values():
        for names in setting_names(model).values():
            assert names[0] in shown
    assert shown["LLM_API_KEY"] == "set (********) (from OPENAI_API_KEY)"
    assert shown["LLM_MODEL"] == "growmies-test-model"
    assert shown["MUSIC_LAVALINK_NODES"] == ("id=a uri=http://127.0.0.1:2333 password=set "
                                             "(********) resume_timeout=60 (from LAVALINK_NODES)")
    assert shown["MUSIC_TRANSCRIBE_BASE_URL"] == "(not set)"
    assert all(row.status == "ok" for row in rows)
    assert {"music", "llm"} <= built.keys()
