"""structlog set-up: one pipeline for our logs and for stdlib logs (nextcord, wavelink, tortoise).

Console rendering on a terminal, JSON otherwise. Every event passes through a redactor that
replaces configured secrets (Discord token, Lavalink passwords, API keys) wherever they appear,
including inside exception text, so a secret cannot leak through an error path.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import structlog

REDACTED = "***"


#: The shortest piece of a secret masked on its own. nextcord logs the first 8 characters of
#: the token ("Bot " + 8 in its rate-limit keys); 6 catches that and any other slice without
#: masking ordinary words a short secret happens to share.
FRAGMENT = 6


class SecretRedactor:
    """Replaces every known secret in an event dict, recursively, with `***`: the whole value,
    its percent-encoded form, and any run of text made of pieces of it (a prefix such as
    nextcord's "first 8 characters of the token", a slice, a truncated copy)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self._grams: set[str] = set()
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        # Longest first so a secret containing another is masked whole; very short values
        # would mask innocent text, and are not real credentials anyway.
        fresh = {s for s in secrets if s and len(s) >= 4}
        fresh |= {quote(s, safe="") for s in fresh}  # as it appears inside a URL
        merged = {*self._secrets, *fresh}
        self._secrets = sorted(merged, key=len, reverse=True)
        for secret in merged:
            self._grams.update(secret[i : i + FRAGMENT]
                               for i in range(len(secret) - FRAGMENT + 1))

    def _mask_fragments(self, text: str) -> str:
        # Every window of FRAGMENT characters that occurs in a secret marks its span; touching
        # spans merge, so a prefix or slice of any length >= FRAGMENT becomes one `***`.
        spans: list[list[int]] = []
        for i in range(len(text) - FRAGMENT + 1):
            if text[i : i + FRAGMENT] in self._grams:
                if spans and spans[-1][1] >= i:
                    spans[-1][1] = i + FRAGMENT
                else:
                    spans.append([i, i + FRAGMENT])
        for start, end in reversed(spans):
            text = text[:start] + REDACTED + text[end:]
        return text

    def scrub(self, value: Any) -> Any:
        if not self._secrets:
            return value
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return self._mask_fragments(value) if self._grams else value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        if isinstance(value, BaseException | bytes):
            return self.scrub(str(value))
        return value

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
        return {key: self.scrub(value) for key, value in event.items()}


# Query parameters that carry a credential (libpq's password/sslpassword, asyncpg's too).
_SECRET_QUERY = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)


def mask_url(url: str) -> str:
    """A URL with its password replaced by `****`, whatever form the password takes: with `@`
    or `:` in it (the userinfo ends at the LAST `@` before the host), percent-encoded, or in
    the query (`?password=`, `?pass=`, `?pwd=`, `sslpassword=`...)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:****@{host}" if colon else f"{user}@{host}"
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        key, eq, _value = pair.partition("=")
        pairs.append(f"{key}=****" if eq and _SECRET_QUERY.search(key) else pair)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(pairs), parts.fragment))


redactor = SecretRedactor()


class _DropPyNaClWarning(logging.Filter):
    """Audio goes through Lavalink, never nextcord's own voice client, so nextcord's warning
    that PyNaCl is missing would only mislead admins."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "PyNaCl is not installed" not in record.getMessage()


class _DemoteHousekeeping(logging.Filter):
    """nextcord narrates its own housekeeping at INFO: a line per registered command, "logging
    in using static token", the IDENTIFY payload, "Allowed 1 rate limits to be garbage
    collected" (every few minutes). None of it is anything an admin can act on, and it buries
    the lines that are, so these are shown at DEBUG only. Warnings and errors always pass."""

    NOISE = (
        "rate limits to be garbage collected",
        "Registering command with signature",
        "logging in using static token",
        "has sent the IDENTIFY payload",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not record.name.startswith("nextcord"):
            return True
        if not any(noise in str(record.msg) for noise in self.NOISE):
            return True
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def _redacting_excepthook(exc_type: Any, exc: BaseException, tb: Any) -> None:
    """Python's last-resort traceback (a crash outside any logger) goes through the redactor
    too: an exception's text can carry a URL with a password or a token."""
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(redactor.scrub(text))


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redactor,
    ]


def configure_logging(
    level: str = "INFO", fmt: str = "auto", secrets: Iterable[str] = ()
) -> None:
    """Route structlog and stdlib logging through the same processors and renderer.

    `level` and `fmt` are read case-insensitively (`debug`, `JSON`), as they come from .env."""
    redactor.update(secrets)
    level, fmt = level.strip().upper(), fmt.strip().lower()
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *_shared_processors()[:-2],
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors()[:-2],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_DemoteHousekeeping())
    handler._growmies = True  # type: ignore[attr-defined]  # marks the handler as ours
    root = logging.getLogger()
    # Replace only our own handler: others (pytest's caplog, an embedding app's) stay.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_growmies", False)]
    root.addHandler(handler)
    root.setLevel(level)
    # Warnings and uncaught exceptions reach stderr without a logger: route both past the
    # redactor as well.
    logging.captureWarnings(True)
    sys.excepthook = _redacting_excepthook
    # nextcord's gateway logs every payload at DEBUG; keep it at INFO unless asked.
    for noisy in ("nextcord.gateway", "nextcord.http", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.INFO))
    client_log = logging.getLogger("nextcord.client")
    if not any(isinstance(f, _DropPyNaClWarning) for f in client_log.filters):
        client_log.addFilter(_DropPyNaClWarning())
    # Tortoise announces every connection open and close at INFO.
    logging.getLogger("tortoise").setLevel(
        logging.DEBUG if level == "DEBUG" else max(logging.getLevelName(level), logging.WARNING)
    )


def growmies_handler() -> logging.Handler | None:
    """The handler `configure_logging` installed, if any."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_growmies", False):
            return handler
    return None


def get_logger(name: str | None = None, **bound: Any) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name).bind(**bound)
