"""What the test's users do: slash commands, clicks, selects, modals, messages, voice.

Mixed into :class:`~growmies_testkit.fake_discord.FakeDiscord`; every method here produces the
gateway events (INTERACTION_CREATE, MESSAGE_CREATE, VOICE_STATE_UPDATE...) a real Discord client
would cause.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .interactions import FakeInteraction, InteractionFactory, InteractionType
from .messages import MessageStore, UploadedFile, parse_emoji
from .permissions import Permission
from .world import FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser

if TYPE_CHECKING:
    from ._util import Notifier
    from .gateway import Gateway

__all__ = ["Actor", "ActorsMixin", "MessageRef"]

#: Who acts: a guild member, or a bare user (then in the bot's DMs).
Actor = FakeMember | FakeUser
#: A stored message dict, or its id.
MessageRef = dict[str, Any] | int | str


class ActorsMixin:
    """User-side actions of :class:`FakeDiscord`."""

    if TYPE_CHECKING:
        application_id: int
        bot_user: FakeUser
        enforce_command_permissions: bool
        interactions: list[FakeInteraction]
        _interactions: dict[int, FakeInteraction]
        _interactions_by_token: dict[str, FakeInteraction]
        _modals: dict[tuple[int, str], tuple[dict[str, Any], FakeInteraction]]
        _factory: InteractionFactory
        _gateway: Gateway
        _messages: MessageStore
        _notifier: Notifier

        def _loop_time(self) -> float: ...
        def _new_id(self) -> int: ...
        def get_channel(self, channel_id: int) -> FakeChannel | None: ...
        def dm_channel(self, user: FakeUser) -> FakeChannel: ...
        def _find_command(
            self, name: str, guild: FakeGuild | None, ctype: int
        ) -> dict[str, Any]: ...
        def _emit(
            self, event: str, data: Any, guild_id: int | None, *, respect_intents: bool = True
        ) -> list[asyncio.Future[None]]: ...
        async def _flush(self, futures: Iterable[asyncio.Future[None]]) -> None: ...
        def _set_voice_state(
            self,
            guild: FakeGuild,
            member: FakeMember,
            channel: FakeChannel | None,
            *,
            session_id: str | None = None,
            self_mute: bool | None = None,
            self_deaf: bool | None = None,
        ) -> list[asyncio.Future[None]]: ...

    async def voice_join(
        self,
        member: FakeMember,
        channel: FakeChannel,
        *,
        self_mute: bool = False,
        self_deaf: bool = False,
    ) -> dict[str, Any]:
        """``member`` joins (or moves to) voice ``channel``: ``VOICE_STATE_UPDATE``."""
        if not channel.is_voice or channel.guild is not member.guild:
            raise ValueError(f"{channel!r} is not a voice channel of {member.guild!r}")
        if not member.permissions_in(channel) & Permission.CONNECT:
            raise PermissionError(f"{member!r} lacks CONNECT in {channel!r}")
        await self._flush(
            self._set_voice_state(
                member.guild, member, channel, self_mute=self_mute, self_deaf=self_deaf
            )
        )
        return member.guild.voice_states[member.id]

    async def voice_leave(self, member: FakeMember) -> None:
        """``member`` leaves voice: ``VOICE_STATE_UPDATE`` with ``channel_id: null``."""
        if member.id in member.guild.voice_states:
            await self._flush(self._set_voice_state(member.guild, member, None))

    # -- interactions --------------------------------------------------------------------------

    async def _send_interaction(self, ix: FakeInteraction) -> FakeInteraction:
        gid = ix.guild.id if ix.guild is not None else None
        if gid is not None and self._gateway.guild_session(gid) is None:
            raise RuntimeError(f"the bot has no connected gateway session for guild {gid}")
        if gid is None and self._gateway.guild_session(None) is None:
            raise RuntimeError("the bot is not connected to the gateway")
        self.interactions.append(ix)
        self._interactions[ix.id] = ix
        self._interactions_by_token[ix.token] = ix
        ix.dispatched_at = self._loop_time()
        futures = self._gateway.dispatch("INTERACTION_CREATE", ix.payload, guild_id=gid)
        await self._flush(futures)
        return ix

    def _command_interaction(
        self,
        actor: Actor,
        name: str,
        options: Mapping[str, Any] | None,
        *,
        channel: FakeChannel | None,
        itype: int,
        focused: str | None = None,
    ) -> FakeInteraction:
        words = name.strip().lstrip("/").split()
        if not words:
            raise ValueError("empty command name")
        guild = actor.guild if isinstance(actor, FakeMember) else None
        cmd = self._find_command(words[0], guild, 1)
        if self.enforce_command_permissions:
            self._factory.check_can_use(cmd, actor if isinstance(actor, FakeMember) else None)
        resolved: dict[str, dict[str, Any]] = {}
        chan = channel or (guild.text_channel if guild else None)
        if chan is None:
            chan = self.dm_channel(actor if isinstance(actor, FakeUser) else actor.user)
        opts = self._factory.command_options(
            cmd,
            words[1:],
            options or {},
            guild=guild,
            channel=chan,
            member=actor if isinstance(actor, FakeMember) else None,
            resolved=resolved,
            focused=focused,
        )
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": cmd.get("type", 1),
            "options": opts,
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        if resolved:
            data["resolved"] = resolved
        payload, user, member, chan = self._factory.base(itype, actor, chan, data)
        return FakeInteraction(self, payload, user=user, member=member, channel=chan, command=cmd)

    async def slash(
        self,
        actor: Actor,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        channel: FakeChannel | None = None,
    ) -> FakeInteraction:
        """``actor`` runs ``/name`` (``"group sub"`` names reach nested subcommands) with
        ``options`` typed per the registered command (members, users, channels and roles may be
        passed as fake objects; attachments as ``(filename, bytes)``). Returns once the
        INTERACTION_CREATE was sent; ``await ix.response()`` for the answer.

        Raises :class:`LookupError` for unknown commands/options, :class:`ValueError`/
        :class:`TypeError` for values the Discord client would refuse, and (with
        ``enforce_command_permissions``) :class:`PermissionError` when
        ``default_member_permissions`` hides the command."""
        ix = self._command_interaction(
            actor, name, options, channel=channel, itype=InteractionType.APPLICATION_COMMAND
        )
        return await self._send_interaction(ix)

    async def autocomplete(
        self,
        actor: Actor,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        channel: FakeChannel | None = None,
        timeout: float = 5,
    ) -> list[dict[str, Any]]:
        """``actor`` types into option ``focused`` of ``/name``; returns the choices the bot
        answered with (callback type 8)."""
        ix = self._command_interaction(
            actor,
            name,
            options,
            channel=channel,
            itype=InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
            focused=focused,
        )
        await self._send_interaction(ix)
        response = await ix.response(timeout)
        if response["type"] != 8:
            raise AssertionError(f"autocomplete answered with callback type {response['type']}")
        return list(response["data"].get("choices") or [])

    async def _context_command(
        self,
        actor: Actor,
        name: str,
        ctype: int,
        target: dict[str, Any],
        resolved: dict[str, Any],
        channel: FakeChannel | None,
    ) -> FakeInteraction:
        guild = actor.guild if isinstance(actor, FakeMember) else None
        cmd = self._find_command(name, guild, ctype)
        if self.enforce_command_permissions:
            self._factory.check_can_use(cmd, actor if isinstance(actor, FakeMember) else None)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": ctype,
            "target_id": target["id"],
            "resolved": resolved,
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        payload, user, member, chan = self._factory.base(2, actor, channel, data)
        ix = FakeInteraction(self, payload, user=user, member=member, channel=chan, command=cmd)
        return await self._send_interaction(ix)

    async def user_command(
        self,
        actor: Actor,
        name: str,
        target: FakeMember | FakeUser,
        *,
        channel: FakeChannel | None = None,
    ) -> FakeInteraction:
        """``actor`` uses the user context-menu command ``name`` on ``target``."""
        user = target.user if isinstance(target, FakeMember) else target
        resolved: dict[str, Any] = {"users": {str(user.id): user.payload()}}
        if isinstance(target, FakeMember):
            mdata = self._factory.member_payload(target, channel)
            mdata.pop("user", None)
            resolved["members"] = {str(user.id): mdata}
        return await self._context_command(actor, name, 2, {"id": str(user.id)}, resolved, channel)

    async def message_command(
        self, actor: Actor, name: str, message: MessageRef, *, channel: FakeChannel | None = None
    ) -> FakeInteraction:
        """``actor`` uses the message context-menu command ``name`` on ``message``."""
        msg = self._resolve_message(message)
        resolved = {"messages": {msg["id"]: msg}}
        chan = channel or self.get_channel(int(msg["channel_id"]))
        return await self._context_command(actor, name, 3, msg, resolved, chan)

    def _resolve_message(
        self, message: MessageRef, *, adopt_for: Actor | None = None
    ) -> dict[str, Any]:
        if isinstance(message, dict):
            found = self._messages.get(message["id"])
            if found is None and adopt_for is not None:
                channel = None
                if message.get("channel_id") is not None:
                    channel = self.get_channel(int(message["channel_id"]))
                if channel is None and isinstance(adopt_for, FakeMember):
                    channel = adopt_for.guild.text_channel
                if channel is None:
                    user = adopt_for.user if isinstance(adopt_for, FakeMember) else adopt_for
                    channel = self.dm_channel(user)
                found = self._messages.adopt(message, channel)
        else:
            found = self._messages.get(message)
        if found is None:
            raise LookupError(f"the fake has no message {message!r} (deleted, or never sent)")
        return found

    def _component_interaction(
        self, actor: Actor, message: MessageRef, data: dict[str, Any]
    ) -> FakeInteraction:
        msg = self._resolve_message(message, adopt_for=actor)
        channel = self.get_channel(int(msg["channel_id"]))
        if channel is None:
            raise LookupError(f"message {msg['id']} is in an unknown channel")
        payload, user, member, chan = self._factory.base(
            InteractionType.MESSAGE_COMPONENT, actor, channel, data, message=msg
        )
        return FakeInteraction(
            self, payload, user=user, member=member, channel=chan, message_id=int(msg["id"])
        )

    async def click(
        self, actor: Actor, message: MessageRef, custom_id: str, *, strict: bool = False
    ) -> FakeInteraction:
        """``actor`` clicks the button ``custom_id`` on ``message`` (a stored message dict or
        id; an unknown dict is adopted as a stand-in message).

        A ``custom_id`` that is not on the message is sent anyway, like a stale or forged
        click, unless ``strict`` (then :class:`LookupError`). Disabled and link buttons raise
        :class:`ValueError`: no client can click them."""
        msg = self._resolve_message(message, adopt_for=actor)
        comp = self._component_or_none(msg, custom_id, strict)
        if comp is not None:
            if comp.get("type") != 2:
                raise ValueError(
                    f"{custom_id!r} is a type-{comp.get('type')} component, not a button"
                )
            if comp.get("disabled"):
                raise ValueError(f"button {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 2}
        if comp is not None and comp.get("id") is not None:
            data["id"] = comp["id"]
        return await self._send_interaction(self._component_interaction(actor, msg, data))

    def _component_or_none(
        self, msg: dict[str, Any], custom_id: str, strict: bool
    ) -> dict[str, Any] | None:
        try:
            return self._factory.find_component(msg, custom_id)
        except LookupError:
            if strict:
                raise
            return None

    async def select(
        self,
        actor: Actor,
        message: MessageRef,
        custom_id: str,
        values: Sequence[Any],
        *,
        strict: bool = False,
    ) -> FakeInteraction:
        """``actor`` picks ``values`` in select ``custom_id`` (string selects: option values;
        user/role/channel selects: fake objects or ids).

        By default anything goes through, like a stale or forged interaction (a missing select
        is sent as a string select). ``strict=True`` only allows what the Discord client can
        send: the select must be on the message and the values among its options, within
        ``min_values``..``max_values`` (else :class:`LookupError`/:class:`ValueError`)."""
        msg = self._resolve_message(message, adopt_for=actor)
        comp = self._component_or_none(msg, custom_id, strict)
        if comp is not None and comp.get("type") not in (3, 5, 6, 7, 8):
            raise ValueError(f"{custom_id!r} is a type-{comp.get('type')} component, not a select")
        if comp is not None and comp.get("disabled"):
            raise ValueError(f"select {custom_id!r} is disabled")
        channel = self.get_channel(int(msg["channel_id"]))
        assert channel is not None
        resolved: dict[str, dict[str, Any]] = {}
        guild = actor.guild if isinstance(actor, FakeMember) else None
        if comp is None:
            picked = [str(v) for v in values]
            ctype = 3
        else:
            picked = self._factory.select_values(
                comp, list(values), guild=guild, channel=channel, resolved=resolved, strict=strict
            )
            ctype = comp["type"]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype, "values": picked}
        if comp is not None and comp.get("id") is not None:
            data["id"] = comp["id"]
        if resolved:
            data["resolved"] = resolved
        return await self._send_interaction(self._component_interaction(actor, msg, data))

    async def submit_modal(
        self,
        actor: Actor,
        custom_id: str,
        values: Mapping[str, Any],
        *,
        channel: FakeChannel | None = None,
        message: MessageRef | None = None,
        strict: bool = False,
    ) -> FakeInteraction:
        """``actor`` submits modal ``custom_id`` with ``{text_input_custom_id: value}``.

        When the bot showed this modal to this user (callback type 9), the submission mirrors
        its layout (fields left out keep their pre-filled value) and the channel/message of
        the interaction that opened it; otherwise one action row per value. Values are not
        checked unless ``strict=True`` (then required fields, length bounds and unknown fields
        raise, as the client would refuse them): a bot must validate what it receives."""
        user = actor.user if isinstance(actor, FakeMember) else actor
        shown = self._modals.get((user.id, custom_id))
        modal, source = shown if shown else (None, None)
        components = self._factory.modal_components(modal, values, strict=strict)
        data = {"custom_id": custom_id, "components": components}
        msg = None
        if message is not None:
            msg = self._resolve_message(message, adopt_for=actor)
        elif source is not None and source.message_id is not None:
            msg = self._messages.get(source.message_id)
        chan = channel
        if chan is None and msg is not None:
            chan = self.get_channel(int(msg["channel_id"]))
        if chan is None and source is not None:
            chan = source.channel
        payload, user, member, chan = self._factory.base(
            InteractionType.MODAL_SUBMIT, actor, chan, data, message=msg
        )
        ix = FakeInteraction(
            self,
            payload,
            user=user,
            member=member,
            channel=chan,
            message_id=int(msg["id"]) if msg is not None else None,
        )
        return await self._send_interaction(ix)

    def get_interaction(self, interaction_id: int) -> FakeInteraction | None:
        return self._interactions.get(int(interaction_id))

    async def send_message(
        self,
        actor: Actor,
        channel: FakeChannel | None,
        content: str = "",
        *,
        mentions: Iterable[FakeMember | FakeUser | FakeRole] = (),
        embeds: list[dict[str, Any]] | None = None,
        reply_to: MessageRef | None = None,
        attachments: Sequence[tuple[str, bytes]] = (),
    ) -> dict[str, Any]:
        """``actor`` posts in ``channel`` (``None`` = the actor's DM with the bot):
        ``MESSAGE_CREATE``. Mentions come from ``<@id>``/``<@&id>`` in ``content`` plus
        ``mentions``. Returns the stored message."""
        user = actor.user if isinstance(actor, FakeMember) else actor
        member = actor if isinstance(actor, FakeMember) else None
        if channel is None:
            channel = self.dm_channel(user)
        if member is not None:
            needed = Permission.VIEW_CHANNEL | (
                Permission.SEND_MESSAGES_IN_THREADS
                if channel.is_thread
                else Permission.SEND_MESSAGES
            )
            if member.permissions_in(channel) & needed != needed:
                raise PermissionError(f"{member!r} cannot send messages in {channel!r}")
        payload: dict[str, Any] = {"content": content}
        if embeds:
            payload["embeds"] = embeds
        if reply_to is not None:
            payload["message_reference"] = {"message_id": self._resolve_message(reply_to)["id"]}
        files = [
            UploadedFile(f"files[{i}]", name, None, data)
            for i, (name, data) in enumerate(attachments)
        ]
        msg = self._messages.create(
            channel, user, payload, files, member=member, extra_mentions=mentions
        )
        msg.pop("allowed_mentions", None)
        await self._flush(self._emit("MESSAGE_CREATE", msg, channel.guild_id))
        self._notifier.notify()
        return msg

    async def add_to_thread(
        self, actor: FakeMember, thread: FakeChannel, member: FakeMember
    ) -> None:
        """``actor`` adds ``member`` to ``thread`` (Discord's "Add members" / @mention in a
        private thread): ``THREAD_MEMBERS_UPDATE``. In a private thread the actor must be in it
        (or manage threads), and others may add members only when it is invitable."""
        needed = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES_IN_THREADS
        perms = actor.permissions_in(thread)
        if perms & needed != needed:
            raise PermissionError(f"{actor!r} cannot add members to {thread!r}")
        moderator = bool(perms & Permission.MANAGE_THREADS)
        if thread.type == 12 and not moderator and not thread.invitable:
            raise PermissionError(f"{thread!r} is not invitable and {actor!r} is no moderator")
        await self._flush(self.add_thread_member(thread, member))  # type: ignore[attr-defined]

    async def add_reaction(self, actor: Actor, message: MessageRef, emoji: str) -> None:
        """``actor`` reacts to ``message`` with ``emoji`` (``"👍"`` or ``"name:id"``)."""
        msg = self._resolve_message(message)
        user = actor.user if isinstance(actor, FakeMember) else actor
        em = parse_emoji(emoji)
        if not self._messages.add_reaction(msg, em, user.id):
            return
        data: dict[str, Any] = {
            "user_id": str(user.id),
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "emoji": em,
            "message_author_id": msg["author"]["id"],
            "burst": False,
            "type": 0,
        }
        gid = None
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
            gid = int(msg["guild_id"])
            if isinstance(actor, FakeMember):
                data["member"] = actor.payload()
        await self._flush(self._emit("MESSAGE_REACTION_ADD", data, gid))
