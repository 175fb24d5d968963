"""The LLM plugin's settings, read from the environment and `.env` at start-up (`ctx.settings`).

Each is read as `LLM_<FIELD>` (`LLM_BASE_URL`, `LLM_MODEL`, ...); the names of the product's
design document (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `OPENAI_MODEL`, `OPENAI_MAX_TOKENS`,
`OPENAI_TIMEOUT`, `CANNABIS_CONTENT_STRICT_MODE`, `LEGAL_DISCLAIMER_REQUIRED`) stay accepted,
the prefixed name winning when both are set.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.api import PluginSettings


def _names(field: str, old: str) -> AliasChoices:
    return AliasChoices(f"LLM_{field}", old)


class LlmSettings(PluginSettings):
    model_config = SettingsConfigDict(env_prefix="LLM_")

    # Any OpenAI-compatible API; without a base URL and a model the assistant stays off and its
    # commands explain how to turn it on.
    base_url: str | None = Field(
        default=None, validation_alias=_names("BASE_URL", "OPENAI_BASE_URL"),
        description="Base URL of an OpenAI-compatible API; empty: the assistant stays off.")
    api_key: SecretStr | None = Field(
        default=None, validation_alias=_names("API_KEY", "OPENAI_API_KEY"),
        description="API key of that endpoint, if it needs one.")
    model: str | None = Field(
        default=None, validation_alias=_names("MODEL", "OPENAI_MODEL"),
        description="Model name; empty: the assistant stays off.")
    max_tokens: int = Field(default=800, ge=16, le=32_000,
                            validation_alias=_names("MAX_TOKENS", "OPENAI_MAX_TOKENS"),
                            description="Upper bound on tokens in one reply.")
    timeout: float = Field(default=20.0, gt=0, validation_alias=_names("TIMEOUT", "OPENAI_TIMEOUT"),
                           description="Seconds per request to the endpoint.")
    # Refuse requests that spell out unsafe or illegal activity before asking the model.
    cannabis_content_strict_mode: bool = Field(
        default=True, validation_alias=_names("CANNABIS_CONTENT_STRICT_MODE",
                                              "CANNABIS_CONTENT_STRICT_MODE"),
        description="Refuse requests spelling out unsafe or illegal activity before the model.")
    legal_disclaimer_required: bool = Field(
        default=True, validation_alias=_names("LEGAL_DISCLAIMER_REQUIRED",
                                              "LEGAL_DISCLAIMER_REQUIRED"),
        description="Append a legal note to the assistant's cannabis and legal answers.")
    # Whether LLM_MODEL accepts OpenAI tool calls (knowledge search as a tool); models an
    # admin allows declare their own. Off by default, measured (bench/llm_tools.py): a tool
    # call adds a round trip before the first visible token and ~1.8x the prompt tokens per
    # answer (a member's budget buys fewer answers); a model may skip the search and answer
    # without the approved entries, which the prompt path always gives cannabis questions;
    # and some servers ignore `tools` silently. A refusal of tools (a 400, or llama.cpp's
    # 500) falls back to entries in the prompt either way.
    tools: bool = Field(
        default=False,
        description="LLM_MODEL supports tool calls: it searches the knowledge base itself.")
    kb_stale_days: int = Field(
        default=180, ge=1, le=3650,
        description="Days after which an unverified knowledge entry is flagged and cited with "
                    "its date.")
    # Attachments and conversation lifetime (issue 16, items 6 and 7).
    vision_models: str = Field(
        default="", description="Comma-separated model names that accept images ('*': all); "
        "other models get a note instead of the image.")
    attachment_image_max_mb: int = Field(
        default=8, ge=1, le=20,
        description="Largest image attachment in MB (1-20), checked before downloading it.")
    attachment_text_max_kb: int = Field(
        default=20, ge=1, le=200,
        description="Largest text file (txt, md, csv, json, py, ...) inlined, in KB (1-200).")
    conversation_idle_minutes: int = Field(
        default=60, ge=0, le=10_080,
        description="Minutes without a message after which a conversation closes (0: never).")

    @field_validator("base_url", "model", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value
