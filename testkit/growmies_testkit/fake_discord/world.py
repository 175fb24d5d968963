"""The fake's world: users, guilds, roles, members and channels.

World objects are plain Python objects a test builds synchronously (``guild.add_member("bob")``).
Every mutation made after the guild has been announced to the bot emits the gateway event real
Discord would send (``GUILD_MEMBER_ADD``, ``GUILD_ROLE_CREATE``, ``CHANNEL_CREATE``...), so the
bot's cache follows along. ``payload()`` methods render the Discord API JSON for each object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ._util import iso_now
from .permissions import (
    DEFAULT_EVERYONE_PERMISSIONS,
    Permission,
    base_permissions,
    channel_permissions,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ADMIN_ROLE_PERMISSIONS",
    "ChannelType",
    "FakeChannel",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
]

#: What ``add_member(..., admin=True)`` grants through the guild's "Admin" role.
ADMIN_ROLE_PERMISSIONS = int(
    Permission.ADMINISTRATOR | Permission.MANAGE_GUILD | Permission.MANAGE_ROLES
)


class ChannelType:
    """Discord channel type numbers."""

    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GROUP_DM = 3
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_STAGE_VOICE = 13
    GUILD_FORUM = 15

    THREADS = frozenset({10, 11, 12})
    VOICE = frozenset({2, 13})


class WorldHost(Protocol):
    """What world objects need from the :class:`FakeDiscord` that owns them."""

    bot_user: FakeUser

    def _new_id(self) -> int: ...

    def _world_event(self, event: str, data: dict[str, Any], guild_id: int | None) -> None: ...

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]: ...

    def _member_removed(self, guild: FakeGuild, member: FakeMember) -> None: ...


@dataclass(eq=False)
class FakeUser:
    """A Discord user (``bot=True`` for bot accounts, including the bot under test)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    avatar: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    @property
    def name(self) -> str:
        """Alias of :attr:`username` (nextcord's ``User.name``)."""
        return self.username

    def payload(self) -> dict[str, Any]:
        """The user object JSON."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if self.bot:
            data["bot"] = True
        return data

    def __repr__(self) -> str:
        return f"<FakeUser id={self.id} username={self.username!r} bot={self.bot}>"


@dataclass(eq=False)
class FakeRole:
    """A guild role. ``permissions`` is the integer bit set (see :class:`Permission`)."""

    id: int
    guild: FakeGuild = field(repr=False)
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    @property
    def is_default(self) -> bool:
        return self.id == self.guild.id

    def payload(self) -> dict[str, Any]:
        """The role object JSON."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(int(self.permissions)),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data

    def __repr__(self) -> str:
        return f"<FakeRole id={self.id} name={self.name!r} position={self.position}>"


@dataclass(eq=False)
class FakeMember:
    """A user's membership in a guild. ``roles`` never contains @everyone."""

    user: FakeUser
    guild: FakeGuild = field(repr=False)
    roles: list[FakeRole] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)
    deaf: bool = False
    mute: bool = False
    communication_disabled_until: str | None = None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    @property
    def name(self) -> str:
        """The user's username (nextcord's ``Member.name``)."""
        return self.user.username

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def bot(self) -> bool:
        return self.user.bot

    @property
    def display_name(self) -> str:
        return self.nick or self.user.global_name or self.user.username

    @property
    def permissions(self) -> int:
        """Guild-level permissions (roles, ownership, ADMINISTRATOR)."""
        return base_permissions(self)

    def permissions_in(self, channel: FakeChannel | None) -> int:
        """Permissions in ``channel`` after its overwrites."""
        return channel_permissions(self, channel)

    @property
    def top_role(self) -> FakeRole:
        return max([self.guild.everyone, *self.roles], key=lambda r: (r.position, r.id))

    def has_role(self, role: FakeRole | int) -> bool:
        rid = role if isinstance(role, int) else role.id
        return any(r.id == rid for r in self.roles)

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        """The guild member object JSON."""
        data: dict[str, Any] = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": self.deaf,
            "mute": self.mute,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": self.communication_disabled_until,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data

    def __repr__(self) -> str:
        return f"<FakeMember id={self.id} name={self.user.username!r} guild={self.guild.id}>"


@dataclass(eq=False)
class FakeChannel:
    """A guild channel, thread or DM channel."""

    id: int
    host: WorldHost = field(repr=False)
    guild: FakeGuild | None = field(repr=False)
    name: str
    type: int = ChannelType.GUILD_TEXT
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    bitrate: int = 64000
    user_limit: int = 0
    rate_limit_per_user: int = 0
    permission_overwrites: list[dict[str, Any]] = field(default_factory=list)
    # threads
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    created_at: str = field(default_factory=iso_now)
    thread_member_ids: set[int] = field(default_factory=set)
    # private threads: whether non-moderator members may add others
    invitable: bool = True
    # DMs
    recipients: list[FakeUser] = field(default_factory=list)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def guild_id(self) -> int | None:
        return self.guild.id if self.guild is not None else None

    @property
    def is_thread(self) -> bool:
        return self.type in ChannelType.THREADS

    @property
    def is_voice(self) -> bool:
        return self.type in ChannelType.VOICE

    @property
    def parent(self) -> FakeChannel | None:
        if self.guild is None or self.parent_id is None:
            return None
        return self.guild.channels.get(self.parent_id)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Messages currently in this channel, oldest first (edits and deletes applied)."""
        return self.host.channel_messages(self.id)

    def thread_member_payload(self, user_id: int, *, with_member: bool = False) -> dict[str, Any]:
        """A thread member object (``member`` included in ``THREAD_MEMBERS_UPDATE``)."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "user_id": str(user_id),
            "join_timestamp": self.created_at,
            "flags": 0,
        }
        member = self.guild.members.get(user_id) if self.guild is not None else None
        if with_member and member is not None:
            data["member"] = member.payload()
            data["presence"] = None
        return data

    def payload(self) -> dict[str, Any]:
        """The channel object JSON."""
        messages = self.host.channel_messages(self.id)
        last_id = messages[-1]["id"] if messages else None
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "flags": 0,
            "last_message_id": last_id,
        }
        if self.guild is None:
            data["recipients"] = [u.payload() for u in self.recipients]
            data.pop("name")
            return data
        data["guild_id"] = str(self.guild.id)
        data["parent_id"] = str(self.parent_id) if self.parent_id else None
        data["nsfw"] = self.nsfw
        data["rate_limit_per_user"] = self.rate_limit_per_user
        if self.is_thread:
            data.update(
                owner_id=str(self.owner_id) if self.owner_id else None,
                message_count=len(messages),
                total_message_sent=len(messages),
                member_count=len(self.thread_member_ids),
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": self.created_at,
                    "locked": self.locked,
                    "invitable": self.invitable,
                    "create_timestamp": self.created_at,
                },
                applied_tags=[],
            )
            return data
        data["position"] = self.position
        data["permission_overwrites"] = list(self.permission_overwrites)
        if self.is_voice:
            data.update(
                bitrate=self.bitrate,
                user_limit=self.user_limit,
                rtc_region=None,
                video_quality_mode=1,
            )
        elif self.type != ChannelType.GUILD_CATEGORY:
            data["topic"] = self.topic
            data["default_auto_archive_duration"] = 1440
        return data

    def __repr__(self) -> str:
        return f"<FakeChannel id={self.id} name={self.name!r} type={self.type}>"


class FakeGuild:
    """A guild with its roles, members, channels and voice states.

    Made by :meth:`FakeDiscord.create_guild`, which also adds the @everyone role (id == guild
    id), the bot's managed role and membership, an ``owner`` member, a ``general`` text channel
    (:attr:`text_channel`) and a ``General`` voice channel (:attr:`voice_channel`).
    """

    def __init__(self, host: WorldHost, guild_id: int, name: str) -> None:
        self.host = host
        self.id = guild_id
        self.name = name
        self.owner_id: int = 0
        self.roles: dict[int, FakeRole] = {}
        self.members: dict[int, FakeMember] = {}
        self.channels: dict[int, FakeChannel] = {}
        #: user id -> voice state JSON, for members currently in a voice channel.
        self.voice_states: dict[int, dict[str, Any]] = {}
        self.text_channel: FakeChannel
        self.voice_channel: FakeChannel
        self.bot_member: FakeMember
        self.bot_role: FakeRole
        self.announced = False
        self.everyone = FakeRole(
            id=guild_id,
            guild=self,
            name="@everyone",
            permissions=DEFAULT_EVERYONE_PERMISSIONS,
            position=0,
        )
        self.roles[guild_id] = self.everyone

    # -- helpers -----------------------------------------------------------------------------

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        if self.announced:
            self.host._world_event(event, data, self.id)

    @property
    def owner(self) -> FakeMember:
        return self.members[self.owner_id]

    @property
    def member_count(self) -> int:
        return len(self.members)

    @property
    def text_channels(self) -> list[FakeChannel]:
        return [c for c in self.channels.values() if c.type == ChannelType.GUILD_TEXT]

    @property
    def threads(self) -> list[FakeChannel]:
        return [c for c in self.channels.values() if c.is_thread]

    def get_member(self, user_id: int) -> FakeMember | None:
        return self.members.get(int(user_id))

    def get_role(self, role_id: int) -> FakeRole | None:
        return self.roles.get(int(role_id))

    def get_channel(self, channel_id: int) -> FakeChannel | None:
        return self.channels.get(int(channel_id))

    def role_named(self, name: str) -> FakeRole | None:
        return next((r for r in self.roles.values() if r.name == name), None)

    def member_named(self, name: str) -> FakeMember | None:
        return next((m for m in self.members.values() if m.user.username == name), None)

    def shard_id(self, shard_count: int) -> int:
        """The shard that owns this guild: ``(guild_id >> 22) % shard_count``."""
        return (self.id >> 22) % max(1, shard_count)

    # -- roles -------------------------------------------------------------------------------

    def add_role(
        self,
        name: str,
        permissions: int = 0,
        *,
        position: int | None = None,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        managed: bool = False,
        bot_id: int | None = None,
    ) -> FakeRole:
        """Create a role. Like Discord, new roles go to the bottom (position 1) unless a
        ``position`` is given; roles at or above it move up. Emits ``GUILD_ROLE_CREATE`` (and
        ``GUILD_ROLE_UPDATE`` for moved roles)."""
        pos = 1 if position is None else max(1, position)
        moved = []
        for other in self.roles.values():
            if not other.is_default and other.position >= pos:
                other.position += 1
                moved.append(other)
        role = FakeRole(
            id=self.host._new_id(),
            guild=self,
            name=name,
            permissions=int(permissions),
            position=pos,
            color=color,
            hoist=hoist,
            mentionable=mentionable,
            managed=managed,
            bot_id=bot_id,
        )
        self.roles[role.id] = role
        self._emit("GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.payload()})
        if position is not None:
            # Discord creates every role at the bottom (clients shift all others up by one on
            # GUILD_ROLE_CREATE) and then moves it: the roles below the new one come back
            # down, and Discord sends their GUILD_ROLE_UPDATE too.
            moved += [other for other in self.roles.values()
                      if other is not role and not other.is_default and other not in moved]
        for other in moved:
            self._emit("GUILD_ROLE_UPDATE", {"guild_id": str(self.id), "role": other.payload()})
        return role

    def update_role(self, role: FakeRole, **changes: Any) -> FakeRole:
        """Change role attributes (``name``, ``permissions``, ``color``...); emits
        ``GUILD_ROLE_UPDATE``."""
        for key, value in changes.items():
            if not hasattr(role, key) or key in ("id", "guild"):
                raise AttributeError(f"FakeRole has no editable attribute {key!r}")
            setattr(role, key, int(value) if key == "permissions" else value)
        self._emit("GUILD_ROLE_UPDATE", {"guild_id": str(self.id), "role": role.payload()})
        return role

    def remove_role(self, role: FakeRole) -> None:
        """Delete a role (members lose it); emits ``GUILD_ROLE_DELETE``."""
        if role.is_default:
            raise ValueError("the @everyone role cannot be deleted")
        self.roles.pop(role.id, None)
        for member in self.members.values():
            if member.has_role(role):
                member.roles = [r for r in member.roles if r.id != role.id]
        self._emit("GUILD_ROLE_DELETE", {"guild_id": str(self.id), "role_id": str(role.id)})

    def _admin_role(self) -> FakeRole:
        role = self.role_named("Admin")
        if role is None:
            role = self.add_role("Admin", ADMIN_ROLE_PERMISSIONS, hoist=True)
        return role

    # -- members -----------------------------------------------------------------------------

    def add_member(
        self,
        name: str | FakeUser,
        roles: Iterable[FakeRole] = (),
        *,
        admin: bool = False,
        bot: bool = False,
        nick: str | None = None,
        global_name: str | None = None,
    ) -> FakeMember:
        """Add a member (a new user named ``name``, or an existing :class:`FakeUser` to share
        one user between guilds). ``admin=True`` also grants the guild's "Admin" role
        (ADMINISTRATOR | MANAGE_GUILD | MANAGE_ROLES). Emits ``GUILD_MEMBER_ADD``."""
        if isinstance(name, FakeUser):
            user = name
        else:
            user = FakeUser(id=self.host._new_id(), username=name, bot=bot, global_name=global_name)
        if user.id in self.members:
            raise ValueError(f"{user!r} is already a member of guild {self.id}")
        role_list = [r for r in roles if not r.is_default]
        if admin:
            admin_role = self._admin_role()
            if admin_role not in role_list:
                role_list.append(admin_role)
        for role in role_list:
            if role.guild is not self:
                raise ValueError(f"{role!r} belongs to another guild")
        member = FakeMember(user=user, guild=self, roles=role_list, nick=nick)
        self.members[user.id] = member
        self._emit("GUILD_MEMBER_ADD", {"guild_id": str(self.id), **member.payload()})
        return member

    def remove_member(self, member: FakeMember) -> None:
        """Remove a member (leave/kick); emits ``GUILD_MEMBER_REMOVE``."""
        if self.members.pop(member.id, None) is None:
            return
        self.host._member_removed(self, member)
        self._emit("GUILD_MEMBER_REMOVE", {"guild_id": str(self.id), "user": member.user.payload()})

    def member_updated(self, member: FakeMember) -> None:
        """Emit ``GUILD_MEMBER_UPDATE`` after changing a member's attributes directly."""
        self._emit("GUILD_MEMBER_UPDATE", {"guild_id": str(self.id), **member.payload()})

    def add_member_role(self, member: FakeMember, role: FakeRole) -> None:
        """Give ``member`` a role; emits ``GUILD_MEMBER_UPDATE``."""
        if not member.has_role(role) and not role.is_default:
            member.roles.append(role)
            self.member_updated(member)

    def remove_member_role(self, member: FakeMember, role: FakeRole) -> None:
        """Take a role from ``member``; emits ``GUILD_MEMBER_UPDATE``."""
        if member.has_role(role):
            member.roles = [r for r in member.roles if r.id != role.id]
            self.member_updated(member)

    # -- channels ----------------------------------------------------------------------------

    def _next_position(self, ctype: int) -> int:
        same = [c.position for c in self.channels.values() if c.type == ctype]
        return max(same, default=-1) + 1

    def _add_channel(self, name: str, ctype: int, **attrs: Any) -> FakeChannel:
        channel = FakeChannel(
            id=self.host._new_id(),
            host=self.host,
            guild=self,
            name=name,
            type=ctype,
            position=attrs.pop("position", None) or self._next_position(ctype),
            **attrs,
        )
        self.channels[channel.id] = channel
        self._emit("CHANNEL_CREATE", channel.payload())
        return channel

    def add_text_channel(
        self,
        name: str,
        *,
        category: FakeChannel | None = None,
        topic: str | None = None,
        nsfw: bool = False,
        position: int | None = None,
    ) -> FakeChannel:
        """Create a text channel; emits ``CHANNEL_CREATE``."""
        return self._add_channel(
            name,
            ChannelType.GUILD_TEXT,
            parent_id=category.id if category else None,
            topic=topic,
            nsfw=nsfw,
            position=position,
        )

    def add_voice_channel(
        self,
        name: str,
        *,
        category: FakeChannel | None = None,
        user_limit: int = 0,
        bitrate: int = 64000,
        position: int | None = None,
    ) -> FakeChannel:
        """Create a voice channel; emits ``CHANNEL_CREATE``."""
        return self._add_channel(
            name,
            ChannelType.GUILD_VOICE,
            parent_id=category.id if category else None,
            user_limit=user_limit,
            bitrate=bitrate,
            position=position,
        )

    def add_category(self, name: str, *, position: int | None = None) -> FakeChannel:
        """Create a category channel; emits ``CHANNEL_CREATE``."""
        return self._add_channel(name, ChannelType.GUILD_CATEGORY, position=position)

    def remove_channel(self, channel: FakeChannel) -> None:
        """Delete a channel; emits ``CHANNEL_DELETE`` (``THREAD_DELETE`` for threads)."""
        if self.channels.pop(channel.id, None) is None:
            return
        if channel.is_thread:
            self._emit(
                "THREAD_DELETE",
                {
                    "id": str(channel.id),
                    "guild_id": str(self.id),
                    "parent_id": str(channel.parent_id),
                    "type": channel.type,
                },
            )
        else:
            self._emit("CHANNEL_DELETE", channel.payload())

    def set_permission_overwrite(
        self,
        channel: FakeChannel,
        target: FakeRole | FakeMember,
        *,
        allow: int = 0,
        deny: int = 0,
    ) -> None:
        """Set ``channel``'s overwrite for a role or member; emits ``CHANNEL_UPDATE``."""
        kind = 0 if isinstance(target, FakeRole) else 1
        channel.permission_overwrites = [
            o for o in channel.permission_overwrites if int(o["id"]) != target.id
        ]
        if allow or deny:
            channel.permission_overwrites.append(
                {
                    "id": str(target.id),
                    "type": kind,
                    "allow": str(int(allow)),
                    "deny": str(int(deny)),
                }
            )
        self._emit("CHANNEL_UPDATE", channel.payload())

    def channel_updated(self, channel: FakeChannel) -> None:
        """Emit ``CHANNEL_UPDATE`` (``THREAD_UPDATE``) after changing a channel directly."""
        self._emit("THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE", channel.payload())

    # -- payloads ----------------------------------------------------------------------------

    def payload(self) -> dict[str, Any]:
        """The REST guild object JSON (``GET /guilds/{id}``)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.text_channel.id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
            "approximate_member_count": len(self.members),
            "approximate_presence_count": 0,
        }

    def gateway_payload(self, *, all_members: bool) -> dict[str, Any]:
        """The ``GUILD_CREATE`` JSON. Without the GUILD_MEMBERS intent (``all_members=False``)
        only the bot and members in voice are included, as on Discord."""
        data = self.payload()
        if all_members:
            members = list(self.members.values())
        else:
            wanted = {self.host.bot_user.id, *self.voice_states}
            members = [m for m in self.members.values() if m.id in wanted]
        bot_member = self.members.get(self.host.bot_user.id)
        data.update(
            joined_at=bot_member.joined_at if bot_member else iso_now(),
            large=len(self.members) >= 250,
            unavailable=False,
            member_count=len(self.members),
            members=[m.payload() for m in members],
            channels=[c.payload() for c in self.channels.values() if not c.is_thread],
            threads=[c.payload() for c in self.channels.values() if c.is_thread and not c.archived],
            voice_states=[dict(v) for v in self.voice_states.values()],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        return data

    def __repr__(self) -> str:
        return f"<FakeGuild id={self.id} name={self.name!r} members={len(self.members)}>"
