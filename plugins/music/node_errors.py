"""Turning whatever a Lavalink-compatible node does wrong into one clear sentence for members.

Servers that implement Lavalink's v4 API independently (NodeLink) bend it: error bodies that
are plain text, load results without fields wavelink reads unconditionally, HTTP errors where
Lavalink answers 200. wavelink then raises its own exceptions, or a KeyError/TypeError/JSON error
from deep inside its parsing. Left alone those reach members as "Something went wrong (ref …)",
as if it were our bug. Here every such failure becomes a `NodeTrouble` (a `UserError`) saying what
happened, with the detail logged under the same ref; nothing from the node is shown to members
(its text can name internal hosts) and the Lavalink password never reaches the log.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from types import TracebackType

import aiohttp
import structlog
import wavelink

from bot.api import LavalinkUnavailable, UserError, new_ref

log = structlog.get_logger("plugins.music.node_errors")

UNREADABLE = ("The music server sent something I couldn't read; try again, or ask an admin to "
              "check the node.")
REFUSED = ("The music server answered with an error ({status}); nothing was changed. Try again, "
           "or ask an admin to check the node.")
# Modules whose frames mark a KeyError/TypeError/ValueError as the node's answer not parsing
# (a bug of ours raises them from our own modules, and stays "Something went wrong").
_PARSING_MODULES = ("wavelink", "aiohttp", "json")
_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class NodeTrouble(UserError):
    """The node refused a request or answered something we could not read."""

    def __init__(self, ref: str, status: int | None = None) -> None:
        text = REFUSED.format(status=status) if status else UNREADABLE
        super().__init__(f"{text} (ref {ref})")
        self.ref = ref
        self.status = status


def _raised_in(error: BaseException, modules: tuple[str, ...]) -> bool:
    """Whether the innermost frame that raised `error` belongs to one of `modules`."""
    tb: TracebackType | None = error.__traceback__
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return False
    module = str(last.tb_frame.f_globals.get("__name__", ""))
    return module.split(".", 1)[0] in modules


def is_unreachable(error: BaseException) -> bool:
    """The node could not be reached at all (refused, reset, timed out): an outage."""
    return isinstance(error, aiohttp.ClientConnectionError | ConnectionError | TimeoutError)


def is_node_failure(error: BaseException) -> bool:
    """Whether `error` is the node's doing: an HTTP error, or an answer wavelink couldn't parse."""
    if isinstance(error, wavelink.LavalinkException | wavelink.LavalinkLoadException
                  | wavelink.NodeException | aiohttp.ClientError | json.JSONDecodeError):
        return True
    return isinstance(error, _PARSE_ERRORS) and _raised_in(error, _PARSING_MODULES)


def status_of(error: BaseException) -> int | None:
    """The HTTP status the node answered with, when the error carries one."""
    status = getattr(error, "status", None)
    return status if isinstance(status, int) and status >= 400 else None


def describe(error: BaseException, scrub: Callable[[str], str] = lambda s: s) -> str:
    """The error for the log: type, HTTP status and text, cut short, secrets removed."""
    status = status_of(error)
    return scrub(f"{type(error).__name__}{f' ({status})' if status else ''}: {error}")[:500]


def node_trouble(error: BaseException, action: str, *, guild: int | None = None,
                 scrub: Callable[[str], str] = lambda s: s) -> UserError:
    """Log `error` under a new ref and return what the member reads."""
    if is_unreachable(error):
        log.warning("music.node_unreachable", action=action, guild=guild,
                    error=describe(error, scrub))
        return LavalinkUnavailable()
    ref = new_ref()
    log.warning("music.node_failure", ref=ref, action=action, guild=guild,
                status=status_of(error), error=describe(error, scrub))
    return NodeTrouble(ref, status_of(error))


@contextlib.contextmanager
def node_call(action: str, *, guild: int | None = None,
              scrub: Callable[[str], str] = lambda s: s) -> Iterator[None]:
    """Around a request to the node: its failures become a clear `UserError`; anything else
    (our own bugs) passes through untouched."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:
        if not (is_node_failure(exc) or is_unreachable(exc)):
            raise
        raise node_trouble(exc, action, guild=guild, scrub=scrub) from None
