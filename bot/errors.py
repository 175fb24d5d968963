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


class ServiceUnavailable(UserError):
    """A service the bot depends on is down. The member is told which one, whether anything
    they asked for was changed, and that it is worth trying again — never a bare ref, since
    there is nothing for staff to look up: the outage is already in the log."""

    what = "A service the bot needs"

    def __init__(self, *, changed: bool = False) -> None:
        outcome = ("part of what you asked may have been saved; check before trying again"
                   if changed else "nothing was changed")
        super().__init__(f"{self.what} is unreachable right now; {outcome}. "
                         "Try again in a minute.")
        self.changed = changed


class DatabaseUnavailable(ServiceUnavailable):
    what = "The database"


class LavalinkUnavailable(ServiceUnavailable):
    """Raised by the music plugin when no Lavalink node answers."""

    what = "The music server"


class ModelUnavailable(ServiceUnavailable):
    """Raised by the assistant when the model endpoint refuses, times out or is down."""

    what = "The assistant's model endpoint"


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


# Modules whose frames mark an OSError as the database's (and not, say, an HTTP client's).
_DB_MODULES = ("tortoise", "asyncpg", "aiosqlite", "psycopg", "sqlite3", "pypika")
# asyncpg's names for a lost or refused connection (matched by name: asyncpg is optional).
_ASYNCPG_CONNECTION_ERRORS = {
    "ConnectionDoesNotExistError", "ConnectionFailureError", "ClientCannotConnectError",
    "CannotConnectNowError", "PostgresConnectionError", "ConnectionRejectionError",
    "AdminShutdownError", "CrashShutdownError", "TooManyConnectionsError", "InterfaceError",
}


def _raised_in_database_code(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DB_MODULES:
            return True
        tb = tb.tb_next
    return False


def is_database_unreachable(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached (refused, reset, closed, timed out
    connecting), as opposed to a bug in a query. Covers tortoise's DBConnectionError, its
    OperationalError wrapping a connection failure, asyncpg's connection errors and an
    OSError raised inside the database drivers."""
    from tortoise.exceptions import DBConnectionError, OperationalError

    chain = _chain(error)
    for exc in chain:
        if isinstance(exc, DBConnectionError):
            return True
        if type(exc).__module__.startswith("asyncpg") and (
            type(exc).__name__ in _ASYNCPG_CONNECTION_ERRORS
        ):
            return True
    for exc in chain:
        if isinstance(exc, OSError) and not type(exc).__module__.startswith("aiohttp"):
            if isinstance(exc, ConnectionError | TimeoutError) and _raised_in_database_code(exc):
                return True
            if any(isinstance(e, OperationalError) for e in chain):
                return True
        if isinstance(exc, OperationalError):
            text = str(exc).lower()
            if any(word in text for word in ("connect", "unable to open database",
                                             "disk i/o error", "server closed")):
                return True
    return False


def new_ref() -> str:
    return secrets.token_hex(3).upper()


async def _drop_public_placeholder(interaction: nextcord.Interaction) -> None:
    """After a public deferral Discord shows everyone "<bot> is thinking…", and the first
    followup replaces that message *with its flags*: an error sent then would be public.
    Delete the placeholder first, so the followup becomes a message of its own, ephemeral."""
    if interaction.type is not nextcord.InteractionType.application_command:
        return
    try:
        original = await interaction.original_message()
    except nextcord.HTTPException:
        return  # nothing answered yet, or already gone
    flags = original.flags
    if flags.loading and not flags.ephemeral:
        try:
            await original.delete()
        except nextcord.HTTPException as exc:  # the answer still goes out, as a followup
            log.warning("interaction.placeholder_delete_failed", status=exc.status)


async def send_ephemeral(
    interaction: nextcord.Interaction, content: str, *, view: View | None = None
) -> None:
    """Answer once: as the initial response if none was sent yet, otherwise as an ephemeral
    followup (removing a public "thinking" placeholder first)."""
    kwargs: dict[str, object] = {"ephemeral": True}
    if view is not None:
        kwargs["view"] = view
    try:
        if interaction.type == nextcord.InteractionType.application_command_autocomplete:
            if not interaction.response.is_done():
                await interaction.response.send_autocomplete([])
            return
        if interaction.response.is_done():
            await _drop_public_placeholder(interaction)
        await interaction.send(content, **kwargs)  # type: ignore[arg-type]  # kwargs typed loosely
    except nextcord.HTTPException as exc:
        # The interaction may have expired (3 s / 15 min); nothing more we can tell the member.
        log.warning("interaction.answer_failed", status=exc.status, code=exc.code)


async def report(interaction: nextcord.Interaction, error: BaseException) -> str:
    """Show `error` to the member; returns the outcome label logged for the interaction."""
    while isinstance(error, ApplicationInvokeError) and error.original is not None:
        error = error.original
    if isinstance(error, UserError):
        if isinstance(error, ServiceUnavailable):
            log.warning("interaction.service_unavailable", service=type(error).__name__)
        await send_ephemeral(interaction, error.message, view=error.view)
        return type(error).__name__
    if is_database_unreachable(error):
        # An outage, not a bug: no traceback, no ref; the member is told what happened.
        log.warning("interaction.database_unreachable", error=type(error).__name__)
        await send_ephemeral(interaction, DatabaseUnavailable().message)
        return "database_unreachable"
    ref = new_ref()
    log.error(
        "interaction.failed",
        ref=ref,
        error=f"{type(error).__name__}: {error}",
        exc_info=(type(error), error, error.__traceback__),
    )
    await send_ephemeral(interaction, f"Something went wrong (ref {ref}).")
    return "error"
