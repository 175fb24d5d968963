"""Discord's JSON error bodies, as raised inside the fake's request handlers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["DiscordAPIError", "FormErrors"]

PathPart = str | int


class DiscordAPIError(Exception):
    """An error answer in Discord's format: ``{"code", "message", "errors"?}`` plus a status.

    Raising it anywhere inside a request handler makes the fake reply with exactly that body.
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} (code {code}): {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """The JSON body Discord would send."""
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            out["errors"] = self.errors
        return out

    # Common errors, named like Discord's JSON error codes table.
    @classmethod
    def not_found(cls, code: int, what: str) -> DiscordAPIError:
        return cls(404, code, f"Unknown {what}")

    @classmethod
    def unknown_interaction(cls) -> DiscordAPIError:
        return cls(404, 10062, "Unknown interaction")

    @classmethod
    def already_acknowledged(cls) -> DiscordAPIError:
        return cls(400, 40060, "Interaction has already been acknowledged.")

    @classmethod
    def missing_permissions(cls) -> DiscordAPIError:
        return cls(403, 50013, "Missing Permissions")

    @classmethod
    def missing_access(cls) -> DiscordAPIError:
        return cls(403, 50001, "Missing Access")

    @classmethod
    def empty_message(cls) -> DiscordAPIError:
        return cls(400, 50006, "Cannot send an empty message")

    @classmethod
    def form(cls, errors: dict[str, Any]) -> DiscordAPIError:
        return cls(400, 50035, "Invalid Form Body", errors)


class FormErrors:
    """Collects field errors into Discord's nested ``errors`` object.

    ``add(("embeds", 0, "description"), "BASE_TYPE_MAX_LENGTH", "Must be 4096 or fewer in
    length.")`` becomes ``{"embeds": {"0": {"description": {"_errors": [{...}]}}}}``.
    """

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}
        self.count = 0

    def add(self, path: Sequence[PathPart], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
        self.count += 1

    def max_length(self, path: Sequence[PathPart], limit: int) -> None:
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def bad_length(self, path: Sequence[PathPart], low: int, high: int) -> None:
        self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def required(self, path: Sequence[PathPart]) -> None:
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_if_any(self) -> None:
        """Raise the 400 ``Invalid Form Body`` (code 50035) error if anything was added."""
        if self.count:
            raise DiscordAPIError.form(self.tree)
