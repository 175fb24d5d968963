"""custom_id format: `<plugin>:<action>[:<state id>[:<arg>]]`, ASCII, at most 100 characters."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

# Discord rejects custom_ids longer than 100 characters.
MAX_CUSTOM_ID = 100
_PART = re.compile(r"^[a-z0-9_.\-]{1,48}$")
_STATE = re.compile(r"^[A-Za-z0-9]{1,16}$")
_ARG = re.compile(r"^[A-Za-z0-9_.\-=]{1,40}$")
_ALPHABET = string.ascii_letters + string.digits


class MalformedCustomId(ValueError):
    pass


@dataclass(frozen=True)
class CustomId:
    plugin: str
    action: str
    state_id: str | None = None
    arg: str | None = None

    def __str__(self) -> str:
        return build(self.plugin, self.action, self.state_id, self.arg)


def new_state_id() -> str:
    # 12 base62 characters: ~71 bits, unguessable, short enough to leave room for the action.
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def build(plugin: str, action: str, state_id: str | None = None, arg: str | None = None) -> str:
    parts = [plugin, action]
    if state_id is not None:
        parts.append(state_id)
    if arg is not None:
        if state_id is None:
            parts.append("-")
        parts.append(arg)
    value = ":".join(parts)
    if len(value) > MAX_CUSTOM_ID:
        raise ValueError(f"custom_id {value!r} is longer than {MAX_CUSTOM_ID} characters")
    return value


def parse(value: object) -> CustomId:
    if not isinstance(value, str) or not value or len(value) > MAX_CUSTOM_ID:
        raise MalformedCustomId("bad length")
    if not value.isascii():
        raise MalformedCustomId("not ascii")
    parts = value.split(":")
    if not 2 <= len(parts) <= 4:
        raise MalformedCustomId("bad shape")
    plugin, action = parts[0], parts[1]
    if not _PART.match(plugin) or not _PART.match(action):
        raise MalformedCustomId("bad prefix")
    state_id = parts[2] if len(parts) > 2 and parts[2] != "-" else None
    if state_id is not None and not _STATE.match(state_id):
        raise MalformedCustomId("bad state id")
    arg = parts[3] if len(parts) > 3 else None
    if arg is not None and not _ARG.match(arg):
        raise MalformedCustomId("bad arg")
    return CustomId(plugin, action, state_id, arg)
