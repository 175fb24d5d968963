"""Discord permission bits and the permission computation real Discord performs."""

from __future__ import annotations

import enum
from functools import reduce
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .world import FakeChannel, FakeMember

__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "Permission",
    "base_permissions",
    "channel_permissions",
]


class Permission(enum.IntFlag):
    """Discord permission bit flags (API v10)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    PRIORITY_SPEAKER = 1 << 8
    STREAM = 1 << 9
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    VIEW_GUILD_INSIGHTS = 1 << 19
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    MUTE_MEMBERS = 1 << 22
    DEAFEN_MEMBERS = 1 << 23
    MOVE_MEMBERS = 1 << 24
    USE_VAD = 1 << 25
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    REQUEST_TO_SPEAK = 1 << 32
    MANAGE_EVENTS = 1 << 33
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    USE_EXTERNAL_STICKERS = 1 << 37
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EMBEDDED_ACTIVITIES = 1 << 39
    MODERATE_MEMBERS = 1 << 40
    VIEW_CREATOR_MONETIZATION_ANALYTICS = 1 << 41
    USE_SOUNDBOARD = 1 << 42
    CREATE_GUILD_EXPRESSIONS = 1 << 43
    CREATE_EVENTS = 1 << 44
    USE_EXTERNAL_SOUNDS = 1 << 45
    SEND_VOICE_MESSAGES = 1 << 46
    SEND_POLLS = 1 << 49
    USE_EXTERNAL_APPS = 1 << 50


#: Every permission bit.
ALL_PERMISSIONS: int = reduce(lambda acc, p: acc | int(p), Permission, 0)

P = Permission

#: What a new guild's @everyone role gets.
DEFAULT_EVERYONE_PERMISSIONS: int = int(
    P.CREATE_INSTANT_INVITE
    | P.ADD_REACTIONS
    | P.STREAM
    | P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.EMBED_LINKS
    | P.ATTACH_FILES
    | P.READ_MESSAGE_HISTORY
    | P.MENTION_EVERYONE
    | P.USE_EXTERNAL_EMOJIS
    | P.CONNECT
    | P.SPEAK
    | P.USE_VAD
    | P.CHANGE_NICKNAME
    | P.USE_APPLICATION_COMMANDS
    | P.REQUEST_TO_SPEAK
    | P.CREATE_PUBLIC_THREADS
    | P.CREATE_PRIVATE_THREADS
    | P.USE_EXTERNAL_STICKERS
    | P.SEND_MESSAGES_IN_THREADS
    | P.USE_EMBEDDED_ACTIVITIES
    | P.SEND_VOICE_MESSAGES
    | P.SEND_POLLS
    | P.USE_EXTERNAL_APPS
)

#: The bot's managed role by default: what a typical invite link for a moderation/music bot asks
#: for. Not ADMINISTRATOR, so permission and role-hierarchy mistakes surface in tests.
DEFAULT_BOT_PERMISSIONS: int = int(
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.SEND_MESSAGES_IN_THREADS
    | P.CREATE_PUBLIC_THREADS
    | P.CREATE_PRIVATE_THREADS
    | P.MANAGE_THREADS
    | P.EMBED_LINKS
    | P.ATTACH_FILES
    | P.READ_MESSAGE_HISTORY
    | P.ADD_REACTIONS
    | P.USE_EXTERNAL_EMOJIS
    | P.MANAGE_MESSAGES
    | P.MANAGE_ROLES
    | P.MANAGE_NICKNAMES
    | P.MODERATE_MEMBERS
    | P.KICK_MEMBERS
    | P.CONNECT
    | P.SPEAK
    | P.USE_VAD
    | P.MOVE_MEMBERS
    | P.MUTE_MEMBERS
    | P.DEAFEN_MEMBERS
    | P.USE_APPLICATION_COMMANDS
)

del P


def base_permissions(member: FakeMember) -> int:
    """Guild-level permissions of ``member`` (owner and ADMINISTRATOR get everything)."""
    guild = member.guild
    if guild.owner_id == member.id:
        return ALL_PERMISSIONS
    perms = guild.everyone.permissions
    for role in member.roles:
        perms |= role.permissions
    if perms & Permission.ADMINISTRATOR:
        return ALL_PERMISSIONS
    return perms


def channel_permissions(member: FakeMember, channel: FakeChannel | None) -> int:
    """Permissions of ``member`` in ``channel`` after permission overwrites.

    Threads use their parent's overwrites, as on Discord.
    """
    perms = base_permissions(member)
    if channel is None or perms & Permission.ADMINISTRATOR:
        return perms
    source = channel
    if channel.is_thread and channel.parent is not None:
        source = channel.parent
    overwrites = {int(o["id"]): o for o in source.permission_overwrites}
    everyone = overwrites.get(member.guild.id)
    if everyone is not None:
        perms &= ~int(everyone.get("deny", 0))
        perms |= int(everyone.get("allow", 0))
    allow = deny = 0
    for role in member.roles:
        ow = overwrites.get(role.id)
        if ow is not None and int(ow.get("type", 0)) == 0:
            allow |= int(ow.get("allow", 0))
            deny |= int(ow.get("deny", 0))
    perms &= ~deny
    perms |= allow
    own = overwrites.get(member.id)
    if own is not None and int(own.get("type", 1)) == 1:
        perms &= ~int(own.get("deny", 0))
        perms |= int(own.get("allow", 0))
    if not perms & Permission.VIEW_CHANNEL:
        return 0
    # A private thread is visible only to its members and to those who manage threads.
    if (
        channel.type == 12
        and member.id not in channel.thread_member_ids
        and not perms & Permission.MANAGE_THREADS
    ):
        return 0
    return perms
