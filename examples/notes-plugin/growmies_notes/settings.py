"""The plugin's settings, read from the environment (and .env) with the prefix NOTES_."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bot.api import PluginSettings


class NotesSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="NOTES_")

    # NOTES_MAX_PER_MEMBER: how many notes one member may keep in one server.
    max_per_member: int = Field(default=50, ge=1, le=10_000)
