"""Settings read from the environment and `.env`: the core's own, and each plugin's.

Every setting is documented in README.md and `.env.example`. A bad value becomes a
`SettingsError` naming the setting, so the CLI can print one clear line instead of a traceback.

A plugin owns its settings: `Plugin.settings_model` is a `PluginSettings` subclass whose env
prefix is `<NAME>_` (`MUSIC_`, `LLM_`), so each field is read as `<NAME>_<FIELD>`. A field may
also accept older names next to that one (`AliasChoices("MUSIC_MAX_QUEUE_SIZE",
"MAX_QUEUE_SIZE")`, the prefixed name first). The core reads every loaded plugin's model at
start-up from the environment and the same `.env` as its own settings, registers its secrets
with the log redactor and hands it to the plugin as `ctx.settings`. Each name has one owner: a
plugin declaring a name of the core or of another plugin is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    PrivateAttr,
    SecretBytes,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.sources import ENV_FILE_SENTINEL

DEFAULT_SQLITE_URL = "sqlite://data/growmies.sqlite3"
SUPPORTED_DB_SCHEMES = ("sqlite", "postgres", "postgresql", "asyncpg", "psycopg")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the setting and never its secret."""


def _split_ints(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _split_names(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False,
        env_ignore_empty=True,
    )

    # Each field's description is its documentation: tests/test_settings_documented.py checks
    # .env.example, the README table, the doctor and compose against these declarations.
    discord_token: SecretStr | None = Field(
        default=None, description="Bot token from the Discord developer portal. Required.")
    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        description="sqlite://path or postgres://user:password@host:5432/db")
    discord_api_base: str | None = Field(
        default=None, description="Discord API base URL; empty: Discord's own API.")
    dev_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated guild IDs to sync commands to at once; empty: global.")
    growmies_plugins: Annotated[list[str] | None, NoDecode] = Field(
        default=None, description="Comma-separated plugins to load; empty: every installed one.")
    log_format: Literal["auto", "console", "json"] = Field(
        default="auto", description="auto (console on a terminal, JSON otherwise), console, json")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)")
    shard_count: int | None = Field(
        default=None, ge=1, description="Total shards; empty: Discord's recommendation.")
    shard_ids: Annotated[list[int] | None, NoDecode] = Field(
        default=None, description="Comma-separated shard IDs this process runs; empty: all.")

    # Per-member interaction throttle shared by every plugin: a burst of `interaction_burst`
    # interactions, then a steady `interaction_rate` per `interaction_per` seconds. The burst
    # is sized so no admin paging the audit log or filling a form is ever refused.
    interaction_rate: int = Field(
        default=10, ge=1,
        description="Steady interactions per INTERACTION_PER seconds, per member.")
    interaction_per: float = Field(
        default=10.0, gt=0, description="Seconds of the steady throttle window.")
    interaction_burst: int = Field(
        default=20, ge=1, description="Interactions one member may make at once.")
    # Audit entries older than this are purged by the bot (the database refuses any other
    # deletion); 30 days at the least.
    audit_retention_days: int = Field(
        default=365, ge=30, description="Days audit entries are kept (at least 30).")

    # Plugins' own settings (Lavalink, the OpenAI-compatible endpoint, ...) live in their
    # `Plugin.settings_model`, read by `load_plugin_settings` below.

    # The `.env` these settings were read from (None: none), so plugins read the same one.
    _env_file_read: Any = PrivateAttr(default=None)

    def __init__(self, **values: Any) -> None:
        env_file = values.get("_env_file", ENV_FILE_SENTINEL)
        super().__init__(**values)
        self._env_file_read = (self.model_config.get("env_file") if env_file is ENV_FILE_SENTINEL
                               else env_file)

    @property
    def env_file(self) -> Any:
        """The `.env` file (or files, or None) the core read; plugins read the same."""
        return self._env_file_read

    @field_validator("dev_guild_ids", "shard_ids", mode="before")
    @classmethod
    def _ints(cls, value: Any) -> Any:
        return _split_ints(value)

    @field_validator("growmies_plugins", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _split_names(value)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: ValidationInfo) -> Any:
        # .env is written by people: LOG_LEVEL=debug and LOG_FORMAT=JSON mean the obvious.
        if isinstance(value, str):
            value = value.strip()
            return value.upper() if info.field_name == "log_level" else value.lower()
        return value

    @field_validator("discord_api_base", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_SQLITE_URL
        scheme = urlsplit(str(value)).scheme
        if scheme not in SUPPORTED_DB_SCHEMES:
            raise ValueError("must start with sqlite:// or postgres://")
        if scheme == "postgresql":
            value = "postgres" + str(value)[len("postgresql") :]
        return value

    @model_validator(mode="after")
    def _shards(self) -> Settings:
        if self.shard_ids is not None and self.shard_ids:
            if self.shard_count is None:
                raise ValueError("SHARD_IDS needs SHARD_COUNT (the total number of shards)")
            bad = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
            if bad:
                raise ValueError(f"SHARD_IDS must be between 0 and SHARD_COUNT-1, got {bad}")
        return self

    def secrets(self) -> list[str]:
        """Every secret value currently configured, so the log redactor can mask them."""
        values: list[str] = []
        if self.discord_token is not None and self.discord_token.get_secret_value():
            # Also as require_token() sends it (stripped): a short token is only masked whole.
            token = self.discord_token.get_secret_value()
            values += [token, token.strip()]
        password = urlsplit(self.database_url).password
        if password:
            # As written in the URL (maybe percent-encoded) and as the driver sends it.
            values += [password, unquote(password)]
        for key, secret in parse_qsl(urlsplit(self.database_url).query):
            if "pass" in key.lower() and secret:
                values.append(secret)
        return values

    def require_token(self) -> str:
        if self.discord_token is None or not self.discord_token.get_secret_value().strip():
            raise SettingsError("DISCORD_TOKEN is not set: put your bot token in .env")
        return self.discord_token.get_secret_value().strip()


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation errors into one line that names the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["loc"]:
            name = str(first["loc"][0]).upper()
        elif "SHARD" in first["msg"]:
            name = "SHARD_IDS"
        else:
            name = "settings"
        # Never echo the input: it may be a secret.
        raise SettingsError(f"{name} is invalid: {first['msg']}") from None


# ----- plugin settings -------------------------------------------------------------------------


class PluginSettings(BaseSettings):
    """Base class of `Plugin.settings_model`. A subclass sets its prefix, e.g.
    `model_config = SettingsConfigDict(env_prefix="NOTES_")`; the rest is the core's policy:
    names are case-insensitive, an empty value means the default, other variables are ignored,
    and tests may pass values by field name."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False,
        env_ignore_empty=True, populate_by_name=True,
    )


# Our variables that are not settings: where things live, and scripts' own switches.
NOT_SETTINGS = {"GROWMIES_HOME", "GROWMIES_CHECK_STARTED", "GROWMIES_SETUP_FORCE"}


def unknown_setting_names(known: Iterable[str], prefixes: Iterable[str],
                          sources: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Names set in the environment or `.env` that look like ours (a `GROWMIES_` or plugin
    prefix) but that nothing reads, each with the closest known name (None: nothing close).
    A typo (MUSIC_DEFAULT_VOLUM) would otherwise be ignored in silence."""
    import difflib

    known = {name.upper() for name in known}
    prefixes = tuple({p.upper() for p in prefixes} | {"GROWMIES_"})
    unknown: dict[str, str | None] = {}
    for source in sources:
        for name in source:
            upper = name.upper()
            if upper in known or not upper.startswith(prefixes):
                continue
            close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.6)
            unknown[upper] = close[0] if close else None
    return dict(sorted(unknown.items()))


def unknown_settings(settings: Settings, models: Mapping[str, type[BaseSettings] | None],
                     ) -> dict[str, str | None]:
    """Unknown `GROWMIES_`/plugin-prefixed names in the environment and the `.env` read."""
    known = core_setting_names() | NOT_SETTINGS
    prefixes = [f"{plugin.upper()}_" for plugin in models]
    for model in filter(None, models.values()):
        known |= {n for names in setting_names(model).values() for n in names}
    return unknown_setting_names(known, prefixes, [os.environ, _env_file_values(settings.env_file)])


def unknown_setting_message(name: str, closest: str | None) -> str:
    hint = f"did you mean {closest}?" if closest else "no setting of that name exists"
    return f"{name} is not a setting of the core or of a loaded plugin; {hint}"


def core_setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def setting_names(model: type[BaseSettings]) -> dict[str, list[str]]:
    """Each field's environment names, in the order pydantic-settings tries them."""
    prefix = str(model.model_config.get("env_prefix") or "")
    names: dict[str, list[str]] = {}
    for field_name, info in model.model_fields.items():
        alias = info.validation_alias or info.alias
        if isinstance(alias, AliasChoices):
            found = [c for c in alias.choices if isinstance(c, str)]
        elif isinstance(alias, str):
            found = [alias]
        else:
            found = [f"{prefix}{field_name}"]
        names[field_name] = [n.upper() for n in found]
    return names


def settings_model_problem(plugin: str, model: object) -> str | None:
    """Why a plugin's settings_model cannot be used, or None. Checked when the plugin loads."""
    if not (isinstance(model, type) and issubclass(model, BaseSettings)):
        return "settings_model must be a pydantic-settings class (subclass bot.api.PluginSettings)"
    prefix = f"{plugin.upper()}_"
    declared = str(model.model_config.get("env_prefix") or "")
    if declared.upper() != prefix:
        return (f"settings_model {model.__name__} must read its settings with the prefix "
                f"{prefix!r} (model_config env_prefix), not {declared!r}")
    seen: dict[str, str] = {}
    core = core_setting_names()
    for field_name, names in setting_names(model).items():
        own = prefix + field_name.upper()
        if not names or names[0] != own:
            return (f"setting {field_name!r} must be read as {own} first (list it first in its "
                    "AliasChoices, before any older name)")
        for name in names:
            if name in core:
                return f"setting {name} belongs to the core; name the plugin's setting {own}"
            if name in seen and seen[name] != field_name:
                return f"setting {name} is declared by both {seen[name]!r} and {field_name!r}"
            seen[name] = field_name
    return None


def conflicting_settings(models: Mapping[str, type[BaseSettings]]) -> dict[str, str]:
    """Plugins declaring an environment name another plugin declares too, with the reason.
    Both are refused: a value meant for one would silently configure the other."""
    owners: dict[str, set[str]] = {}
    for plugin, model in models.items():
        for names in setting_names(model).values():
            for name in names:
                owners.setdefault(name, set()).add(plugin)
    reasons: dict[str, str] = {}
    for name, plugins in sorted(owners.items()):
        if len(plugins) < 2:
            continue
        for plugin in sorted(plugins):
            others = ", ".join(sorted(plugins - {plugin}))
            reasons.setdefault(plugin, f"setting {name} is also declared by plugin {others}; "
                                       "each setting name has one owner")
    return reasons


def _env_file_values(env_file: Any) -> dict[str, str]:
    if env_file is None or env_file is ENV_FILE_SENTINEL:
        return {}
    files = env_file if isinstance(env_file, (list, tuple)) else [env_file]
    values: dict[str, str] = {}
    from dotenv import dotenv_values

    for file in files:
        path = Path(file).expanduser()
        if path.is_file():
            values.update({k.upper(): v for k, v in dotenv_values(path).items() if v})
    return values


def name_in_use(names: Iterable[str], env_file: Any = None) -> str | None:
    """Which of a field's names the environment (then the `.env` file) actually sets, in the
    order pydantic-settings reads them; None when the default applies."""
    environ = {k.upper(): v for k, v in os.environ.items() if v}
    dotenv = _env_file_values(env_file)
    for source in (environ, dotenv):
        for name in names:
            if name in source:
                return name
    return None


def load_plugin_settings(plugin: str, model: type[BaseSettings], *, env_file: Any = ".env",
                         overrides: Mapping[str, Any] | None = None) -> BaseSettings:
    """Read one plugin's settings; a bad value is a SettingsError naming the variable the
    operator set (never its value, which may be a secret)."""
    try:
        settings = model(_env_file=env_file, **dict(overrides or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        names = setting_names(model)
        field = str(first["loc"][0]) if first["loc"] else ""
        if field.lower() in names:
            field_names = names[field.lower()]
        else:  # pydantic reports an aliased field by its first alias
            field_names = next((v for v in names.values() if field.upper() in v), [field.upper()])
        name = name_in_use(field_names, env_file) or field_names[0]
        if first["type"] == "missing":
            raise SettingsError(f"{name} is not set (plugin {plugin} needs it)") from None
        raise SettingsError(f"{name} is invalid (plugin {plugin}): {first['msg']}") from None
    from bot.logs import redactor

    redactor.update(secret_values(settings))
    return settings


def plugin_settings_for(plugins: Mapping[str, Any], settings: Settings,
                        overrides: Mapping[str, Mapping[str, Any]] | None = None,
                        ) -> dict[str, BaseSettings]:
    """Every loaded plugin's settings, from the environment and the `.env` the core read;
    `overrides` ({plugin: {field: value}}) is for tests and benchmarks."""
    overrides = overrides or {}
    built: dict[str, BaseSettings] = {}
    for name, plugin in plugins.items():
        model = getattr(plugin, "settings_model", None)
        if model is None:
            continue
        built[name] = load_plugin_settings(name, model, env_file=settings.env_file,
                                           overrides=overrides.get(name))
    unknown = sorted(set(overrides) - set(built))
    if unknown:
        raise SettingsError(f"settings given for plugins without settings: {', '.join(unknown)}")
    return built


def secret_values(value: Any) -> list[str]:
    """Every secret inside a settings object (nested models and lists too)."""
    if isinstance(value, (SecretStr, SecretBytes)):
        secret = value.get_secret_value()
        text = secret.decode(errors="replace") if isinstance(secret, bytes) else secret
        return [text] if text else []
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in secret_values(getattr(value, name))]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [s for item in value for s in secret_values(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in secret_values(item)]
    return []
