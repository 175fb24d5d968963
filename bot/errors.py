"""Errors members can cause, and the one place that turns any error into an ephemeral answer."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import nextcord
import structlog
from nextcord.errors import ApplicationInvokeError

if TYPE_CHECKING:
    from nextcord.ui import View

log = structlog.get_logger("bot.errors")


class UserError(Exception):
    """A problem the member can understand and fix; its message is shown to them as is."""

    def __init__(self, message: str, *, view: View | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.view = view


class PluginDisabled(UserError):
    def __init__(self, plugin: str) -> None:
        super().__init__(f"**{plugin}** is turned off in this server.")
        self.plugin = plugin


# Discord's UI names some permissions differently from the API.
PERMISSION_NAMES = {"manage_guild": "Manage Server", "manage_roles": "Manage Roles"}


class MissingPermissions(UserError):
    def __init__(self, perms: set[str]) -> None:
        nice = ", ".join(
            sorted(PERMISSION_NAMES.get(p, p.replace("_", " ").title()) for p in perms)
        )
        super().__init__(f"You need the {nice} permission to do that.")


class ControlExpired(UserError):
    def __init__(self, hint: str = "run the command again for a fresh one") -> None:
        super().__init__(f"This control has expired — {hint}.")


class NotYours(UserError):
    def __init__(self) -> None:
        super().__init__("This isn't yours — run the command yourself to get your own.")


class Throttled(UserError):
    def __init__(self, retry_after: float) -> None:
        seconds = max(1, round(retry_after + 0.49))
        super().__init__(f"Slow down — try again in {seconds} s.")
        self.retry_after = retry_after


class AlreadyHandled(UserError):
    def __init__(self) -> None:
        super().__init__("That was already handled.")


def new_ref() -> str:
    return secrets.token_hex(3).upper()


async def send_ephemeral(
    interaction: nextcord.Interaction, content: str, *, view: View | None = None
) -> None:
    """Answer once: as the initial response if none was sent yet, otherwise as a followup."""
    kwargs: dict[str, object] = {"ephemeral": True}
    if view is not None:
        kwargs["view"] = view
    try:
        if interaction.type == nextcord.InteractionType.application_command_autocomplete:
            if not interaction.response.is_done():
                await interaction.response.send_autocomplete([])
            return
        await interaction.send(content, **kwargs)  # type: ignore[arg-type]  # kwargs typed loosely
    except nextcord.HTTPException as exc:
        # The interaction may have expired (3 s / 15 min); nothing more we can tell the member.
        log.warning("interaction.answer_failed", status=exc.status, code=exc.code)


async def report(interaction: nextcord.Interaction, error: BaseException) -> str:
    """Show `error` to the member; returns the outcome label logged for the interaction."""
    while isinstance(error, ApplicationInvokeError) and error.original is not None:
        error = error.original
    if isinstance(error, UserError):
        await send_ephemeral(interaction, error.message, view=error.view)
        return type(error).__name__
    ref = new_ref()
    log.error(
        "interaction.failed",
        ref=ref,
        error=f"{type(error).__name__}: {error}",
        exc_info=(type(error), error, error.__traceback__),
    )
    await send_ephemeral(interaction, f"Something went wrong (ref {ref}).")
    return "error"
