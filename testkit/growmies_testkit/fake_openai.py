"""A fake OpenAI-compatible server for tests.

:class:`FakeOpenAI` is a small aiohttp server on ``127.0.0.1`` (random port) that speaks enough
of the OpenAI HTTP API for the *unmodified* ``openai.AsyncOpenAI`` client (or any other
OpenAI-compatible client) to talk to it:

* ``GET /v1/models``
* ``POST /v1/chat/completions``, plain JSON and Server-Sent Events streaming
  (``stream: true``, optionally with ``stream_options.include_usage``), including tool calls
  streamed as ``tool_calls`` deltas (:meth:`FakeOpenAI.tool_call`) and models that refuse
  ``tools`` with a 400 (``no_tools=``)
* ``POST /v1/audio/transcriptions`` (multipart ``file`` + ``model``)

Tests script what the "model" does next with a FIFO of outcomes; each chat request consumes one.
When the FIFO is empty :attr:`FakeOpenAI.default_reply` produces the answer (by default it echoes
``"You said: <last user message>"``)::

    async with FakeOpenAI() as srv:
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key=srv.api_key, max_retries=0)
        srv.reply("Hello there", tokens_per_second=50.0)   # paced stream
        srv.error(429, retry_after=0.2)                    # then a rate limit
        srv.broken_stream(after_tokens=5)                  # then a connection drop mid-stream
        ...
        assert srv.chat_requests[0]["messages"][-1]["content"] == "hi"

Image parts (``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`` in a
message's content list) are accepted and recorded (:attr:`FakeOpenAI.images`,
:func:`image_parts`); a model marked with :meth:`FakeOpenAI.text_only` gets the real API's 400
for them, as does a data URL that is not an image.

Every request is recorded (:attr:`FakeOpenAI.requests`) before it is answered, so a test can
await :meth:`FakeOpenAI.wait_for_request` instead of sleeping. Streamed answers record the
``time.monotonic()`` instant of every content chunk (:attr:`Rec.chunk_times`), which lets a
benchmark measure how long the code under test takes to relay tokens.

All timestamps are ``time.monotonic()`` values, the clock ``asyncio``'s default loop uses.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import math
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

if TYPE_CHECKING:
    import openai

__all__ = ["DEFAULT_MODEL", "FakeOpenAI", "Rec", "echo_reply", "estimate_tokens", "image_parts",
           "split_tokens"]

DEFAULT_MODEL = "growmies-test-model"
DEFAULT_API_KEY = "sk-test-secret"
DEFAULT_TRANSCRIPTION = "This is a fake transcription."

_TOKEN_RE = re.compile(r"\s*\S+|\s+$")
_JSON = "application/json"


# --------------------------------------------------------------------------------------------
# helpers


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into fake "tokens": each word with its leading whitespace.

    ``"".join(split_tokens(text)) == text`` always holds; an empty text has no tokens.
    """
    return _TOKEN_RE.findall(text)


def estimate_tokens(text: str) -> int:
    """Rough token count of a prompt text: about one token per four characters."""
    return math.ceil(len(text) / 4)


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return ""


def image_parts(body: dict[str, Any]) -> list[tuple[int, int, dict[str, Any]]]:
    """``(message index, part index, part)`` of every ``image_url`` part of a chat body's
    messages (content given as a list of parts, OpenAI's vision format)."""
    found = []
    messages = body.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for j, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict) and part.get("type") == "image_url":
                found.append((i, j, part))
    return found


_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def _decode_data_url(url: str) -> bytes | None:
    """The bytes of a base64 ``data:image/...`` URL, or ``None`` if it is not one."""
    head, _, data = url.partition(",")
    if not (head.startswith("data:image/") and head.endswith(";base64")):
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    chars = 0
    for message in messages:
        if isinstance(message, dict):
            chars += len(_content_text(message.get("content")))
            chars += len(str(message.get("role", "")))
    return max(1, math.ceil(chars / 4))


def echo_reply(body: dict[str, Any]) -> str:
    """The default reply: ``"You said: <text of the last user message>"``."""
    messages = body.get("messages")
    last = ""
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                last = _content_text(message.get("content"))
                break
    return f"You said: {last}"


def _error_body(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Bad request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. You can find your API key in your account settings.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("You are not allowed to use this model.", "invalid_request_error", None),
    404: ("The requested resource was not found.", "invalid_request_error", None),
    408: ("Request timed out.", "timeout", None),
    409: ("Conflict, please retry.", "invalid_request_error", None),
    422: ("Unprocessable request.", "invalid_request_error", None),
    429: (
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def _format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# --------------------------------------------------------------------------------------------
# records and scripted outcomes


@dataclass
class Rec:
    """One request the fake received (recorded on arrival, before it is answered).

    ``json`` is the parsed JSON body (``None`` if absent or not JSON); for multipart requests it
    holds the form fields, with ``file`` replaced by ``{"filename", "content_type", "size"}``.
    ``headers`` keys are lower-case. ``time`` is ``time.monotonic()`` at arrival.

    The remaining fields are filled in while the request is answered: ``status`` (HTTP status,
    ``None`` until the response starts), ``stream`` (an SSE answer), ``outcome`` (name of the
    scripted/default outcome used), ``chunk_times`` (one ``time.monotonic()`` per content chunk
    written to the socket), ``first_token_at`` (``chunk_times[0]``), ``finished_at`` (when the
    answer was completed or abandoned) and ``client_disconnected`` (the client went away while
    the fake was still writing).
    """

    method: str
    path: str
    json: Any
    headers: dict[str, str]
    time: float
    query: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    stream: bool = False
    outcome: str | None = None
    chunk_times: list[float] = field(default_factory=list)
    finished_at: float | None = None
    client_disconnected: bool = False

    @property
    def first_token_at(self) -> float | None:
        """``time.monotonic()`` when the first content chunk was written, if any."""
        return self.chunk_times[0] if self.chunk_times else None


@dataclass(frozen=True)
class _Reply:
    text: str
    usage: bool = True
    tokens_per_second: float | None = None
    chunk_tokens: int = 1
    finish_reason: str = "stop"
    delay: float = 0.0


@dataclass(frozen=True)
class _Error:
    status: int
    body: dict[str, Any]
    retry_after: float | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _InvalidJSON:
    body: str


@dataclass(frozen=True)
class _Hang:
    seconds: float


@dataclass(frozen=True)
class _BrokenStream:
    after_tokens: int
    text: str | None


@dataclass(frozen=True)
class _ToolCall:
    """The model asks for tool calls: ``calls`` holds ``(id, name, arguments JSON)``."""

    calls: tuple[tuple[str, str, str], ...]
    text: str = ""
    tokens_per_second: float | None = None
    # Arguments are streamed in pieces of this many characters, as real servers do.
    piece_chars: int = 8


_Outcome = _Reply | _Error | _InvalidJSON | _Hang | _BrokenStream | _ToolCall
_OUTCOME_NAMES: dict[type, str] = {
    _Reply: "reply",
    _Error: "error",
    _InvalidJSON: "invalid_json",
    _Hang: "hang",
    _BrokenStream: "broken_stream",
    _ToolCall: "tool_call",
}


class _Disconnected(Exception):
    """The client closed the connection while the fake was writing."""


# --------------------------------------------------------------------------------------------
# the server


class FakeOpenAI:
    """A scripted OpenAI-compatible HTTP server for tests.

    Args:
        api_key: the only key accepted (``Authorization: Bearer <api_key>``); anything else gets
            a 401 ``invalid_api_key`` error. ``None`` accepts every request.
        models: model ids listed by ``GET /v1/models`` and accepted by chat completions; other
            names get a 404 ``model_not_found``. An empty tuple accepts any model name (like a
            local Ollama/vLLM server would list what it has).
        context_window: if set, chat requests whose estimated prompt tokens (about chars/4)
            exceed it get the 400 ``context_length_exceeded`` error automatically.
        no_tools: model ids that do not support tool calls: a request to one of them with
            ``tools`` gets a 400, as Ollama answers for such models.
        default_reply: ``(request_json) -> str`` used when no outcome is scripted;
            :func:`echo_reply` by default. It may also be replaced later by assigning
            :attr:`default_reply`.
    """

    def __init__(
        self,
        api_key: str | None = DEFAULT_API_KEY,
        models: Iterable[str] = (DEFAULT_MODEL,),
        *,
        context_window: int | None = None,
        default_reply: Callable[[dict[str, Any]], str] | None = None,
        no_tools: Iterable[str] = (),
    ) -> None:
        self.api_key = api_key
        self.no_tools: set[str] = set(no_tools)
        self.models: tuple[str, ...] = tuple(models)
        self.context_window = context_window
        self.default_reply: Callable[[dict[str, Any]], str] = default_reply or echo_reply
        self.default_transcription = DEFAULT_TRANSCRIPTION
        # When set, JSON transcriptions report the audio's billed length like whisper-1 does
        # (``"usage": {"type": "duration", "seconds": ...}``); None: no ``usage`` at all.
        self.transcription_seconds: float | None = None
        self.requests: list[Rec] = []
        self._outcomes: deque[_Outcome] = deque()
        self._transcriptions: deque[str | _Error] = deque()
        self._omit_usage_next = 0
        # Models that take text only: an image part sent to one gets the real API's 400.
        self.text_only_models: set[str] = set()
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._created = int(time.time())

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start listening on ``127.0.0.1`` on a free port."""
        if self._runner is not None:
            raise RuntimeError("FakeOpenAI already started")
        # Fresh events: they bind to the running loop on first use.
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/models", self._handle_models)
        app.router.add_get("/v1/models/{model}", self._handle_model)
        app.router.add_post("/v1/chat/completions", self._handle_chat)
        app.router.add_post("/v1/audio/transcriptions", self._handle_transcription)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner

    async def close(self) -> None:
        """Stop the server. Hanging and paced answers are cut short; safe to call twice."""
        self._closing.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeOpenAI not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``: pass it as ``base_url`` to the OpenAI client."""
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, *, timeout: float = 10.0, max_retries: int = 0) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` pointed at this server (retries off unless asked)."""
        import openai

        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "unused",
            timeout=timeout,
            max_retries=max_retries,
        )

    # ---------------------------------------------------------------- scripting

    def reply(
        self,
        text: str,
        *,
        usage: bool = True,
        tokens_per_second: float | None = None,
        chunk_tokens: int = 1,
        finish_reason: str = "stop",
        delay: float = 0.0,
    ) -> None:
        """Queue a successful answer with ``text``.

        Args:
            usage: include ``usage`` (non-streaming always; streaming when the request asked for
                ``stream_options.include_usage``).
            tokens_per_second: pace the answer: the content chunk carrying token ``k`` (1-based)
                is written ``k / tokens_per_second`` s after the response starts; a non-streaming
                answer is delayed by ``n_tokens / tokens_per_second``. ``None`` sends at once.
            chunk_tokens: tokens per streamed content chunk.
            finish_reason: ``finish_reason`` of the answer (``"length"`` is forced when
                ``max_tokens``/``max_completion_tokens`` truncates the text).
            delay: seconds to wait before the response starts (time to first byte).
        """
        if chunk_tokens < 1:
            raise ValueError("chunk_tokens must be >= 1")
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be > 0")
        self._outcomes.append(
            _Reply(text, usage, tokens_per_second, chunk_tokens, finish_reason, delay)
        )

    def reply_tokens(
        self,
        n: int = 1500,
        tokens_per_second: float | None = 50.0,
        *,
        chunk_tokens: int = 1,
        usage: bool = True,
    ) -> str:
        """Queue an answer of ``n`` distinct word tokens (``"w1 w2 … wn"``); returns its text."""
        text = " ".join(f"w{i}" for i in range(1, n + 1))
        self.reply(
            text, usage=usage, tokens_per_second=tokens_per_second, chunk_tokens=chunk_tokens
        )
        return text

    def error(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Queue an OpenAI-shaped error ``{"error": {"message", "type", "param", "code"}}``.

        ``retry_after`` (seconds) becomes a ``retry-after`` header. Message, type and code
        default to what OpenAI sends for that status. ``x-should-retry`` is never set, so the
        SDK decides on its own (it retries 408, 409, 429 and 5xx).
        """
        self._outcomes.append(
            self._make_error(status, retry_after, message, type, code, param, headers)
        )

    def context_length_error(self, *, limit: int = 8192, tokens: int | None = None) -> None:
        """Queue the 400 ``context_length_exceeded`` error (the SDK does not retry it)."""
        self._outcomes.append(
            self._context_error(limit, tokens if tokens is not None else limit + 1)
        )

    def invalid_json(self, body: str = "this is {not json") -> None:
        """Queue a 200 answer whose body (``application/json``) is not JSON.

        A streaming request instead gets an event stream whose ``data:`` line is not JSON.
        """
        self._outcomes.append(_InvalidJSON(body))

    def hang(self, seconds: float = 30.0) -> None:
        """Queue a stall: accept the request, send nothing for ``seconds``, then answer with
        the default reply (if the client is still there). :meth:`close` ends stalls early."""
        self._outcomes.append(_Hang(seconds))

    def broken_stream(self, after_tokens: int = 5, text: str | None = None) -> None:
        """Queue an answer that drops the connection after ``after_tokens`` content chunks.

        Streaming: the role chunk and ``after_tokens`` one-token chunks are sent, then the
        connection is closed without the final chunk and without ``data: [DONE]``. Non-streaming:
        part of the JSON body is sent, then the connection is closed. ``text`` defaults to the
        default reply (padded with words so there is something left to cut).
        """
        self._outcomes.append(_BrokenStream(after_tokens, text))

    def tool_call(
        self,
        name: str,
        arguments: dict[str, Any] | str,
        *,
        call_id: str | None = None,
        text: str = "",
        tokens_per_second: float | None = None,
    ) -> str:
        """Queue an answer that asks for one tool call (``finish_reason`` ``"tool_calls"``);
        returns the call's id. ``arguments`` (a dict is JSON-encoded; a string is sent as is,
        so a test can send arguments a schema rejects) is streamed in ``tool_calls`` deltas;
        ``text`` is content streamed before it. ``tokens_per_second`` paces every chunk. The
        follow-up request carrying the result is recorded like any other
        (:meth:`tool_results` reads it)."""
        call_id = call_id or f"call_fake{next(self._ids):06d}"
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        self._outcomes.append(_ToolCall(((call_id, name, args),), text, tokens_per_second))
        return call_id

    @staticmethod
    def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``role: "tool"`` messages of a recorded chat request body."""
        return [m for m in body.get("messages", []) if isinstance(m, dict)
                and m.get("role") == "tool"]

    def no_usage(self) -> None:
        """Make the next successful chat answer omit ``usage`` (even with ``include_usage``)."""
        self._omit_usage_next += 1

    def transcription(self, text: str) -> None:
        """Queue the text of the next ``/v1/audio/transcriptions`` answer.

        Unscripted transcriptions answer :attr:`default_transcription`.
        """
        self._transcriptions.append(text)

    def transcription_error(self, status: int, *, retry_after: float | None = None) -> None:
        """Queue an OpenAI-shaped error for the next transcription request."""
        self._transcriptions.append(
            self._make_error(status, retry_after, None, None, None, None, None)
        )

    @property
    def pending(self) -> int:
        """Number of scripted chat outcomes not consumed yet."""
        return len(self._outcomes)

    def reset(self) -> None:
        """Forget scripted outcomes and recorded requests."""
        self._outcomes.clear()
        self._transcriptions.clear()
        self._omit_usage_next = 0
        self.requests.clear()

    # ---------------------------------------------------------------- observation

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """JSON bodies of the ``POST /v1/chat/completions`` requests, in arrival order."""
        return [
            r.json
            for r in self.requests
            if r.method == "POST" and r.path == "/v1/chat/completions" and isinstance(r.json, dict)
        ]

    @property
    def chat_records(self) -> list[Rec]:
        """:class:`Rec` of every ``POST /v1/chat/completions`` request."""
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/chat/completions"]

    @property
    def first_token_sent_at(self) -> float | None:
        """``time.monotonic()`` of the first content chunk of the latest chat answer that
        streamed one, or ``None``."""
        for rec in reversed(self.requests):
            if rec.chunk_times:
                return rec.chunk_times[0]
        return None

    @property
    def last_token_sent_at(self) -> float | None:
        """``time.monotonic()`` of the last content chunk of the latest streamed answer."""
        for rec in reversed(self.requests):
            if rec.chunk_times:
                return rec.chunk_times[-1]
        return None

    @property
    def images(self) -> list[bytes]:
        """Decoded bytes of every image part of every chat request, in arrival order (an
        ``https://`` image URL appears as its UTF-8 text)."""
        out = []
        for body in self.chat_requests:
            for _, _, part in image_parts(body):
                url = str((part.get("image_url") or {}).get("url", ""))
                out.append(_decode_data_url(url) or url.encode())
        return out

    def text_only(self, *models: str) -> None:
        """Treat ``models`` as text-only: requests with image parts get a 400, as OpenAI
        answers a model without vision."""
        self.text_only_models.update(models)

    async def wait_for_request(
        self,
        pred: Callable[[Rec], bool] | None = None,
        timeout: float = 5.0,
        since: int = 0,
    ) -> Rec:
        """Wait for a recorded request (index ``>= since``) matching ``pred``; return it.

        ``pred`` defaults to "any request". Raises :class:`TimeoutError` after ``timeout`` s.
        Use ``since=len(srv.requests)`` to only wait for requests still to come.
        """
        async with asyncio.timeout(timeout):
            index = since
            while True:
                while index < len(self.requests):
                    rec = self.requests[index]
                    index += 1
                    if pred is None or pred(rec):
                        return rec
                self._changed.clear()
                await self._changed.wait()

    async def wait_finished(self, rec: Rec, timeout: float = 5.0) -> Rec:
        """Wait until the fake has finished answering ``rec`` (or gave up on it)."""
        async with asyncio.timeout(timeout):
            while rec.finished_at is None:
                self._changed.clear()
                await self._changed.wait()
        return rec

    async def wait_for_chat(
        self,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` chat completion requests arrived; return their bodies."""
        async with asyncio.timeout(timeout):
            while len(self.chat_requests) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.chat_requests

    # ---------------------------------------------------------------- internals

    def _make_error(
        self,
        status: int,
        retry_after: float | None,
        message: str | None,
        type_: str | None,
        code: str | None,
        param: str | None,
        headers: dict[str, str] | None,
    ) -> _Error:
        if status < 400:
            raise ValueError("error status must be >= 400")
        d_message, d_type, d_code = _DEFAULT_ERRORS.get(
            status,
            (f"HTTP {status}", "server_error" if status >= 500 else "invalid_request_error", None),
        )
        body = _error_body(
            message or d_message, type_ or d_type, code if code is not None else d_code, param
        )
        return _Error(status, body, retry_after, tuple((headers or {}).items()))

    @staticmethod
    def _context_error(limit: int, tokens: int) -> _Error:
        return _Error(
            400,
            _error_body(
                f"This model's maximum context length is {limit} tokens. However, your messages "
                f"resulted in {tokens} tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                "context_length_exceeded",
                "messages",
            ),
        )

    async def _record(self, request: web.Request, body: Any) -> Rec:
        rec = Rec(
            method=request.method,
            path=request.path,
            json=body,
            headers={k.lower(): v for k, v in request.headers.items()},
            time=time.monotonic(),
            query=dict(request.query),
        )
        self.requests.append(rec)
        self._changed.set()
        return rec

    def _finish(self, rec: Rec) -> None:
        rec.finished_at = time.monotonic()
        self._changed.set()

    async def _read_json(self, request: web.Request) -> tuple[Any, bool]:
        raw = await request.read()
        if not raw:
            return None, False
        try:
            return json.loads(raw), True
        except ValueError:
            return None, False

    def _authorized(self, request: web.Request) -> bool:
        if self.api_key is None:
            return True
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"

    def _error_response(self, rec: Rec, err: _Error) -> web.Response:
        headers = dict(err.headers)
        if err.retry_after is not None:
            headers["retry-after"] = _format_seconds(err.retry_after)
        headers["x-request-id"] = f"req_{uuid.uuid4().hex}"
        rec.status = err.status
        self._finish(rec)
        return web.Response(
            status=err.status, text=json.dumps(err.body), content_type=_JSON, headers=headers
        )

    def _auth_error(self, rec: Rec) -> web.Response:
        rec.outcome = "auth_error"
        return self._error_response(rec, self._make_error(401, None, None, None, None, None, None))

    def _json_response(self, rec: Rec, payload: Any, status: int = 200) -> web.Response:
        rec.status = status
        self._finish(rec)
        return web.Response(
            status=status,
            text=json.dumps(payload),
            content_type=_JSON,
            headers={"x-request-id": f"req_{uuid.uuid4().hex}"},
        )

    async def _sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``; return ``False`` if the server is closing meanwhile."""
        if seconds <= 0:
            return not self._closing.is_set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
            return False
        return True

    async def _sleep_until(self, deadline: float) -> bool:
        return await self._sleep(deadline - time.monotonic())

    def _model_object(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": self._created, "owned_by": "growmies"}

    # ---------------------------------------------------------------- handlers

    async def _handle_unknown(self, request: web.Request) -> web.StreamResponse:
        body, _ = await self._read_json(request)
        rec = await self._record(request, body)
        rec.outcome = "not_found"
        return self._error_response(
            rec,
            _Error(
                404,
                _error_body(
                    f"Invalid URL ({request.method} {request.path})", "invalid_request_error"
                ),
            ),
        )

    async def _handle_models(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request, None)
        if not self._authorized(request):
            return self._auth_error(rec)
        rec.outcome = "models"
        data = [self._model_object(m) for m in self.models]
        return self._json_response(rec, {"object": "list", "data": data})

    async def _handle_model(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request, None)
        if not self._authorized(request):
            return self._auth_error(rec)
        model = request.match_info["model"]
        if self.models and model not in self.models:
            return self._error_response(rec, self._model_not_found(model))
        rec.outcome = "model"
        return self._json_response(rec, self._model_object(model))

    @staticmethod
    def _model_not_found(model: str) -> _Error:
        return _Error(
            404,
            _error_body(
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
                "model",
            ),
        )

    async def _handle_chat(self, request: web.Request) -> web.StreamResponse:
        body, ok = await self._read_json(request)
        rec = await self._record(request, body)
        if not self._authorized(request):
            return self._auth_error(rec)
        if not ok or not isinstance(body, dict):
            rec.outcome = "bad_request"
            return self._error_response(
                rec,
                _Error(
                    400,
                    _error_body(
                        "We could not parse the JSON body of your request.",
                        "invalid_request_error",
                    ),
                ),
            )
        for key, kind in (("model", str), ("messages", list)):
            if not isinstance(body.get(key), kind) or not body.get(key):
                rec.outcome = "bad_request"
                return self._error_response(
                    rec,
                    _Error(
                        400,
                        _error_body(
                            f"Missing or invalid required parameter: '{key}'.",
                            "invalid_request_error",
                            "missing_required_parameter",
                            key,
                        ),
                    ),
                )
        model = body["model"]
        if self.models and model not in self.models:
            rec.outcome = "model_not_found"
            return self._error_response(rec, self._model_not_found(model))
        if body.get("tools") and model in self.no_tools:
            rec.outcome = "tools_unsupported"
            return self._error_response(rec, _Error(400, _error_body(
                f"registry.fake/{model} does not support tools", "invalid_request_error")))
        image_error = self._check_images(body, model)
        if image_error is not None:
            rec.outcome = "bad_request"
            return self._error_response(rec, image_error)
        stream = bool(body.get("stream"))
        rec.stream = stream
        prompt_tokens = _prompt_tokens(body)
        if self.context_window is not None and prompt_tokens > self.context_window:
            rec.outcome = "context_length_exceeded"
            return self._error_response(
                rec, self._context_error(self.context_window, prompt_tokens)
            )

        outcome: _Outcome
        # A scripted tool call waits for a request that may call tools (it offers them and
        # its tool_choice is not "none"), as a real model obeys tool_choice.
        no_calls = not body.get("tools") or body.get("tool_choice") == "none"
        if self._outcomes and not (no_calls and isinstance(self._outcomes[0], _ToolCall)):
            outcome = self._outcomes.popleft()
            rec.outcome = _OUTCOME_NAMES[type(outcome)]
        else:
            outcome = _Reply(self.default_reply(body))
            rec.outcome = "default"

        if isinstance(outcome, _Hang):
            if not await self._sleep(outcome.seconds):
                self._finish(rec)
                return web.Response(status=503, text="closing")
            outcome = _Reply(self.default_reply(body))
        if isinstance(outcome, _Error):
            return self._error_response(rec, outcome)
        if isinstance(outcome, _InvalidJSON):
            return await self._send_invalid_json(request, rec, outcome, stream)

        try:
            if isinstance(outcome, _ToolCall):
                return await self._send_tool_call(request, rec, body, outcome, stream,
                                                  prompt_tokens)
            if isinstance(outcome, _BrokenStream):
                return await self._send_broken(request, rec, body, outcome, stream, prompt_tokens)
            return await self._send_reply(request, rec, body, outcome, stream, prompt_tokens)
        except (_Disconnected, ConnectionError):
            rec.client_disconnected = True
            self._finish(rec)
            return web.Response(status=499)

    def _check_images(self, body: dict[str, Any], model: str) -> _Error | None:
        """The real API's 400s for image parts: a text-only model, a malformed URL, or data
        that is not an image (PNG, JPEG, GIF, WEBP)."""
        for i, j, part in image_parts(body):
            param = f"messages.[{i}].content.[{j}]"
            if model in self.text_only_models:
                return _Error(400, _error_body(
                    "Invalid content type. image_url is only supported by certain models.",
                    "invalid_request_error", None, f"{param}.type"))
            url = (part.get("image_url") or {}).get("url")
            if not isinstance(url, str) or not url.startswith(("data:", "http://", "https://")):
                return _Error(400, _error_body("Invalid image URL.", "invalid_request_error",
                                               "invalid_image_url", f"{param}.image_url.url"))
            if url.startswith("data:"):
                data = _decode_data_url(url)
                if data is None or not (data.startswith(_IMAGE_MAGIC) or (
                        data[:4] == b"RIFF" and data[8:12] == b"WEBP")):
                    return _Error(400, _error_body(
                        "You uploaded an unsupported image. Please make sure your image is "
                        "valid.", "invalid_request_error", "invalid_image_format", param))
        return None

    async def _send_invalid_json(
        self, request: web.Request, rec: Rec, outcome: _InvalidJSON, stream: bool
    ) -> web.StreamResponse:
        if not stream:
            rec.status = 200
            self._finish(rec)
            return web.Response(status=200, text=outcome.body, content_type=_JSON)
        resp = await self._start_sse(request, rec)
        with contextlib.suppress(ConnectionError):
            await resp.write(f"data: {outcome.body}\n\n".encode())
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        self._finish(rec)
        return resp

    def _plan(self, body: dict[str, Any], text: str, finish_reason: str) -> tuple[list[str], str]:
        """Tokens to send after ``max_tokens`` truncation, and the finish reason."""
        tokens = split_tokens(text)
        limit = body.get("max_completion_tokens")
        if limit is None:
            limit = body.get("max_tokens")
        if isinstance(limit, int) and limit >= 0 and len(tokens) > limit:
            return tokens[:limit], "length"
        return tokens, finish_reason

    def _take_usage_flag(self, usage: bool) -> bool:
        if self._omit_usage_next > 0:
            self._omit_usage_next -= 1
            return False
        return usage

    @staticmethod
    def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def _completion_id(self) -> str:
        return f"chatcmpl-fake{next(self._ids):06d}"

    async def _start_sse(self, request: web.Request, rec: Rec) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-request-id": f"req_{uuid.uuid4().hex}",
            },
        )
        rec.status = 200
        await resp.prepare(request)
        return resp

    @staticmethod
    async def _write_event(resp: web.StreamResponse, payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        try:
            await resp.write(f"data: {data}\n\n".encode())
        except ConnectionError as exc:
            raise _Disconnected from exc

    async def _send_reply(
        self,
        request: web.Request,
        rec: Rec,
        body: dict[str, Any],
        reply: _Reply,
        stream: bool,
        prompt_tokens: int,
    ) -> web.StreamResponse:
        tokens, finish_reason = self._plan(body, reply.text, reply.finish_reason)
        usage_on = self._take_usage_flag(reply.usage)
        usage = self._usage(prompt_tokens, len(tokens))
        model = body["model"]
        cid = self._completion_id()
        created = int(time.time())
        if reply.delay and not await self._sleep(reply.delay):
            self._finish(rec)
            return web.Response(status=503, text="closing")
        tps = reply.tokens_per_second

        if not stream:
            if tps and not await self._sleep(len(tokens) / tps):
                self._finish(rec)
                return web.Response(status=503, text="closing")
            payload: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "".join(tokens),
                            "refusal": None,
                        },
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
            }
            if usage_on:
                payload["usage"] = usage
            return self._json_response(rec, payload)

        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            data: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                data["usage"] = None
            return data

        resp = await self._start_sse(request, rec)
        start = time.monotonic()
        await self._write_event(resp, chunk({"role": "assistant", "content": ""}))
        step = reply.chunk_tokens
        for i in range(0, len(tokens), step):
            if tps and not await self._sleep_until(start + (i + step) / tps):
                self._drop(request)
                self._finish(rec)
                return resp
            await self._write_event(resp, chunk({"content": "".join(tokens[i : i + step])}))
            rec.chunk_times.append(time.monotonic())
        await self._write_event(resp, chunk({}, finish_reason))
        if include_usage and usage_on:
            await self._write_event(
                resp,
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage,
                },
            )
        await self._write_event(resp, "[DONE]")
        try:
            await resp.write_eof()
        except ConnectionError as exc:
            raise _Disconnected from exc
        self._finish(rec)
        return resp

    async def _send_tool_call(
        self,
        request: web.Request,
        rec: Rec,
        body: dict[str, Any],
        outcome: _ToolCall,
        stream: bool,
        prompt_tokens: int,
    ) -> web.StreamResponse:
        model, cid, created = body["model"], self._completion_id(), int(time.time())
        calls = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                 for i, n, a in outcome.calls]
        pieces: list[dict[str, Any]] = [{"content": t} for t in split_tokens(outcome.text)]
        for index, (call_id, name, args) in enumerate(outcome.calls):
            pieces.append({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                           "function": {"name": name, "arguments": ""}}]})
            for at in range(0, len(args), outcome.piece_chars):
                pieces.append({"tool_calls": [{"index": index, "function": {
                    "arguments": args[at:at + outcome.piece_chars]}}]})
        usage = self._usage(prompt_tokens, len(pieces))
        tps = outcome.tokens_per_second
        if not stream:
            if tps and not await self._sleep(len(pieces) / tps):
                self._finish(rec)
                return web.Response(status=503, text="closing")
            message = {"role": "assistant", "content": outcome.text or None,
                       "tool_calls": calls, "refusal": None}
            return self._json_response(rec, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls"}],
                "usage": usage})

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"id": cid, "object": "chat.completion.chunk", "created": created,
                    "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                 "finish_reason": finish}]}

        resp = await self._start_sse(request, rec)
        start = time.monotonic()
        await self._write_event(resp, chunk({"role": "assistant", "content": None}))
        for i, delta in enumerate(pieces):
            if tps and not await self._sleep_until(start + (i + 1) / tps):
                self._drop(request)
                self._finish(rec)
                return resp
            await self._write_event(resp, chunk(delta))
            rec.chunk_times.append(time.monotonic())
        await self._write_event(resp, chunk({}, "tool_calls"))
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            await self._write_event(resp, {"id": cid, "object": "chat.completion.chunk",
                                           "created": created, "model": model, "choices": [],
                                           "usage": usage})
        await self._write_event(resp, "[DONE]")
        try:
            await resp.write_eof()
        except ConnectionError as exc:
            raise _Disconnected from exc
        self._finish(rec)
        return resp

    async def _send_broken(
        self,
        request: web.Request,
        rec: Rec,
        body: dict[str, Any],
        outcome: _BrokenStream,
        stream: bool,
        prompt_tokens: int,
    ) -> web.StreamResponse:
        text = outcome.text
        if text is None:
            pad = " ".join(f"more{i}" for i in range(outcome.after_tokens + 5))
            text = f"{self.default_reply(body)} {pad}"
        tokens = split_tokens(text)
        if not stream:
            full = json.dumps(
                {
                    "id": self._completion_id(),
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": self._usage(prompt_tokens, len(tokens)),
                }
            ).encode()
            resp = web.StreamResponse(status=200, headers={"Content-Type": _JSON})
            resp.content_length = len(full)
            rec.status = 200
            await resp.prepare(request)
            await resp.write(full[: len(full) // 2])
        else:
            model = body["model"]
            cid = self._completion_id()
            created = int(time.time())
            resp = await self._start_sse(request, rec)

            def chunk(delta: dict[str, Any]) -> dict[str, Any]:
                return {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [
                        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
                    ],
                }

            await self._write_event(resp, chunk({"role": "assistant", "content": ""}))
            for token in tokens[: outcome.after_tokens]:
                await self._write_event(resp, chunk({"content": token}))
                rec.chunk_times.append(time.monotonic())
        self._drop(request)
        self._finish(rec)
        return resp

    @staticmethod
    def _drop(request: web.Request) -> None:
        """Close the connection mid-body (``close()`` flushes what was already written)."""
        transport = request.transport
        if transport is not None:
            transport.close()

    async def _handle_transcription(self, request: web.Request) -> web.StreamResponse:
        fields: dict[str, Any] = {}
        has_file = False
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    fields[key] = {
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "size": len(data),
                    }
                    has_file = has_file or key == "file"
                else:
                    fields[key] = value
        else:
            await request.read()
        rec = await self._record(request, fields)
        if not self._authorized(request):
            return self._auth_error(rec)
        if not has_file or not fields.get("model"):
            rec.outcome = "bad_request"
            missing = "file" if not has_file else "model"
            return self._error_response(
                rec,
                _Error(
                    400,
                    _error_body(
                        f"Missing required parameter: '{missing}'.",
                        "invalid_request_error",
                        "missing_required_parameter",
                        missing,
                    ),
                ),
            )
        scripted = self._transcriptions.popleft() if self._transcriptions else None
        if isinstance(scripted, _Error):
            rec.outcome = "error"
            return self._error_response(rec, scripted)
        rec.outcome = "transcription" if scripted is not None else "default"
        text = scripted if scripted is not None else self.default_transcription
        fmt = fields.get("response_format") or "json"
        if fmt in ("text", "srt", "vtt"):
            rec.status = 200
            self._finish(rec)
            return web.Response(status=200, text=text, content_type="text/plain")
        payload: dict[str, Any] = {"text": text}
        if self.transcription_seconds is not None:
            payload["usage"] = {"type": "duration", "seconds": self.transcription_seconds}
        if fmt == "verbose_json":
            payload = {
                "task": "transcribe",
                "language": "english",
                "duration": 1.0,
                "text": text,
                "segments": [],
            }
        return self._json_response(rec, payload)
