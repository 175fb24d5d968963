"""The OpenAI-compatible endpoint: the unmodified openai SDK, with every failure turned into
a message a member can understand. OpenAI, Ollama, vLLM, llama.cpp server and LM Studio all
work by changing OPENAI_BASE_URL and OPENAI_MODEL."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import openai
import structlog

from bot.api import ModelUnavailable

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

    from plugins.llm.env import LlmSettings

log = structlog.get_logger("plugins.llm.client")

NOT_CONFIGURED = (
    "The AI assistant is not set up yet. An admin can connect any OpenAI-compatible endpoint "
    "by setting `OPENAI_BASE_URL` (for example `https://api.openai.com/v1` or a local "
    "`http://localhost:11434/v1` for Ollama), `OPENAI_MODEL` and, if the endpoint needs one, "
    "`OPENAI_API_KEY`, then restarting the bot."
)
# The SDK retries 408/409/429/5xx and connection failures itself, honouring retry-after up to
# 120 s; two retries keep the worst case inside Discord's 15-minute interaction token.
MAX_RETRIES = 2
# The SDK does not retry a retry-after above this; we tell the member how long to wait instead.
SDK_MAX_RETRY_AFTER = 120.0


class UpstreamError(Exception):
    """The endpoint failed; `message` is safe to show a member (never a key or a URL)."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class ContextTooLong(UpstreamError):
    def __init__(self) -> None:
        super().__init__(
            "The conversation is too long for the model; start a new one with /chat new.",
            kind="context_length",
        )


class ToolsUnsupported(UpstreamError):
    """The endpoint refused a request because it offered tools (Ollama and vLLM answer 400
    for models or servers without tool support; llama.cpp's server started without --jinja
    answers 500 "tools param requires --jinja flag" or "Unsupported param: tools"): the turn
    falls back to context stuffing."""

    def __init__(self) -> None:
        super().__init__("The model does not support tools.", kind="tools_unsupported")


def _refuses_tools(exc: Exception) -> bool:
    """A request offering tools was refused for offering them (checked only for such)."""
    if isinstance(exc, openai.BadRequestError):
        return not isinstance(_describe(exc), ContextTooLong)
    # A 500 naming tools: the SDK retried it already, and it will not change.
    return isinstance(exc, openai.InternalServerError) and "tools" in str(exc.message).lower()


@dataclass
class ToolCall:
    """One function call the model asked for; `arguments` is the raw JSON text it wrote."""

    id: str
    name: str
    arguments: str = ""


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    usage_reported: bool
    incomplete: bool
    finish_reason: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)


def estimate_tokens(text: str) -> int:
    """About four characters per token, the usual rule for English text."""
    return math.ceil(len(text) / 4)


# What one image part is reserved at: a high-detail image of up to 2,048 px costs at most
# 85 + 170 × 8 tiles = 1,445 tokens on OpenAI's models.
IMAGE_TOKENS = 1_500


def estimate_content_tokens(content: Any) -> int:
    """A message's content: a string, a list of text and image parts, or None (a tool-call
    message)."""
    if content is None:
        return 0
    if isinstance(content, str):
        return estimate_tokens(content)
    return sum(estimate_tokens(part.get("text", "")) if part.get("type") == "text"
               else IMAGE_TOKENS for part in content)


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    # A tool-call message has no content (None); its arguments count instead.
    return sum(estimate_content_tokens(m["content"]) + 4 + (
        estimate_tokens(json.dumps(m["tool_calls"])) if m.get("tool_calls") else 0)
        for m in messages)


def _sdk_messages(messages: list[dict[str, Any]]) -> list[ChatCompletionMessageParam]:
    """Our {"role", "content"} dicts are the SDK's message params; its TypedDicts just can't
    tell that from a plain dict of strings."""
    return cast("list[ChatCompletionMessageParam]", messages)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _describe(exc: BaseException) -> UpstreamError:
    if isinstance(exc, openai.RateLimitError):
        wait = _retry_after(exc)
        hint = f" in {math.ceil(wait)} s" if wait else " in a minute"
        return UpstreamError(f"The AI service is busy; try again{hint}.", kind="rate_limited")
    if isinstance(exc, openai.BadRequestError):
        body = exc.body if isinstance(exc.body, dict) else {}
        code = str(body.get("code") or "") + " " + str(exc.message)
        if "context_length" in code or "maximum context" in code:
            return ContextTooLong()
        if "image_url is only supported" in code:
            return UpstreamError("The AI model here can't take images; an admin should check "
                                 "LLM_VISION_MODELS.", kind="no_vision")
        return UpstreamError("The AI service could not handle that request.", kind="bad_request")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return UpstreamError(
            "The AI service refused the bot's credentials; an admin should check "
            "OPENAI_API_KEY.", kind="auth",
        )
    if isinstance(exc, openai.NotFoundError):
        return UpstreamError(
            "The AI service does not know the configured model; an admin should check "
            "OPENAI_MODEL.", kind="not_found",
        )
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return UpstreamError("The AI service took too long to answer; try again.", kind="timeout")
    if isinstance(exc, openai.InternalServerError | openai.APIStatusError):
        return UpstreamError(
            "The AI service had a problem; try again in a little while.", kind="server_error"
        )
    if isinstance(exc, openai.APIConnectionError):
        # The same sentence the core uses for a model outage: which service, nothing kept.
        return UpstreamError(ModelUnavailable().message, kind="connection")
    if isinstance(exc, json.JSONDecodeError | ValueError):
        # A 200 with a non-JSON body raises a bare JSONDecodeError, not an openai error.
        return UpstreamError("The AI service sent an unreadable answer; try again.",
                             kind="invalid_json")
    return UpstreamError("The AI service failed unexpectedly; try again.", kind="unknown")


class ChatClient:
    def __init__(
        self, *, base_url: str, api_key: str | None, model: str, timeout: float,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
        self._sdk = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout,
            max_retries=max_retries,
        )

    @classmethod
    def from_settings(cls, settings: LlmSettings) -> ChatClient | None:
        """None when no endpoint is configured: commands then explain how to set one up."""
        if not settings.base_url or not settings.model:
            return None
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return cls(base_url=settings.base_url, api_key=key, model=settings.model,
                   timeout=settings.timeout)

    def deadline(self) -> float:
        """Upper bound on one request including the SDK's retries and their waits, so the
        member always hears back well inside the 15-minute interaction token."""
        return (self.max_retries + 1) * self.timeout + self.max_retries * SDK_MAX_RETRY_AFTER

    async def close(self) -> None:
        await self._sdk.close()

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int,
        on_delta: Callable[[str], Awaitable[None] | None],
        model: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
    ) -> Completion:
        """Stream a reply, calling `on_delta` per text piece. Raises UpstreamError when
        nothing arrived; a stream that breaks after some text returns it as incomplete.
        With `tools`, the tool calls the model streams are returned in `tool_calls`; an
        endpoint that refuses tools raises ToolsUnsupported."""
        parts: list[str] = []
        usage: Any = None
        finish: str | None = None
        calls: dict[int, ToolCall] = {}
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        if tools and tool_choice:
            extra["tool_choice"] = tool_choice
        try:
            async with asyncio.timeout(self.deadline()):
                stream = await self._sdk.chat.completions.create(
                    model=model or self.model, messages=_sdk_messages(messages),
                    max_tokens=max_tokens, stream=True,
                    stream_options={"include_usage": True}, **extra,
                )
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    # The usage chunk has no choices; the first delta's content is "".
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    for piece in (choice.delta.tool_calls or []) if choice.delta else []:
                        # Deltas of one call share its index: the id and name come first,
                        # the JSON arguments in pieces after.
                        call = calls.setdefault(piece.index, ToolCall("", ""))
                        call.id = piece.id or call.id
                        if piece.function is not None:
                            call.name = piece.function.name or call.name
                            call.arguments += piece.function.arguments or ""
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        parts.append(delta)
                        result = on_delta(delta)
                        if result is not None:
                            await result
        except (openai.APIError, json.JSONDecodeError, TimeoutError, ValueError) as exc:
            if parts and isinstance(exc, openai.APIConnectionError | TimeoutError):
                # Mid-stream drops are never retried by the SDK: keep what arrived.
                log.warning("llm.stream_broken", error=type(exc).__name__, chars=len(
                    "".join(parts)))
                return self._completion(messages, parts, usage, finish, incomplete=True)
            if tools and _refuses_tools(exc):
                log.info("llm.tools_refused", model=model or self.model)
                raise ToolsUnsupported() from None
            described = _describe(exc)
            log.warning("llm.upstream_failed", kind=described.kind, error=type(exc).__name__)
            raise described from None
        completion = self._completion(messages, parts, usage, finish, incomplete=False)
        completion.tool_calls = [calls[i] for i in sorted(calls)]
        return completion

    async def has_model(self, name: str) -> bool | None:
        """Whether the endpoint knows `name` (GET /models/{name}); None when it cannot say
        (servers without that route, or a failure): the caller decides."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._sdk.models.retrieve(name)
        except openai.NotFoundError as exc:
            # A server without this route also answers 404, but without naming the model.
            return False if name in str(exc.message) else None
        except (openai.APIError, TimeoutError, ValueError):
            return None
        return True

    async def complete(self, messages: list[dict[str, Any]], *, max_tokens: int,
                       model: str | None = None) -> Completion:
        """One short, non-streamed answer (the topic classifier). Raises UpstreamError."""
        try:
            async with asyncio.timeout(self.deadline()):
                response = await self._sdk.chat.completions.create(
                    model=model or self.model, messages=_sdk_messages(messages),
                    max_tokens=max_tokens, temperature=0,
                )
        except (openai.APIError, json.JSONDecodeError, TimeoutError, ValueError) as exc:
            described = _describe(exc)
            log.warning("llm.upstream_failed", kind=described.kind, error=type(exc).__name__)
            raise described from None
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice and choice.message else ""
        finish = choice.finish_reason if choice else None
        return self._completion(messages, [text], response.usage, finish, incomplete=False)

    @staticmethod
    def _completion(
        messages: list[dict[str, Any]], parts: list[str], usage: Any, finish: str | None,
        *, incomplete: bool,
    ) -> Completion:
        text = "".join(parts)
        if usage is not None:
            return Completion(text, int(usage.prompt_tokens or 0),
                              int(usage.completion_tokens or 0), True, incomplete, finish)
        # Some servers report no usage (or the stream broke first): estimate so budgets hold.
        return Completion(text, estimate_prompt_tokens(messages), estimate_tokens(text), False,
                          incomplete, finish)
