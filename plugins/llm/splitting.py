"""Splitting long replies into Discord messages at natural boundaries, keeping code blocks whole
in each message (a block cut in two is closed at the end of one message and reopened in the
next, with its language, so both halves still render as code)."""

from __future__ import annotations

import re

# Discord rejects message content over 2,000 characters.
DISCORD_MESSAGE_LIMIT = 2000
_FENCE = re.compile(r"^\s*```(\S*)", re.MULTILINE)
_CLOSE = "\n```"
# Preferred cut points, best first; a cut must keep at least half the window so messages
# do not end up tiny.
_BOUNDARIES = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")


def open_fence(text: str) -> str | None:
    """The language of a code block left open at the end of `text` ("" for none), or None."""
    language: str | None = None
    for match in _FENCE.finditer(text):
        language = match.group(1) if language is None else None
    return language


def _cut_at(text: str, budget: int) -> int:
    window = text[:budget]
    for separator in _BOUNDARIES:
        index = window.rfind(separator)
        if index >= budget // 2:
            return index + len(separator)
    return budget


def split_message(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> list[str]:
    """Split `text` into pieces of at most `limit` characters.

    Earlier pieces never change when more text is appended (the window they were cut from is
    full), which lets a streaming reply edit only its last message.
    """
    if limit < 40:
        raise ValueError("limit too small to hold a code fence")
    pieces: list[str] = []
    reopen = ""
    rest = text
    while rest:
        if len(reopen) + len(rest) <= limit:
            pieces.append(reopen + rest)
            break
        budget = limit - len(reopen) - len(_CLOSE)
        cut = _cut_at(rest, budget)
        piece = reopen + rest[:cut]
        rest = rest[cut:]
        language = open_fence(piece)
        if language is not None:
            piece = piece.rstrip("\n") + _CLOSE
            reopen = f"```{language}\n"
            rest = rest.lstrip("\n")
        else:
            reopen = ""
            piece = piece.rstrip()
            rest = rest.lstrip()
        pieces.append(piece)
    return pieces or [""]
