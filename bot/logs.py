"""structlog set-up: one pipeline for our logs and for stdlib logs (nextcord, wavelink, tortoise).

Console rendering on a terminal, JSON otherwise. Every event passes through a redactor that
replaces configured secrets (Discord token, Lavalink passwords, API keys) wherever they appear,
including inside exception text, so a secret cannot leak through an error path.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "***"


class SecretRedactor:
    """Replaces every known secret in an event dict, recursively, with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        # Longest first so a secret containing another is masked whole; very short values
        # would mask innocent text, and are not real credentials anyway.
        merged = {*self._secrets, *(s for s in secrets if s and len(s) >= 4)}
        self._secrets = sorted(merged, key=len, reverse=True)

    def scrub(self, value: Any) -> Any:
        if not self._secrets:
            return value
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        if isinstance(value, BaseException | bytes):
            return self.scrub(str(value))
        return value

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
        return {key: self.scrub(value) for key, value in event.items()}


redactor = SecretRedactor()


class _DropPyNaClWarning(logging.Filter):
    """Audio goes through Lavalink, never nextcord's own voice client, so nextcord's warning
    that PyNaCl is missing would only mislead admins."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "PyNaCl is not installed" not in record.getMessage()


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
    """Route structlog and stdlib logging through the same processors and renderer."""
    redactor.update(secrets)
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
    handler._growmies = True  # type: ignore[attr-defined]  # marks the handler as ours
    root = logging.getLogger()
    # Replace only our own handler: others (pytest's caplog, an embedding app's) stay.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_growmies", False)]
    root.addHandler(handler)
    root.setLevel(level)
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
