"""The music plugin's settings, read from the environment and `.env` at start-up (`ctx.settings`).

Each is read as `MUSIC_<FIELD>`; the names of the product's design document (`LAVALINK_NODES`,
`LAVALINK_PASSWORD`, `MAX_QUEUE_SIZE`, `DEFAULT_VOLUME`) stay accepted, the prefixed name
winning when both are set. Transcription has its own endpoint settings rather than the LLM
plugin's `OPENAI_*`: each setting name has one owner, and a local chat model (Ollama) usually
has no audio transcription while a hosted one does.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from bot.api import PluginSettings


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


class MusicSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="MUSIC_")

    lavalink_nodes: Annotated[list[LavalinkNodeSettings], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("MUSIC_LAVALINK_NODES", "LAVALINK_NODES"),
        description='JSON list of Lavalink nodes {"id","uri","password"}; empty: no music.')
    # The password docker-compose.yml gives its Lavalink service; the bot only needs it to keep
    # it out of the logs (its nodes carry their own password).
    lavalink_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MUSIC_LAVALINK_PASSWORD", "LAVALINK_PASSWORD"),
        description="The compose stack's Lavalink password (kept out of the logs).")
    max_queue_size: int = Field(
        default=50, ge=1, le=500,
        validation_alias=AliasChoices("MUSIC_MAX_QUEUE_SIZE", "MAX_QUEUE_SIZE"),
        description="Most tracks one guild's queue may hold.")
    default_volume: int = Field(
        default=60, ge=0, le=150,
        validation_alias=AliasChoices("MUSIC_DEFAULT_VOLUME", "DEFAULT_VOLUME"),
        description="Volume a new player starts at, in percent.")
    # OpenAI-compatible endpoint with audio transcription (`whisper-1`) for podcast transcripts;
    # empty: transcripts are off.
    transcribe_base_url: str | None = Field(
        default=None, description="OpenAI-compatible transcription endpoint; empty: off.")
    transcribe_api_key: SecretStr | None = Field(
        default=None, description="API key of the transcription endpoint, if it needs one.")
    transcribe_timeout: float = Field(
        default=60.0, gt=0, description="Seconds one transcription request may take.")
    # What a minute of transcribed audio counts against the LLM plugin's token budget. 1,000:
    # OpenAI bills audio for its transcription models at $6 per million input tokens, and
    # whisper-1 at $0.006 a minute, i.e. 1,000 tokens a minute; chat models are counted in
    # their own tokens the same way. 0: transcripts don't touch the LLM budget.
    transcribe_tokens_per_minute: int = Field(
        default=1000, ge=0, le=100_000,
        description="Tokens of the LLM budget a minute of transcribed audio counts as.")

    max_playlists: int = Field(
        default=25, ge=1, le=200,
        description="Most saved playlists one member (or a server's DJs) may keep per server.")
    max_playlist_tracks: int = Field(
        default=500, ge=1, le=5000, description="Most tracks one saved playlist may hold.")
    # Lyrics (LavaLyrics) and links of other services (LavaSrc) are Lavalink plugins; compose
    # hands these credentials to the lavalink service too (lavalink/application.yml reads them).
    # The bot reads them to tell an admin what is missing, and never logs them.
    lyrics_timeout: float = Field(
        default=8.0, gt=0, le=30,
        description="Seconds a lyrics lookup may take (at most 30).")
    spotify_client_id: str | None = Field(
        default=None, description="Spotify app client id for LavaSrc (Spotify links).")
    spotify_client_secret: SecretStr | None = Field(
        default=None, description="Spotify app client secret for LavaSrc.")
    apple_music_media_token: SecretStr | None = Field(
        default=None, description="Apple Music media API token for LavaSrc.")
    deezer_master_key: SecretStr | None = Field(
        default=None, description="Deezer master decryption key for LavaSrc (Deezer links).")
    deezer_arl: SecretStr | None = Field(
        default=None, description="Deezer arl cookie for LavaSrc.")

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

    @field_validator("transcribe_base_url", "spotify_client_id", "spotify_client_secret",
                     "apple_music_media_token", "deezer_master_key", "deezer_arl",
                     mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value
