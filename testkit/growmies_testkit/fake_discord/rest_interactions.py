"""REST routes for application commands, interaction callbacks and interaction webhooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._util import deep_copy
from .errors import DiscordAPIError, FormErrors
from .http import API_PREFIX, BODY, FILES, json_response, no_content
from .interactions import ALLOWED_CALLBACKS, CallbackType, FakeInteraction
from .limits import (
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    check_autocomplete,
    check_command,
    check_message,
    check_modal,
)

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["InteractionRoutes"]

_COMMAND_DEFAULTS: dict[str, Any] = {
    "type": 1,
    "description": "",
    "name_localizations": None,
    "description_localizations": None,
    "default_member_permissions": None,
    "nsfw": False,
    "contexts": None,
    "integration_types": [0],
}


class InteractionRoutes:
    """Command CRUD (global and guild), ``/interactions/{id}/{token}/callback`` and
    ``/webhooks/{application}/{token}`` followups and message edits."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def add_to(self, app: web.Application) -> None:
        add = app.router.add_route
        p = API_PREFIX
        for base in (
            p + "/applications/{application_id}/commands",
            p + "/applications/{application_id}/guilds/{guild_id}/commands",
        ):
            add("GET", base, self.list_commands)
            add("POST", base, self.create_command)
            add("PUT", base, self.bulk_overwrite)
            add("GET", base + "/{command_id}", self.get_command)
            add("PATCH", base + "/{command_id}", self.edit_command)
            add("DELETE", base + "/{command_id}", self.delete_command)
        add(
            "GET",
            p + "/applications/{application_id}/guilds/{guild_id}/commands/permissions",
            self.command_permissions,
        )
        add("POST", p + "/interactions/{interaction_id}/{token}/callback", self.callback)
        w = p + "/webhooks/{application_id}/{token}"
        add("POST", w, self.followup)
        add("GET", w + "/messages/{message_id}", self.get_webhook_message)
        add("PATCH", w + "/messages/{message_id}", self.edit_webhook_message)
        add("DELETE", w + "/messages/{message_id}", self.delete_webhook_message)

    # -- application commands ------------------------------------------------------------------

    def _scope(self, request: web.Request) -> int | None:
        if request.match_info["application_id"] != str(self.fake.application_id):
            raise DiscordAPIError(403, 50001, "Missing Access")
        raw = request.match_info.get("guild_id")
        if raw is None:
            return None
        guild = self.fake.get_guild(int(raw)) if raw.isdigit() else None
        if guild is None or self.fake.bot_member(guild) is None:
            raise DiscordAPIError(403, 50001, "Missing Access")
        return guild.id

    def _store(self, scope: int | None) -> dict[int, dict[str, Any]]:
        return self.fake._commands.setdefault(scope, {})

    def _command(self, request: web.Request, scope: int | None) -> dict[str, Any]:
        raw = request.match_info["command_id"]
        cmd = self._store(scope).get(int(raw)) if raw.isdigit() else None
        if cmd is None:
            raise DiscordAPIError(404, 10063, "Unknown application command")
        return cmd

    def _normalize(
        self, payload: dict[str, Any], scope: int | None, existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Stored form: the payload as sent (so nextcord's deep compare matches on the next
        sync) plus the fields Discord adds (id, application_id, version, defaults)."""
        cmd = {**_COMMAND_DEFAULTS, **deep_copy(payload)}
        perms = cmd.get("default_member_permissions")
        if perms is not None:
            cmd["default_member_permissions"] = str(perms)
        cmd["id"] = existing["id"] if existing else str(self.fake._new_id())
        cmd["application_id"] = str(self.fake.application_id)
        cmd["version"] = str(self.fake._new_id())
        if scope is not None:
            cmd["guild_id"] = str(scope)
        else:
            cmd.pop("guild_id", None)
        return cmd

    def _validate(self, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.")
        errors = FormErrors()
        check_command(errors, payload)
        errors.raise_if_any()
        return payload

    def _find_same(self, scope: int | None, payload: dict[str, Any]) -> dict[str, Any] | None:
        ctype = payload.get("type", 1)
        for cmd in self._store(scope).values():
            if cmd["name"] == payload.get("name") and cmd.get("type", 1) == ctype:
                return cmd
        return None

    async def list_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        return json_response(list(self._store(scope).values()))

    async def get_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        return json_response(self._command(request, scope))

    async def create_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        payload = self._validate(request[BODY])
        existing = self._find_same(scope, payload)
        cmd = self._normalize(payload, scope, existing)
        self._store(scope)[int(cmd["id"])] = cmd
        self.fake._command_written(created=True)
        return json_response(cmd, 200 if existing else 201)

    async def bulk_overwrite(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body = request[BODY]
        if not isinstance(body, list):
            raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.")
        errors = FormErrors()
        for i, payload in enumerate(body):
            sub = FormErrors()
            check_command(sub, payload if isinstance(payload, dict) else {})
            if sub:
                errors.tree[str(i)] = sub.tree
                errors.count += sub.count
        errors.raise_if_any()
        new: dict[int, dict[str, Any]] = {}
        for payload in body:
            cmd = self._normalize(payload, scope, self._find_same(scope, payload))
            new[int(cmd["id"])] = cmd
        self.fake._commands[scope] = new
        self.fake._command_written(created=False)
        return json_response(list(new.values()))

    async def edit_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        cmd = self._command(request, scope)
        body = request[BODY] or {}
        merged = {k: v for k, v in cmd.items() if k not in ("id", "application_id", "version")}
        merged.update(body)
        self._validate(merged)
        updated = self._normalize(merged, scope, cmd)
        self._store(scope)[int(cmd["id"])] = updated
        self.fake._command_written(created=False)
        return json_response(updated)

    async def delete_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        cmd = self._command(request, scope)
        del self._store(scope)[int(cmd["id"])]
        self.fake._command_written(created=False)
        return no_content()

    async def command_permissions(self, request: web.Request) -> web.Response:
        self._scope(request)
        return json_response([])

    # -- interaction callback ------------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        fake = self.fake
        raw_id = request.match_info["interaction_id"]
        ix = fake._interactions.get(int(raw_id)) if raw_id.isdigit() else None
        try:
            if ix is None or ix.token != request.match_info["token"]:
                raise DiscordAPIError.unknown_interaction()
            if ix._responses:
                raise DiscordAPIError.already_acknowledged()
            if ix.age > fake.interaction_ack_timeout:
                raise DiscordAPIError.unknown_interaction()
            body = request[BODY]
            if not isinstance(body, dict):
                raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.")
            response = self._apply_callback(ix, body, request[FILES])
        except DiscordAPIError as err:
            if ix is not None:
                ix.rejected_callbacks.append((err.status, err.body()))
            raise
        ix._record_response(response)
        if request.query.get("with_response") in ("true", "True", "1"):
            out: dict[str, Any] = {
                "interaction": {
                    "id": str(ix.id),
                    "type": ix.type,
                    "response_message_id": str(ix.original_id) if ix.original_id else None,
                    "response_message_loading": response["type"] == 5,
                    "response_message_ephemeral": ix.ephemeral,
                },
            }
            msg = ix.original_raw
            if msg is not None:
                out["resource"] = {"type": response["type"], "message": msg}
            return json_response(out)
        return no_content()

    def _apply_callback(
        self, ix: FakeInteraction, body: dict[str, Any], files: list[Any]
    ) -> dict[str, Any]:
        fake = self.fake
        rtype = body.get("type")
        data = body.get("data")
        allowed = ALLOWED_CALLBACKS.get(ix.type, frozenset())
        if rtype not in allowed:
            errors = FormErrors()
            errors.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Interaction response type {rtype} is not valid for interaction type {ix.type}"
                f" (allowed: {sorted(allowed)})",
            )
            errors.raise_if_any()
        if data is not None and not isinstance(data, dict):
            raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.")
        data = data or {}
        errors = FormErrors()
        if rtype == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE:
            sub = FormErrors()
            empty = check_message(sub, data, file_count=len(files))
            _nest(errors, sub, "data")
            errors.raise_if_any()
            if empty:
                raise DiscordAPIError.empty_message()
            msg = fake._interaction_message(ix, data, files, ephemeral=_ephemeral(data))
            ix.original_id = int(msg["id"])
        elif rtype == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            msg = fake._interaction_message(ix, {}, [], ephemeral=_ephemeral(data), loading=True)
            ix.original_id = int(msg["id"])
        elif rtype in (CallbackType.DEFERRED_UPDATE_MESSAGE, CallbackType.UPDATE_MESSAGE):
            target = fake._messages.get(ix.message_id) if ix.message_id else None
            if target is None:
                raise DiscordAPIError.not_found(10008, "Message")
            if rtype == CallbackType.UPDATE_MESSAGE:
                sub = FormErrors()
                check_message(
                    sub,
                    {**data, "flags": data.get("flags", target.get("flags"))},
                    require_body=False,
                )
                _nest(errors, sub, "data")
                errors.raise_if_any()
                fake._messages.edit(target, data, files)
                fake._message_updated(target)
            ix.original_id = int(target["id"])
        elif rtype == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            check_autocomplete(errors, data)
            errors.raise_if_any()
        elif rtype == CallbackType.MODAL:
            check_modal(errors, data)
            errors.raise_if_any()
            fake._modals[(ix.user.id, str(data["custom_id"]))] = (deep_copy(data), ix)
        return {"type": rtype, "data": deep_copy(data)}

    # -- webhooks (followups, @original) -------------------------------------------------------

    def _webhook_interaction(self, request: web.Request) -> FakeInteraction:
        fake = self.fake
        ix = fake._interactions_by_token.get(request.match_info["token"])
        if ix is None or request.match_info["application_id"] != str(fake.application_id):
            raise DiscordAPIError.not_found(10015, "Webhook")
        if ix.token_expired:
            raise DiscordAPIError(401, 50027, "Invalid Webhook Token")
        return ix

    def _webhook_message(self, request: web.Request, ix: FakeInteraction) -> dict[str, Any]:
        raw = request.match_info["message_id"]
        if raw == "@original":
            msg = ix.original_raw
        else:
            mid = int(raw) if raw.isdigit() else -1
            known = mid == ix.original_id or mid in ix.followup_ids
            msg = self.fake._messages.get(mid) if known else None
        if msg is None:
            raise DiscordAPIError.not_found(10008, "Message")
        return msg

    async def followup(self, request: web.Request) -> web.Response:
        fake = self.fake
        ix = self._webhook_interaction(request)
        if not ix._responses:
            raise DiscordAPIError.not_found(10015, "Webhook")
        body = request[BODY] or {}
        files = request[FILES]
        errors = FormErrors()
        empty = check_message(errors, body, file_count=len(files))
        errors.raise_if_any()
        if empty:
            raise DiscordAPIError.empty_message()
        loading = ix.original_raw
        if loading is not None and int(loading.get("flags") or 0) & MESSAGE_FLAG_LOADING:
            # The first followup after a deferred response replaces the "thinking" message.
            fake._messages.edit(loading, {k: v for k, v in body.items() if k != "flags"}, files)
            fake._message_updated(loading)
            msg = loading
        else:
            msg = fake._interaction_message(ix, body, files, ephemeral=_ephemeral(body))
        ix.followup_ids.append(int(msg["id"]))
        fake._notifier.notify()
        if request.query.get("wait", "false").lower() not in ("true", "1"):
            return no_content()
        return json_response(msg)

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        ix = self._webhook_interaction(request)
        return json_response(self._webhook_message(request, ix))

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        ix = self._webhook_interaction(request)
        msg = self._webhook_message(request, ix)
        body = request[BODY] or {}
        errors = FormErrors()
        check_message(errors, {**body, "flags": msg.get("flags")}, require_body=False)
        errors.raise_if_any()
        edit = {k: v for k, v in body.items() if k != "flags"}
        fake._messages.edit(msg, edit, request[FILES])
        fake._message_updated(msg)
        fake._notifier.notify()
        return json_response(msg)

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        ix = self._webhook_interaction(request)
        msg = self._webhook_message(request, ix)
        self.fake._delete_message(msg)
        return no_content()


def _ephemeral(data: dict[str, Any]) -> bool:
    return bool(int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)


def _nest(errors: FormErrors, sub: FormErrors, key: str) -> None:
    if sub:
        errors.tree[key] = sub.tree
        errors.count += sub.count
