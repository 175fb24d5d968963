"""REST routes for gateway discovery, users, channels, messages, threads, guilds and roles.

Every handler updates the world and emits the gateway event real Discord would, then answers
with Discord's JSON. Permission checks use the bot's computed channel permissions (403 ``50013``
Missing Permissions), including the role hierarchy for role and member edits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._util import iso_now
from .errors import DiscordAPIError, FormErrors
from .http import API_PREFIX, BODY, FILES, json_response, no_content
from .limits import check_message
from .messages import ensure_author, parse_emoji
from .permissions import ALL_PERMISSIONS, Permission
from .world import ChannelType, FakeChannel, FakeGuild, FakeMember, FakeRole

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["CoreRoutes"]

P = Permission


def _snowflake(value: str) -> int:
    if not value.isdigit():
        raise DiscordAPIError(
            400,
            50035,
            "Invalid Form Body",
            {
                "_errors": [
                    {"code": "NUMBER_TYPE_COERCE", "message": f'Value "{value}" is not snowflake.'}
                ]
            },
        )
    return int(value)


class CoreRoutes:
    """Handlers for everything except application commands, interactions and webhooks."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def add_to(self, app: web.Application) -> None:
        add = app.router.add_route
        p = API_PREFIX
        add("GET", p + "/gateway", self.get_gateway)
        add("GET", p + "/gateway/bot", self.get_gateway_bot)
        add("GET", p + "/users/{user_id}", self.get_user)
        add("PATCH", p + "/users/@me", self.patch_me)
        add("POST", p + "/users/@me/channels", self.create_dm)
        add("GET", p + "/users/@me/guilds", self.my_guilds)
        add("GET", p + "/applications/@me", self.application_info)
        add("GET", p + "/oauth2/applications/@me", self.application_info)
        # channels
        c = p + "/channels/{channel_id}"
        add("GET", c, self.get_channel)
        add("PATCH", c, self.patch_channel)
        add("DELETE", c, self.delete_channel)
        add("POST", c + "/typing", self.typing)
        add("GET", c + "/messages", self.list_messages)
        add("POST", c + "/messages", self.create_message)
        add("POST", c + "/messages/bulk-delete", self.bulk_delete)
        add("GET", c + "/messages/{message_id}", self.get_message)
        add("PATCH", c + "/messages/{message_id}", self.edit_message)
        add("DELETE", c + "/messages/{message_id}", self.delete_message)
        add("POST", c + "/messages/{message_id}/threads", self.thread_from_message)
        add("POST", c + "/threads", self.thread_without_message)
        for method in ("PUT", "POST"):
            add(method, c + "/thread-members/@me", self.join_thread)
        add("DELETE", c + "/thread-members/@me", self.leave_thread)
        add("GET", c + "/thread-members", self.list_thread_members)
        add("GET", c + "/thread-members/{user_id}", self.get_thread_member)
        add("PUT", c + "/thread-members/{user_id}", self.add_thread_member)
        add("DELETE", c + "/thread-members/{user_id}", self.remove_thread_member)
        r = c + "/messages/{message_id}/reactions"
        add("GET", r + "/{emoji}", self.reaction_users)
        add("PUT", r + "/{emoji}/@me", self.add_reaction)
        add("DELETE", r + "/{emoji}/@me", self.remove_own_reaction)
        add("DELETE", r + "/{emoji}/{user_id}", self.remove_user_reaction)
        add("DELETE", r, self.clear_reactions)
        add("GET", c + "/pins", self.list_pins)
        add("PUT", c + "/pins/{message_id}", self.pin)
        add("DELETE", c + "/pins/{message_id}", self.unpin)
        # guilds
        g = p + "/guilds/{guild_id}"
        add("GET", g, self.get_guild)
        add("GET", g + "/channels", self.guild_channels)
        add("GET", g + "/roles", self.guild_roles)
        add("POST", g + "/roles", self.create_role)
        add("PATCH", g + "/roles/{role_id}", self.edit_role)
        add("DELETE", g + "/roles/{role_id}", self.delete_role)
        add("GET", g + "/members", self.list_members)
        add("GET", g + "/members/search", self.search_members)
        add("GET", g + "/members/{user_id}", self.get_member)
        add("PATCH", g + "/members/{user_id}", self.edit_member)
        add("DELETE", g + "/members/{user_id}", self.kick_member)
        add("PUT", g + "/members/{user_id}/roles/{role_id}", self.add_member_role)
        add("DELETE", g + "/members/{user_id}/roles/{role_id}", self.remove_member_role)
        add("PATCH", g + "/voice-states/{user_id}", self.edit_voice_state)

    # -- lookups -------------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> FakeGuild:
        guild = self.fake.get_guild(_snowflake(request.match_info["guild_id"]))
        if guild is None:
            raise DiscordAPIError.not_found(10004, "Guild")
        return guild

    def _channel(self, request: web.Request) -> FakeChannel:
        channel = self.fake.get_channel(_snowflake(request.match_info["channel_id"]))
        if channel is None:
            raise DiscordAPIError.not_found(10003, "Channel")
        if channel.guild is not None and self.fake.bot_member(channel.guild) is None:
            raise DiscordAPIError.missing_access()
        return channel

    def _message(self, request: web.Request, channel: FakeChannel) -> dict[str, Any]:
        msg = self.fake._messages.get(_snowflake(request.match_info["message_id"]))
        if msg is None or int(msg["channel_id"]) != channel.id:
            raise DiscordAPIError.not_found(10008, "Message")
        return msg

    def _member(self, guild: FakeGuild, raw: str) -> FakeMember:
        uid = self.fake.bot_user.id if raw == "@me" else _snowflake(raw)
        member = guild.members.get(uid)
        if member is None:
            raise DiscordAPIError.not_found(10007, "Member")
        return member

    def _role(self, guild: FakeGuild, raw: str) -> FakeRole:
        role = guild.roles.get(_snowflake(raw))
        if role is None:
            raise DiscordAPIError.not_found(10011, "Role")
        return role

    def _perms(self, channel: FakeChannel | None, guild: FakeGuild | None = None) -> int:
        """The bot's permissions in ``channel`` (or guild-wide)."""
        guild = guild or (channel.guild if channel is not None else None)
        if guild is None:  # DMs
            return int(
                P.VIEW_CHANNEL
                | P.SEND_MESSAGES
                | P.EMBED_LINKS
                | P.ATTACH_FILES
                | P.READ_MESSAGE_HISTORY
                | P.ADD_REACTIONS
            )
        me = self.fake.bot_member(guild)
        if me is None:
            return 0
        return me.permissions_in(channel) if channel is not None else me.permissions

    def _require(self, perms: int, needed: int) -> None:
        if perms & needed != needed:
            raise DiscordAPIError.missing_permissions()

    def _above(self, guild: FakeGuild, role: FakeRole) -> None:
        """403 unless the bot's highest role is above ``role`` (or the bot owns the guild)."""
        me = self.fake.bot_member(guild)
        if me is None:
            raise DiscordAPIError.missing_access()
        if guild.owner_id == me.id:
            return
        if me.top_role.position <= role.position:
            raise DiscordAPIError.missing_permissions()

    def _can_moderate(self, guild: FakeGuild, member: FakeMember) -> None:
        if member.id == guild.owner_id:
            raise DiscordAPIError.missing_permissions()
        self._above(guild, member.top_role)

    # -- gateway, users, application -----------------------------------------------------------

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.fake.gateway_url,
                "shards": self.fake.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": max(0, 1000 - self.fake._gateway.identify_count),
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    def _me_payload(self) -> dict[str, Any]:
        data = self.fake.bot_user.payload()
        data.update(verified=True, mfa_enabled=False, email=None, locale="en-US", flags=0)
        return data

    async def get_user(self, request: web.Request) -> web.Response:
        raw = request.match_info["user_id"]
        if raw == "@me":
            return json_response(self._me_payload())
        user = self.fake.get_user(_snowflake(raw))
        if user is None:
            raise DiscordAPIError.not_found(10013, "User")
        return json_response(user.payload())

    async def patch_me(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        if "username" in body:
            self.fake.bot_user.username = str(body["username"])
            self.fake._emit("USER_UPDATE", self._me_payload(), None)
        return json_response(self._me_payload())

    async def create_dm(self, request: web.Request) -> web.Response:
        body = request[BODY] or {}
        user = self.fake.get_user(_snowflake(str(body.get("recipient_id", ""))))
        if user is None:
            raise DiscordAPIError.not_found(10013, "User")
        return json_response(self.fake.dm_channel(user).payload())

    async def my_guilds(self, request: web.Request) -> web.Response:
        out: list[dict[str, Any]] = []
        for guild in self.fake.guilds.values():
            me = self.fake.bot_member(guild)
            if me is None:
                continue
            out.append(
                {
                    "id": str(guild.id),
                    "name": guild.name,
                    "icon": None,
                    "owner": guild.owner_id == me.id,
                    "permissions": str(me.permissions),
                    "features": [],
                }
            )
        return json_response(out)

    async def application_info(self, request: web.Request) -> web.Response:
        fake = self.fake
        owner = fake.application_owner
        return json_response(
            {
                "id": str(fake.application_id),
                "name": fake.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "bot": fake.bot_user.payload(),
                "owner": owner.payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "tags": [],
                "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
                "approximate_guild_count": len(fake.guilds),
            }
        )

    # -- channels ------------------------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel.guild is not None:
            self._require(self._perms(channel), P.VIEW_CHANNEL)
        return json_response(channel.payload())

    async def patch_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        guild = channel.guild
        if guild is None:
            raise DiscordAPIError.missing_permissions()
        body = request[BODY] or {}
        perms = self._perms(channel)
        errors = FormErrors()
        if channel.is_thread:
            is_owner = channel.owner_id == self.fake.bot_user.id
            if not (perms & P.MANAGE_THREADS or (is_owner and set(body) <= {"archived", "name"})):
                raise DiscordAPIError.missing_permissions()
            for key in ("name", "archived", "locked", "auto_archive_duration"):
                if key in body:
                    setattr(channel, key, body[key])
        else:
            self._require(perms, P.MANAGE_CHANNELS)
            if "permission_overwrites" in body:
                self._require(perms, P.MANAGE_ROLES)
                channel.permission_overwrites = [
                    {
                        "id": str(o["id"]),
                        "type": int(o.get("type", 0)),
                        "allow": str(o.get("allow", 0)),
                        "deny": str(o.get("deny", 0)),
                    }
                    for o in body["permission_overwrites"]
                ]
            for key in ("name", "topic", "nsfw", "position", "bitrate", "user_limit"):
                if key in body:
                    setattr(channel, key, body[key])
            if "rate_limit_per_user" in body:
                channel.rate_limit_per_user = int(body["rate_limit_per_user"] or 0)
            if "parent_id" in body:
                channel.parent_id = int(body["parent_id"]) if body["parent_id"] else None
        if "name" in body and not 1 <= len(str(body["name"])) <= 100:
            errors.bad_length(("name",), 1, 100)
        errors.raise_if_any()
        guild.channel_updated(channel)
        return json_response(channel.payload())

    async def delete_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel.guild is None:
            return json_response(channel.payload())
        needed = P.MANAGE_THREADS if channel.is_thread else P.MANAGE_CHANNELS
        self._require(self._perms(channel), needed)
        payload = channel.payload()
        channel.guild.remove_channel(channel)
        return json_response(payload)

    async def typing(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(self._perms(channel), P.VIEW_CHANNEL | P.SEND_MESSAGES)
        return no_content()

    # -- messages ------------------------------------------------------------------------------

    def _send_permission(self, channel: FakeChannel) -> int:
        base = P.VIEW_CHANNEL
        return base | (P.SEND_MESSAGES_IN_THREADS if channel.is_thread else P.SEND_MESSAGES)

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(self._perms(channel), P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY)
        q = request.query
        limit = max(1, min(int(q.get("limit", 50)), 100))
        msgs = list(reversed(self.fake._messages.channel_messages(channel.id)))  # newest first
        if "before" in q:
            msgs = [m for m in msgs if int(m["id"]) < int(q["before"])]
        if "after" in q:
            msgs = [m for m in msgs if int(m["id"]) > int(q["after"])]
            msgs = msgs[-limit:]
        if "around" in q:
            mid = int(q["around"])
            older = [m for m in msgs if int(m["id"]) <= mid][: (limit + 1) // 2]
            newer = [m for m in msgs if int(m["id"]) > mid][-(limit // 2) :] if limit > 1 else []
            msgs = newer + older
        return json_response(msgs[:limit])

    async def get_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(self._perms(channel), P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY)
        return json_response(self._message(request, channel))

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel.type == ChannelType.GUILD_CATEGORY:
            raise DiscordAPIError(400, 50008, "Cannot send messages in a non-text channel")
        body = request[BODY] or {}
        files = request[FILES]
        errors = FormErrors()
        empty = check_message(errors, body, file_count=len(files))
        errors.raise_if_any()
        if empty:
            raise DiscordAPIError.empty_message()
        perms = self._perms(channel)
        self._require(perms, self._send_permission(channel))
        if files or body.get("attachments"):
            self._require(perms, P.ATTACH_FILES)
        if channel.is_thread and channel.locked and not perms & P.MANAGE_THREADS:
            raise DiscordAPIError(400, 50083, "Thread is archived")
        if channel.is_thread and channel.archived:
            channel.archived = False
            if channel.guild is not None:
                channel.guild.channel_updated(channel)
        member = self.fake.bot_member(channel.guild) if channel.guild else None
        msg = self.fake._messages.create(channel, self.fake.bot_user, body, files, member=member)
        self.fake._message_created(msg)
        return json_response(msg)

    async def edit_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        ensure_author(msg, self.fake.bot_user.id)
        body = request[BODY] or {}
        errors = FormErrors()
        merged_flags = body.get("flags", msg.get("flags"))
        check_message(errors, {**body, "flags": merged_flags}, require_body=False)
        errors.raise_if_any()
        self.fake._messages.edit(msg, body, request[FILES])
        self.fake._message_updated(msg)
        return json_response(msg)

    async def delete_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        if int(msg["author"]["id"]) != self.fake.bot_user.id:
            self._require(self._perms(channel), P.MANAGE_MESSAGES)
        self.fake._delete_message(msg)
        return no_content()

    async def bulk_delete(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self._require(self._perms(channel), P.MANAGE_MESSAGES)
        ids = (request[BODY] or {}).get("messages") or []
        if not 2 <= len(ids) <= 100:
            errors = FormErrors()
            errors.bad_length(("messages",), 2, 100)
            errors.raise_if_any()
        for raw in ids:
            msg = self.fake._messages.get(raw)
            if msg is not None and int(msg["channel_id"]) == channel.id:
                self.fake._delete_message(msg)
        return no_content()

    # -- threads -------------------------------------------------------------------------------

    def _new_thread(
        self,
        parent: FakeChannel,
        body: dict[str, Any],
        *,
        thread_id: int | None,
        ttype: int,
    ) -> FakeChannel:
        guild = parent.guild
        if guild is None or parent.type not in (ChannelType.GUILD_TEXT, 5, 15):
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        errors = FormErrors()
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors.bad_length(("name",), 1, 100)
        errors.raise_if_any()
        perms = self._perms(parent)
        needed = P.CREATE_PRIVATE_THREADS if ttype == 12 else P.CREATE_PUBLIC_THREADS
        self._require(perms, P.VIEW_CHANNEL | needed)
        thread = FakeChannel(
            id=thread_id or self.fake._new_id(),
            host=self.fake,
            guild=guild,
            name=str(name),
            type=ttype,
            parent_id=parent.id,
            owner_id=self.fake.bot_user.id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
        )
        if ttype == ChannelType.PRIVATE_THREAD and body.get("invitable") is False:
            thread.invitable = False
        thread.thread_member_ids.add(self.fake.bot_user.id)
        guild.channels[thread.id] = thread
        data = thread.payload()
        data["newly_created"] = True
        self.fake._emit("THREAD_CREATE", data, guild.id)
        return thread

    async def thread_from_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        if msg.get("thread"):
            raise DiscordAPIError(400, 160004, "A thread has already been created for this message")
        ttype = 10 if channel.type == ChannelType.GUILD_ANNOUNCEMENT else 11
        thread = self._new_thread(
            channel, request[BODY] or {}, thread_id=int(msg["id"]), ttype=ttype
        )
        msg["thread"] = thread.payload()
        msg["flags"] = int(msg.get("flags") or 0) | (1 << 5)  # HAS_THREAD
        self.fake._message_updated(msg)
        return json_response(thread.payload(), 201)

    async def thread_without_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        body = request[BODY] or {}
        ttype = int(body.get("type") or 12)
        if ttype not in (10, 11, 12):
            errors = FormErrors()
            errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")
            errors.raise_if_any()
        thread = self._new_thread(channel, body, thread_id=None, ttype=ttype)
        return json_response(thread.payload(), 201)

    async def join_thread(self, request: web.Request) -> web.Response:
        thread = self._channel(request)
        if not thread.is_thread:
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        thread.thread_member_ids.add(self.fake.bot_user.id)
        return no_content()

    async def leave_thread(self, request: web.Request) -> web.Response:
        thread = self._channel(request)
        thread.thread_member_ids.discard(self.fake.bot_user.id)
        return no_content()

    def _thread(self, request: web.Request) -> FakeChannel:
        thread = self._channel(request)
        if not thread.is_thread:
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        return thread

    async def list_thread_members(self, request: web.Request) -> web.Response:
        """``GET /channels/{thread}/thread-members``: needs the GUILD_MEMBERS intent on Discord;
        the fake answers regardless."""
        thread = self._thread(request)
        return json_response(
            [thread.thread_member_payload(uid) for uid in sorted(thread.thread_member_ids)]
        )

    async def get_thread_member(self, request: web.Request) -> web.Response:
        thread = self._thread(request)
        uid = _snowflake(request.match_info["user_id"])
        if uid not in thread.thread_member_ids:
            raise DiscordAPIError.not_found(10007, "Member")
        return json_response(thread.thread_member_payload(uid))

    async def add_thread_member(self, request: web.Request) -> web.Response:
        """``PUT /channels/{thread}/thread-members/{user}``: needs the ability to send messages
        in the thread (and, in a private thread, to see it); the thread must not be archived.
        Fires ``THREAD_MEMBERS_UPDATE``."""
        thread = self._thread(request)
        assert thread.guild is not None
        member = self._member(thread.guild, request.match_info["user_id"])
        if thread.archived:
            raise DiscordAPIError(400, 50083, "Thread is archived")
        self._require(self._perms(thread), P.VIEW_CHANNEL | P.SEND_MESSAGES_IN_THREADS)
        self.fake.add_thread_member(thread, member)
        return no_content()

    async def remove_thread_member(self, request: web.Request) -> web.Response:
        """``DELETE /channels/{thread}/thread-members/{user}``: needs MANAGE_THREADS, or being
        the creator of a private thread. Fires ``THREAD_MEMBERS_UPDATE``."""
        thread = self._thread(request)
        assert thread.guild is not None
        uid = _snowflake(request.match_info["user_id"])
        if thread.archived:
            raise DiscordAPIError(400, 50083, "Thread is archived")
        creator = thread.type == ChannelType.PRIVATE_THREAD and (
            thread.owner_id == self.fake.bot_user.id
        )
        if not creator:
            self._require(self._perms(thread), P.MANAGE_THREADS)
        if uid not in thread.thread_member_ids:
            raise DiscordAPIError.not_found(10007, "Member")
        self.fake.remove_thread_member(thread, uid)
        return no_content()

    # -- reactions and pins --------------------------------------------------------------------

    def _reaction_event(
        self, event: str, msg: dict[str, Any], emoji: dict[str, Any], user_id: int
    ) -> None:
        data: dict[str, Any] = {
            "user_id": str(user_id),
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "emoji": emoji,
            "burst": False,
            "type": 0,
        }
        guild_id = int(msg["guild_id"]) if "guild_id" in msg else None
        if guild_id is not None:
            data["guild_id"] = msg["guild_id"]
            guild = self.fake.get_guild(guild_id)
            member = guild.members.get(user_id) if guild else None
            if member is not None and event == "MESSAGE_REACTION_ADD":
                data["member"] = member.payload()
        if event == "MESSAGE_REACTION_ADD":
            data["message_author_id"] = msg["author"]["id"]
        self.fake._emit(event, data, guild_id)

    async def add_reaction(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        emoji = parse_emoji(request.match_info["emoji"])
        perms = self._perms(channel)
        self._require(perms, P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY)
        if not self.fake._messages.reaction_users(msg, emoji):
            self._require(perms, P.ADD_REACTIONS)
        if self.fake._messages.add_reaction(msg, emoji, self.fake.bot_user.id):
            self._reaction_event("MESSAGE_REACTION_ADD", msg, emoji, self.fake.bot_user.id)
        return no_content()

    async def remove_own_reaction(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        emoji = parse_emoji(request.match_info["emoji"])
        if self.fake._messages.remove_reaction(msg, emoji, self.fake.bot_user.id):
            self._reaction_event("MESSAGE_REACTION_REMOVE", msg, emoji, self.fake.bot_user.id)
        return no_content()

    async def remove_user_reaction(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        self._require(self._perms(channel), P.MANAGE_MESSAGES)
        emoji = parse_emoji(request.match_info["emoji"])
        uid = _snowflake(request.match_info["user_id"])
        if self.fake._messages.remove_reaction(msg, emoji, uid):
            self._reaction_event("MESSAGE_REACTION_REMOVE", msg, emoji, uid)
        return no_content()

    async def clear_reactions(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        self._require(self._perms(channel), P.MANAGE_MESSAGES)
        self.fake._messages.clear_reactions(msg)
        data = {"channel_id": msg["channel_id"], "message_id": msg["id"]}
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
        self.fake._emit(
            "MESSAGE_REACTION_REMOVE_ALL", data, int(msg["guild_id"]) if "guild_id" in msg else None
        )
        return no_content()

    async def reaction_users(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        emoji = parse_emoji(request.match_info["emoji"])
        users = [self.fake.get_user(u) for u in self.fake._messages.reaction_users(msg, emoji)]
        return json_response([u.payload() for u in users if u is not None])

    async def list_pins(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        pins = [m for m in self.fake._messages.channel_messages(channel.id) if m.get("pinned")]
        return json_response(list(reversed(pins)))

    async def _set_pin(self, request: web.Request, pinned: bool) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        self._require(self._perms(channel), P.MANAGE_MESSAGES)
        if msg.get("pinned") != pinned:
            msg["pinned"] = pinned
            self.fake._message_updated(msg)
            pins = [m for m in self.fake._messages.channel_messages(channel.id) if m["pinned"]]
            data: dict[str, Any] = {
                "channel_id": str(channel.id),
                "last_pin_timestamp": iso_now() if pins else None,
            }
            if channel.guild is not None:
                data["guild_id"] = str(channel.guild.id)
            self.fake._emit("CHANNEL_PINS_UPDATE", data, channel.guild_id)
        return no_content()

    async def pin(self, request: web.Request) -> web.Response:
        return await self._set_pin(request, True)

    async def unpin(self, request: web.Request) -> web.Response:
        return await self._set_pin(request, False)

    # -- guilds, roles, members ----------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if self.fake.bot_member(guild) is None:
            raise DiscordAPIError.missing_access()
        return json_response(guild.payload())

    async def guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response([c.payload() for c in guild.channels.values() if not c.is_thread])

    async def guild_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response([r.payload() for r in guild.roles.values()])

    def _grantable(self, guild: FakeGuild, permissions: int) -> None:
        """A bot cannot grant permissions it does not have itself (unless ADMINISTRATOR)."""
        mine = self._perms(None, guild)
        if mine != ALL_PERMISSIONS and permissions & ~mine:
            raise DiscordAPIError.missing_permissions()

    async def create_role(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        self._require(self._perms(None, guild), P.MANAGE_ROLES)
        body = request[BODY] or {}
        perms = int(body.get("permissions") or 0)
        self._grantable(guild, perms)
        role = guild.add_role(
            str(body.get("name") or "new role"),
            perms,
            color=int(body.get("color") or 0),
            hoist=bool(body.get("hoist")),
            mentionable=bool(body.get("mentionable")),
        )
        return json_response(role.payload())

    async def edit_role(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        role = self._role(guild, request.match_info["role_id"])
        self._require(self._perms(None, guild), P.MANAGE_ROLES)
        self._above(guild, role)
        body = request[BODY] or {}
        changes: dict[str, Any] = {}
        for key in ("name", "color", "hoist", "mentionable"):
            if key in body:
                changes[key] = body[key]
        if "permissions" in body:
            perms = int(body["permissions"] or 0)
            self._grantable(guild, perms)
            changes["permissions"] = perms
        guild.update_role(role, **changes)
        return json_response(role.payload())

    async def delete_role(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        role = self._role(guild, request.match_info["role_id"])
        self._require(self._perms(None, guild), P.MANAGE_ROLES)
        self._above(guild, role)
        if role.is_default or role.managed:
            raise DiscordAPIError(400, 50028, "Invalid role")
        guild.remove_role(role)
        return no_content()

    async def list_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        limit = max(1, min(int(request.query.get("limit", 1)), 1000))
        after = int(request.query.get("after", 0))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)
        return json_response([m.payload() for m in members[:limit]])

    async def search_members(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        q = request.query.get("query", "").lower()
        limit = max(1, min(int(request.query.get("limit", 1)), 1000))
        found = [
            m
            for m in guild.members.values()
            if m.user.username.lower().startswith(q) or (m.nick or "").lower().startswith(q)
        ]
        return json_response([m.payload() for m in found[:limit]])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response(self._member(guild, request.match_info["user_id"]).payload())

    async def edit_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        raw = request.match_info["user_id"]
        member = self._member(guild, raw)
        is_me = member.id == self.fake.bot_user.id
        body = request[BODY] or {}
        perms = self._perms(None, guild)
        if "nick" in body:
            if is_me:
                self._require(perms, P.CHANGE_NICKNAME)
            else:
                self._require(perms, P.MANAGE_NICKNAMES)
                self._can_moderate(guild, member)
            member.nick = body["nick"] or None
        if "roles" in body:
            self._require(perms, P.MANAGE_ROLES)
            wanted = [self._role(guild, str(r)) for r in body["roles"]]
            current = {r.id for r in member.roles}
            for role in wanted:
                if role.id not in current:
                    self._above(guild, role)
            for role in member.roles:
                if role.id not in {w.id for w in wanted}:
                    self._above(guild, role)
            member.roles = [r for r in wanted if not r.is_default]
        if "communication_disabled_until" in body:
            self._require(perms, P.MODERATE_MEMBERS)
            if member.permissions & P.ADMINISTRATOR:
                raise DiscordAPIError.missing_permissions()
            self._can_moderate(guild, member)
            member.communication_disabled_until = body["communication_disabled_until"]
        for key, needed in (("mute", P.MUTE_MEMBERS), ("deaf", P.DEAFEN_MEMBERS)):
            if key in body:
                self._require(perms, needed)
                setattr(member, key, bool(body[key]))
                state = guild.voice_states.get(member.id)
                if state is not None:
                    state[key] = bool(body[key])
                    self.fake._emit("VOICE_STATE_UPDATE", dict(state), guild.id)
        if "channel_id" in body:
            self._require(perms, P.MOVE_MEMBERS)
            if member.id not in guild.voice_states:
                raise DiscordAPIError(400, 40032, "Target user is not connected to voice.")
            target = body["channel_id"]
            channel = guild.channels.get(int(target)) if target else None
            if target and (channel is None or not channel.is_voice):
                raise DiscordAPIError.not_found(10003, "Channel")
            self.fake._set_voice_state(guild, member, channel)
        guild.member_updated(member)
        return json_response(member.payload())

    async def kick_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        member = self._member(guild, request.match_info["user_id"])
        self._require(self._perms(None, guild), P.KICK_MEMBERS)
        self._can_moderate(guild, member)
        guild.remove_member(member)
        return no_content()

    def _member_role_target(self, request: web.Request) -> tuple[FakeGuild, FakeMember, FakeRole]:
        guild = self._guild(request)
        member = self._member(guild, request.match_info["user_id"])
        role = self._role(guild, request.match_info["role_id"])
        self._require(self._perms(None, guild), P.MANAGE_ROLES)
        self._above(guild, role)
        if role.managed or role.is_default:
            raise DiscordAPIError.missing_permissions()
        return guild, member, role

    async def add_member_role(self, request: web.Request) -> web.Response:
        guild, member, role = self._member_role_target(request)
        guild.add_member_role(member, role)
        return no_content()

    async def remove_member_role(self, request: web.Request) -> web.Response:
        guild, member, role = self._member_role_target(request)
        guild.remove_member_role(member, role)
        return no_content()

    async def edit_voice_state(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        member = self._member(guild, request.match_info["user_id"])
        state = guild.voice_states.get(member.id)
        if state is None:
            raise DiscordAPIError(400, 10065, "Unknown Voice State")
        body = request[BODY] or {}
        if "suppress" in body:
            state["suppress"] = bool(body["suppress"])
        if "request_to_speak_timestamp" in body:
            state["request_to_speak_timestamp"] = body["request_to_speak_timestamp"]
        self.fake._emit("VOICE_STATE_UPDATE", dict(state), guild.id)
        return no_content()
