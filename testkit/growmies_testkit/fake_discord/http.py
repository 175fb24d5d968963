"""HTTP plumbing: request recording, body parsing, auth, rate-limit headers, fault injection."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from .errors import DiscordAPIError
from .messages import UploadedFile

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = [
    "API_PREFIX",
    "BODY",
    "FILES",
    "Injection",
    "RecordedRequest",
    "json_response",
    "make_middleware",
    "no_content",
]

_log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
RATE_LIMIT = 50
RATE_WINDOW = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Parsed JSON body (or multipart ``payload_json``) of the current request.
BODY: web.RequestKey[Any] = web.RequestKey("fake_discord_body", object)
#: Uploaded ``files[n]`` parts of the current request.
FILES: web.RequestKey[list[UploadedFile]] = web.RequestKey("fake_discord_files", list)


@dataclass
class RecordedRequest:
    """One REST request the bot made, recorded after it was answered.

    ``path`` is relative to the API base (``"/channels/123/messages"``); ``json`` is the JSON
    body or the multipart ``payload_json``; ``files`` the uploaded ``files[n]`` parts; ``time``
    the event loop time (``loop.time()``) the request arrived.
    """

    method: str
    path: str
    json: Any
    query: dict[str, str]
    files: list[UploadedFile]
    headers: dict[str, str]
    time: float
    status: int = 0
    response: Any = None
    #: Route template that matched (``"/channels/{channel_id}/messages"``), or ``None``.
    route: str | None = None

    def __repr__(self) -> str:
        return f"<RecordedRequest {self.method} {self.path} -> {self.status}>"


@dataclass
class Injection:
    """A one-shot (or ``times``-shot) failure for requests whose path contains a substring."""

    path_substring: str
    method: str | None
    status: int
    body: dict[str, Any]
    retry_after: float | None = None
    is_global: bool = False
    times: int = 1
    extra_headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path_substring in path
        )


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response whose ``Content-Type`` is exactly ``application/json``.

    nextcord compares the header with ``==``; ``web.json_response`` would add ``; charset=utf-8``
    and make nextcord hand back the raw string.
    """
    hdrs = {"Content-Type": "application/json"}
    if headers:
        hdrs.update(headers)
    return web.Response(body=json.dumps(data).encode(), status=status, headers=hdrs)


def no_content() -> web.Response:
    return web.Response(status=204)


def _bucket_key(method: str, path: str) -> str:
    """Discord-like bucket: the route with non-major ids blanked (majors: channel, guild,
    webhook id + token), so nextcord's per-route limiter and ours agree."""
    parts = path.strip("/").split("/")
    out = []
    for i, seg in enumerate(parts):
        prev = parts[i - 1] if i else ""
        prev2 = parts[i - 2] if i > 1 else ""
        if prev in ("channels", "guilds", "webhooks", "interactions") or prev2 in (
            "webhooks",
            "interactions",
        ):
            out.append(seg)
        elif seg.isdigit() or prev == "reactions":
            out.append(":id")
        else:
            out.append(seg)
    return method + " /" + "/".join(out)


class RateLimitTracker:
    """Per-bucket windows so the X-RateLimit headers tell nextcord the truth."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    def headers(self, method: str, path: str) -> dict[str, str]:
        key = _bucket_key(method, path)
        now = time.time()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= RATE_WINDOW:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        reset = start + RATE_WINDOW
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(RATE_LIMIT - count, 0)),
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{max(reset - now, 0.001):.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(key.encode()).hexdigest()[:20],
        }

    def rate_limited(self, method: str, path: str, injection: Injection) -> dict[str, str]:
        key = _bucket_key(method, path)
        now = time.time()
        retry = injection.retry_after or 0.0
        hdrs = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry))),
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{now + retry:.3f}",
            "X-RateLimit-Reset-After": f"{retry:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(key.encode()).hexdigest()[:20],
            "X-RateLimit-Scope": "global" if injection.is_global else "user",
        }
        if injection.is_global:
            hdrs["X-RateLimit-Global"] = "true"
        return hdrs


async def parse_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or multipart ``payload_json`` + ``files[n]`` parts."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        payload: Any = None
        files: list[UploadedFile] = []
        extra: dict[str, str] = {}
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue  # nested multipart: not something Discord accepts either
            name = part.name or ""
            filename = part.filename
            if filename is not None:
                data = await part.read(decode=False)
                files.append(
                    UploadedFile(
                        field=name,
                        filename=filename,
                        content_type=part.headers.get("Content-Type"),
                        data=bytes(data),
                    )
                )
            elif name == "payload_json":
                text = await part.text()
                try:
                    payload = json.loads(text)
                except ValueError:
                    raise DiscordAPIError(
                        400, 50109, "The request body contains invalid JSON."
                    ) from None
            else:
                extra[name] = await part.text()
        if payload is None and extra:
            payload = extra
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.") from None


def _needs_auth(method: str, rel: str) -> bool:
    parts = rel.strip("/").split("/")
    if parts[0] == "interactions":
        return False
    if parts[0] == "webhooks" and len(parts) >= 3:
        return False
    return not (rel == "/gateway" and method == "GET")


def make_middleware(fake: FakeDiscord) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware that records, authenticates, injects faults and formats errors."""
    limits = RateLimitTracker()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        rel = request.path[len(API_PREFIX) :]
        loop_time = fake._loop_time()
        body: Any = None
        files: list[UploadedFile] = []
        rec = RecordedRequest(
            method=request.method,
            path=rel,
            json=None,
            query=dict(request.query),
            files=files,
            headers=dict(request.headers),
            time=loop_time,
        )
        resource = request.match_info.route.resource
        rec.route = resource.canonical[len(API_PREFIX) :] if resource is not None else None
        response: web.StreamResponse
        try:
            body, files = await parse_body(request)
            rec.json, rec.files = body, files
            request[BODY] = body
            request[FILES] = files
            injection = fake._take_injection(request.method, rel)
            if injection is not None:
                hdrs = (
                    limits.rate_limited(request.method, rel, injection)
                    if injection.status == 429
                    else {}
                )
                hdrs.update(injection.extra_headers)
                response = json_response(injection.body, injection.status, hdrs)
            else:
                if (
                    _needs_auth(request.method, rel)
                    and request.headers.get("Authorization") != f"Bot {fake.token}"
                ):
                    raise DiscordAPIError(401, 0, "401: Unauthorized")
                exc = request.match_info.http_exception
                if exc is not None:
                    raise DiscordAPIError(exc.status, 0, f"{exc.status}: {exc.reason}")
                response = await handler(request)
                response.headers.update(limits.headers(request.method, rel))
        except DiscordAPIError as err:
            response = json_response(err.body(), err.status, limits.headers(request.method, rel))
        except Exception as err:  # a bug in the fake: make it loud, in the test and the log
            _log.exception("fake-discord: handler for %s %s crashed", request.method, rel)
            fake.internal_errors.append(err)
            response = json_response(
                {"message": f"fake-discord internal error: {err!r}", "code": 0}, 503
            )
        rec.status = response.status
        if isinstance(response, web.Response) and response.body is not None:
            try:
                rec.response = json.loads(response.body)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                rec.response = None
        fake._record_request(rec)
        return response

    return middleware
