"""Settings read from the environment and `.env`.

Every setting has one name, documented in README.md and `.env.example`. A bad value becomes a
`SettingsError` naming the setting, so the CLI can print one clear line instead of a traceback.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite://data/growmies.sqlite3"
SUPPORTED_DB_SCHEMES = ("sqlite", "postgres", "postgresql", "asyncpg", "psycopg")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the setting and never its secret."""


class LavalinkNodeSettings(BaseModel):
    id: str = "main"
    uri: str
    password: SecretStr
    # Lavalink resumes a session for this long after the bot's websocket drops.
    resume_timeout: int = 60

    @field_validator("uri")
    @classmethod
    def _http_uri(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("uri must look like http://host:port")
        return value.rstrip("/")


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

    discord_token: SecretStr | None = None
    database_url: str = DEFAULT_SQLITE_URL
    discord_api_base: str | None = None
    dev_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    growmies_plugins: Annotated[list[str] | None, NoDecode] = None
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: Annotated[list[int] | None, NoDecode] = None

    # Per-member interaction throttle: at most `interaction_rate` interactions per
    # `interaction_per` seconds, shared by every plugin.
    interaction_rate: int = Field(default=5, ge=1)
    interaction_per: float = Field(default=10.0, gt=0)
    # Audit entries older than this are purged by the bot (the database refuses any other
    # deletion); 30 days at the least.
    audit_retention_days: int = Field(default=365, ge=30)

    lavalink_nodes: Annotated[list[LavalinkNodeSettings], NoDecode] = Field(default_factory=list)
    lavalink_password: SecretStr | None = None
    max_queue_size: int = Field(default=50, ge=1, le=500)
    default_volume: int = Field(default=60, ge=0, le=150)

    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str | None = None
    openai_max_tokens: int = Field(default=800, ge=16, le=32_000)
    openai_timeout: float = Field(default=20.0, gt=0)

    cannabis_content_strict_mode: bool = True
    legal_disclaimer_required: bool = True

    @field_validator("dev_guild_ids", "shard_ids", mode="before")
    @classmethod
    def _ints(cls, value: Any) -> Any:
        return _split_ints(value)

    @field_validator("growmies_plugins", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _split_names(value)

    @field_validator("discord_api_base", "openai_base_url", mode="before")
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

    @field_validator("lavalink_nodes", mode="before")
    @classmethod
    def _nodes(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    'must be a JSON list like [{"id":"main","uri":"http://lavalink:2333",'
                    '"password":"..."}]'
                ) from exc
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
        for secret in (self.discord_token, self.openai_api_key, self.lavalink_password):
            if secret is not None and secret.get_secret_value():
                values.append(secret.get_secret_value())
        for node in self.lavalink_nodes:
            if node.password.get_secret_value():
                values.append(node.password.get_secret_value())
        password = urlsplit(self.database_url).password
        if password:
            values.append(password)
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
