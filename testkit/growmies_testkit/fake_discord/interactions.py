"""Interactions: building INTERACTION_CREATE payloads and tracking what the bot answered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ._util import Notifier, deep_copy, random_token, snowflake_age
from .limits import MESSAGE_FLAG_EPHEMERAL, MESSAGE_FLAG_LOADING
from .messages import MessageStore, UploadedFile, iter_components
from .permissions import Permission
from .world import FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser

__all__ = [
    "ALLOWED_CALLBACKS",
    "CallbackType",
    "FakeInteraction",
    "InteractionFactory",
    "InteractionType",
]


class InteractionType:
    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType:
    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9
    LAUNCH_ACTIVITY = 12


#: Interaction type -> callback types Discord accepts for it.
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    InteractionType.APPLICATION_COMMAND: frozenset({4, 5, 9, 12}),
    InteractionType.MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9, 12}),
    InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE: frozenset({8}),
    InteractionType.MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}

#: Seconds an interaction token stays valid for followups and @original edits.
TOKEN_LIFETIME = 15 * 60

_OPTION_TYPES = {
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}


class InteractionHost(Protocol):
    """What interactions need from :class:`FakeDiscord`."""

    application_id: int
    bot_user: FakeUser
    _notifier: Notifier
    _messages: MessageStore

    def _new_id(self) -> int: ...

    def dm_channel(self, user: FakeUser) -> FakeChannel: ...


class FakeInteraction:
    """One interaction the fake sent to the bot, and everything the bot answered.

    ``await ix.response()`` gives the first callback ``{"type", "data"}``; ``ix.original`` the
    current ``@original`` message; ``await ix.wait_followups(n)`` the followup messages.
    """

    def __init__(
        self,
        host: InteractionHost,
        payload: dict[str, Any],
        *,
        user: FakeUser,
        member: FakeMember | None,
        channel: FakeChannel,
        message_id: int | None = None,
        command: dict[str, Any] | None = None,
    ) -> None:
        self._host = host
        #: The INTERACTION_CREATE payload as sent.
        self.payload = payload
        self.id: int = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.user = user
        self.member = member
        self.guild: FakeGuild | None = member.guild if member is not None else None
        self.channel = channel
        #: The message a component/modal interaction came from.
        self.message_id = message_id
        #: The registered command this interaction invokes (application commands/autocomplete).
        self.command = command
        self.dispatched_at: float | None = None
        self.responded_at: float | None = None
        self._responses: list[dict[str, Any]] = []
        self.original_id: int | None = None
        self.followup_ids: list[int] = []
        #: ``(status, body)`` of callbacks the fake rejected (second response, too late...).
        self.rejected_callbacks: list[tuple[int, dict[str, Any]]] = []

    # -- state ---------------------------------------------------------------------------------

    @property
    def data(self) -> dict[str, Any]:
        return self.payload.get("data") or {}

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Every accepted callback (normally exactly one)."""
        return list(self._responses)

    @property
    def ack_latency(self) -> float | None:
        """Seconds from dispatch to the first accepted callback, or ``None``."""
        if self.dispatched_at is None or self.responded_at is None:
            return None
        return self.responded_at - self.dispatched_at

    @property
    def age(self) -> float:
        """Seconds since the interaction id's timestamp."""
        return snowflake_age(self.id)

    @property
    def token_expired(self) -> bool:
        return self.age > TOKEN_LIFETIME

    @property
    def ephemeral(self) -> bool:
        """Whether the first response asked for an ephemeral message (flags & 64)."""
        if not self._responses:
            return False
        data = self._responses[0].get("data") or {}
        return bool(int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """The autocomplete choices of a type-8 response."""
        for resp in self._responses:
            if resp["type"] == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
                return list((resp.get("data") or {}).get("choices") or [])
        return None

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal of a type-9 response."""
        for resp in self._responses:
            if resp["type"] == CallbackType.MODAL:
                return resp.get("data")
        return None

    @property
    def original(self) -> dict[str, Any] | None:
        """The current ``@original`` message: the response message (type 4, or a deferred
        type 5 once edited/followed up) or, for type 6/7, the message the component was on.
        ``None`` while nothing exists or the deferred "thinking" message is still loading."""
        msg = self.original_raw
        if msg is None or int(msg.get("flags") or 0) & MESSAGE_FLAG_LOADING:
            return None
        return msg

    @property
    def original_raw(self) -> dict[str, Any] | None:
        """Like :attr:`original` but also returns a still-loading deferred message."""
        if self.original_id is None:
            return None
        return self._host._messages.get(self.original_id)

    @property
    def followups(self) -> list[dict[str, Any]]:
        """Current state of followup messages (deleted ones omitted)."""
        out = []
        for mid in self.followup_ids:
            msg = self._host._messages.get(mid)
            if msg is not None:
                out.append(msg)
        return out

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message this interaction produced (original first, then followups)."""
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        original = self.original
        if original is not None and self._responses and self._responses[0]["type"] in (4, 5):
            out.append(original)
            seen.add(original["id"])
        for msg in self.followups:
            if msg["id"] not in seen:
                out.append(msg)
                seen.add(msg["id"])
        return out

    # -- waiting -------------------------------------------------------------------------------

    async def response(self, timeout: float = 5) -> dict[str, Any]:
        """The first callback ``{"type": int, "data": {...}}``, waiting for it if needed."""
        return await self._host._notifier.wait_for(
            lambda: self._responses[0] if self._responses else None,
            timeout,
            f"a response to interaction {self.id} ({self.describe()})",
        )

    async def wait_followups(self, n: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
        """The first ``n`` followup messages (current state), waiting until they exist."""

        def ready() -> list[dict[str, Any]] | None:
            return self.followups[:n] if len(self.followup_ids) >= n else None

        return await self._host._notifier.wait_for(
            ready, timeout, f"{n} followup(s) of interaction {self.id} ({self.describe()})"
        )

    async def wait_original(
        self,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5,
    ) -> dict[str, Any]:
        """Wait until :attr:`original` exists (and satisfies ``predicate``)."""

        def ready() -> dict[str, Any] | None:
            msg = self.original
            if msg is None or (predicate is not None and not predicate(msg)):
                return None
            return msg

        return await self._host._notifier.wait_for(
            ready, timeout, f"the original response of interaction {self.id} ({self.describe()})"
        )

    # -- bookkeeping used by the REST handlers -----------------------------------------------

    def _record_response(self, response: dict[str, Any]) -> None:
        self._responses.append(response)
        if self.responded_at is None:
            self.responded_at = asyncio.get_running_loop().time()
        self._host._notifier.notify()

    def describe(self) -> str:
        data = self.data
        if self.type in (2, 4):
            return f"/{data.get('name')}"
        return f"custom_id={data.get('custom_id')!r}"

    def __repr__(self) -> str:
        return (
            f"<FakeInteraction id={self.id} type={self.type} {self.describe()} "
            f"responses={[r['type'] for r in self._responses]}>"
        )


class InteractionFactory:
    """Builds INTERACTION_CREATE payloads that parse in nextcord and look like Discord's."""

    def __init__(self, host: InteractionHost) -> None:
        self.host = host

    # -- shared pieces -------------------------------------------------------------------------

    def member_payload(self, member: FakeMember, channel: FakeChannel | None) -> dict[str, Any]:
        data = member.payload()
        data["permissions"] = str(member.permissions_in(channel))
        return data

    def channel_payload(self, channel: FakeChannel, member: FakeMember | None) -> dict[str, Any]:
        data = channel.payload()
        if member is not None:
            data["permissions"] = str(member.permissions_in(channel))
        return data

    def base(
        self,
        itype: int,
        actor: FakeMember | FakeUser,
        channel: FakeChannel | None,
        data: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], FakeUser, FakeMember | None, FakeChannel]:
        """Common interaction fields; ``actor`` a member (guild) or a user (bot DM)."""
        iid = self.host._new_id()
        member = actor if isinstance(actor, FakeMember) else None
        user = actor.user if isinstance(actor, FakeMember) else actor
        if member is not None:
            guild = member.guild
            channel = channel or guild.text_channel
            if channel.guild is not guild:
                raise ValueError(f"{channel!r} is not in {guild!r}")
        else:
            channel = channel or self.host.dm_channel(user)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.host.application_id),
            "type": itype,
            "data": data,
            "channel_id": str(channel.id),
            "channel": self.channel_payload(channel, member),
            "token": f"fake-ix-{iid}-{random_token(40)}",
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 26214400,
        }
        if member is not None:
            guild = member.guild
            bot_member = guild.members.get(self.host.bot_user.id)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=self.member_payload(member, channel),
                app_permissions=str(bot_member.permissions_in(channel) if bot_member else 0),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=user.payload(),
                app_permissions=str(
                    int(
                        Permission.VIEW_CHANNEL
                        | Permission.SEND_MESSAGES
                        | Permission.EMBED_LINKS
                        | Permission.ATTACH_FILES
                        | Permission.READ_MESSAGE_HISTORY
                        | Permission.ADD_REACTIONS
                    )
                ),
                authorizing_integration_owners={"0": str(user.id)},
                context=1,
            )
        if message is not None:
            payload["message"] = deep_copy(message)
        return payload, user, member, channel

    # -- application commands ------------------------------------------------------------------

    @staticmethod
    def check_can_use(command: dict[str, Any], member: FakeMember | None) -> None:
        """The Discord client hides commands whose ``default_member_permissions`` the member
        lacks (``"0"`` = administrators only); invoking one is a test bug."""
        required = command.get("default_member_permissions")
        if member is None or required is None:
            return
        perms = member.permissions
        if perms & Permission.ADMINISTRATOR:
            return
        needed = int(required)
        if needed == 0 or perms & needed != needed:
            raise PermissionError(
                f"{member!r} cannot see /{command['name']}: it requires permissions {needed} "
                f"(default_member_permissions) and the member has {perms}"
            )

    def command_options(
        self,
        command: dict[str, Any],
        path: list[str],
        values: Mapping[str, Any],
        *,
        guild: FakeGuild | None,
        channel: FakeChannel,
        member: FakeMember | None,
        resolved: dict[str, dict[str, Any]],
        focused: str | None = None,
    ) -> list[dict[str, Any]]:
        """Options for ``/name group sub`` with ``values`` typed per the registered command."""
        defs = command.get("options") or []
        chain: list[dict[str, Any]] = []
        for word in path:
            found = next((o for o in defs if o["name"] == word and o["type"] in (1, 2)), None)
            if found is None:
                subs = [o["name"] for o in defs if o["type"] in (1, 2)]
                raise LookupError(
                    f"/{command['name']} {' '.join(p['name'] for p in chain)} has no subcommand "
                    f"or group {word!r} (it has {subs})"
                )
            chain.append(found)
            defs = found.get("options") or []
        subs = [o["name"] for o in defs if o["type"] in (1, 2)]
        if subs:
            raise LookupError(
                f"/{' '.join([command['name'], *path])} cannot be run itself; "
                f"name one of its subcommands {subs}"
            )
        by_name = {o["name"]: o for o in defs}
        for name in values:
            if name not in by_name:
                raise LookupError(
                    f"/{' '.join([command['name'], *path])} has no option {name!r} "
                    f"(it has {list(by_name)})"
                )
        if focused is not None and focused not in values:
            raise LookupError(f"focused option {focused!r} needs a value in the options")
        if focused is None:
            missing = [o["name"] for o in defs if o.get("required") and o["name"] not in values]
            if missing:
                raise ValueError(f"required option(s) {missing} missing")
        leaf = []
        for defn in defs:  # Discord sends options in the command's order
            if defn["name"] not in values:
                continue
            leaf.append(
                self._option(
                    defn,
                    values[defn["name"]],
                    guild=guild,
                    channel=channel,
                    member=member,
                    resolved=resolved,
                    focused=focused == defn["name"],
                )
            )
        options: list[dict[str, Any]] = leaf
        for container in reversed(chain):
            options = [{"type": container["type"], "name": container["name"], "options": options}]
        return options

    def _option(
        self,
        defn: dict[str, Any],
        value: Any,
        *,
        guild: FakeGuild | None,
        channel: FakeChannel,
        member: FakeMember | None,
        resolved: dict[str, dict[str, Any]],
        focused: bool,
    ) -> dict[str, Any]:
        otype = defn["type"]
        name = defn["name"]
        if focused:
            # Autocomplete sends what the user has typed so far, as typed.
            return {"type": otype, "name": name, "value": value, "focused": True}
        if otype == 3:
            out: Any = str(value)
            lo, hi = defn.get("min_length"), defn.get("max_length")
            if (lo is not None and len(out) < lo) or (hi is not None and len(out) > hi):
                raise ValueError(f"option {name!r}: {out!r} violates min/max_length")
        elif otype in (4, 10):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"option {name!r} is {_OPTION_TYPES[otype]}, got {value!r}")
            if otype == 4 and not float(value).is_integer():
                raise TypeError(f"option {name!r} is an integer, got {value!r}")
            out = int(value) if otype == 4 else value
            lo, hi = defn.get("min_value"), defn.get("max_value")
            if (lo is not None and out < lo) or (hi is not None and out > hi):
                raise ValueError(f"option {name!r}: {out} is outside [{lo}, {hi}]")
        elif otype == 5:
            if not isinstance(value, bool):
                raise TypeError(f"option {name!r} is a boolean, got {value!r}")
            out = value
        elif otype == 6:
            out = str(self._resolve_user(value, guild, channel, resolved))
        elif otype == 7:
            target = self._resolve_channel(value, guild, channel)
            types = defn.get("channel_types")
            if types and target.type not in types:
                raise ValueError(f"option {name!r} accepts channel types {types}, not {target!r}")
            resolved.setdefault("channels", {})[str(target.id)] = self.channel_payload(
                target, member
            )
            out = str(target.id)
        elif otype == 8:
            role = self._resolve_role(value, guild)
            resolved.setdefault("roles", {})[str(role.id)] = role.payload()
            out = str(role.id)
        elif otype == 9:
            if isinstance(value, FakeRole):
                resolved.setdefault("roles", {})[str(value.id)] = value.payload()
                out = str(value.id)
            else:
                out = str(self._resolve_user(value, guild, channel, resolved))
        elif otype == 11:
            out = self._attachment(value, channel, resolved)
        else:
            raise TypeError(f"option {name!r} has unsupported type {otype}")
        choices = defn.get("choices")
        if choices and out not in [c["value"] for c in choices]:
            raise ValueError(
                f"option {name!r} only accepts {[c['value'] for c in choices]}, got {out!r}"
            )
        return {"type": otype, "name": name, "value": out}

    def _resolve_user(
        self,
        value: Any,
        guild: FakeGuild | None,
        channel: FakeChannel,
        resolved: dict[str, dict[str, Any]],
    ) -> int:
        member: FakeMember | None
        if isinstance(value, FakeMember):
            user, member = value.user, value
        elif isinstance(value, FakeUser):
            user, member = value, (guild.members.get(value.id) if guild else None)
        elif isinstance(value, int | str) and str(value).isdigit():
            member = guild.members.get(int(value)) if guild else None
            if member is None:
                raise LookupError(f"unknown user id {value}")
            user = member.user
        else:
            raise TypeError(f"expected a FakeMember/FakeUser/id, got {value!r}")
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        if member is not None:
            data = self.member_payload(member, channel)
            data.pop("user", None)
            resolved.setdefault("members", {})[str(user.id)] = data
        return user.id

    @staticmethod
    def _resolve_channel(value: Any, guild: FakeGuild | None, default: FakeChannel) -> FakeChannel:
        if isinstance(value, FakeChannel):
            return value
        if isinstance(value, int | str) and str(value).isdigit() and guild is not None:
            found = guild.channels.get(int(value))
            if found is not None:
                return found
        raise LookupError(f"unknown channel {value!r}")

    @staticmethod
    def _resolve_role(value: Any, guild: FakeGuild | None) -> FakeRole:
        if isinstance(value, FakeRole):
            return value
        if guild is not None:
            if isinstance(value, int | str) and str(value).isdigit() and int(value) in guild.roles:
                return guild.roles[int(value)]
            if isinstance(value, str) and guild.role_named(value):
                return guild.role_named(value)  # type: ignore[return-value]
        raise LookupError(f"unknown role {value!r}")

    def _attachment(
        self, value: Any, channel: FakeChannel, resolved: dict[str, dict[str, Any]]
    ) -> str:
        if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes)):
            raise TypeError("attachment options take a (filename, bytes) tuple")
        upload = UploadedFile("files[0]", value[0], None, value[1])
        att = self.host._messages._new_attachment(channel.id, upload, None)
        resolved.setdefault("attachments", {})[att["id"]] = att
        return str(att["id"])

    # -- components and modals -----------------------------------------------------------------

    @staticmethod
    def find_component(message: dict[str, Any], custom_id: str) -> dict[str, Any]:
        for comp in iter_components(message.get("components") or []):
            if comp.get("custom_id") == custom_id:
                return comp
        ids = [c.get("custom_id") for c in iter_components(message.get("components") or [])]
        raise LookupError(
            f"message {message['id']} has no component with custom_id {custom_id!r} "
            f"(it has {[i for i in ids if i]})"
        )

    def select_values(
        self,
        component: dict[str, Any],
        values: list[Any],
        *,
        guild: FakeGuild | None,
        channel: FakeChannel,
        resolved: dict[str, dict[str, Any]],
        strict: bool,
    ) -> list[str]:
        """Build values and ``resolved`` entries; with ``strict``, refuse what the Discord
        client would not send (values outside the options, too few/many values)."""
        lo, hi = component.get("min_values", 1), component.get("max_values", 1)
        if strict and not lo <= len(values) <= hi:
            raise ValueError(f"select {component.get('custom_id')!r} takes {lo}..{hi} values")
        ctype = component["type"]
        out: list[str] = []
        for value in values:
            if ctype == 3:
                allowed = [o["value"] for o in component.get("options") or []]
                if strict and value not in allowed:
                    raise ValueError(f"{value!r} is not an option of the select ({allowed})")
                out.append(str(value))
            elif ctype == 5 or (ctype == 7 and not isinstance(value, FakeRole)):
                out.append(str(self._resolve_user(value, guild, channel, resolved)))
            elif ctype in (6, 7):
                role = self._resolve_role(value, guild)
                resolved.setdefault("roles", {})[str(role.id)] = role.payload()
                out.append(str(role.id))
            elif ctype == 8:
                target = self._resolve_channel(value, guild, channel)
                resolved.setdefault("channels", {})[str(target.id)] = self.channel_payload(
                    target, None
                )
                out.append(str(target.id))
        return out

    @staticmethod
    def modal_components(
        modal: dict[str, Any] | None, values: Mapping[str, Any], *, strict: bool
    ) -> list[dict[str, Any]]:
        """``data.components`` of a modal submit, shaped like the modal that was shown. With
        ``strict``, the client's checks apply (required, min/max length, known fields);
        otherwise values the bot must defend against (empty, oversized, extra) go through."""
        if modal is None:
            return [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": str(v)}]}
                for k, v in values.items()
            ]
        known: set[str] = set()
        out: list[dict[str, Any]] = []
        for comp in modal.get("components") or []:
            ctype = comp.get("type")
            if ctype == 1:
                inner = (comp.get("components") or [{}])[0]
                out.append(
                    {
                        "type": 1,
                        "id": comp.get("id"),
                        "components": [_submitted(inner, values, known, strict)],
                    }
                )
            elif ctype == 18:
                inner = comp.get("component") or {}
                out.append(
                    {
                        "type": 18,
                        "id": comp.get("id"),
                        "component": _submitted(inner, values, known, strict),
                    }
                )
            elif ctype == 10:
                out.append({"type": 10, "id": comp.get("id")})
        unknown = [k for k in values if k not in known]
        if unknown and strict:
            raise LookupError(f"modal {modal.get('custom_id')!r} has no field(s) {unknown}")
        for key in unknown:
            out.append(
                {
                    "type": 1,
                    "components": [{"type": 4, "custom_id": key, "value": str(values[key])}],
                }
            )
        return out


def _submitted(
    inner: dict[str, Any], values: Mapping[str, Any], known: set[str], strict: bool
) -> dict[str, Any]:
    cid = str(inner.get("custom_id"))
    known.add(cid)
    if inner.get("type") == 4:
        value = values.get(cid, inner.get("value") or "")
        value = "" if value is None else str(value)
        lo, hi = inner.get("min_length"), inner.get("max_length")
        if strict and inner.get("required", True) and not value:
            raise ValueError(f"text input {cid!r} is required")
        if (
            strict
            and value
            and ((lo is not None and len(value) < lo) or (hi is not None and len(value) > hi))
        ):
            raise ValueError(f"text input {cid!r}: {len(value)} chars violates [{lo}, {hi}]")
        return {"type": 4, "id": inner.get("id"), "custom_id": cid, "value": value}
    chosen = values.get(cid, [])
    return {
        "type": inner.get("type"),
        "id": inner.get("id"),
        "custom_id": cid,
        "values": [str(v) for v in (chosen if isinstance(chosen, list) else [chosen])],
    }
