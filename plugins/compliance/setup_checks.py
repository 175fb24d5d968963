"""Checks made when an admin configures something the bot must act on later: a role it must
give (the verified role, level rewards) and the channel it posts review requests in. A
setting the bot could not use is refused at once, saying how to fix it, instead of failing
later with a 403 in front of a member."""

from __future__ import annotations

from typing import Any

import nextcord

from bot.api import UserError


def _me(guild: nextcord.Guild) -> Any:
    me = guild.me
    if me is None:
        raise UserError("I can't check my own roles in this server right now; try again in "
                        "a minute.")
    return me


def role_problem(guild: nextcord.Guild, role: nextcord.Role) -> str | None:
    """Why the bot could not give `role`, with the fix; None when it can."""
    me = _me(guild)
    cached = guild.get_role(role.id) or role
    if cached.is_default():
        return "@everyone can't be given; pick another role."
    if cached.managed:
        return (f"<@&{cached.id}> is managed by an integration (a bot or a subscription); "
                "Discord lets nobody give it. Pick or create an ordinary role.")
    if not me.guild_permissions.manage_roles:
        return ("I don't have the **Manage Roles** permission, so I can't give any role. "
                "Fix: Server Settings → Roles → my role "
                f"(<@&{me.top_role.id}>) → turn on Manage Roles, then run this again.")
    if cached >= me.top_role:
        return (f"<@&{cached.id}> sits at or above my highest role <@&{me.top_role.id}>, and "
                "Discord only lets a bot give roles below its own. Fix: Server Settings → "
                f"Roles → drag <@&{me.top_role.id}> above <@&{cached.id}>, then run this "
                "again.")
    return None


# What the bot needs in the review channel: see it, post the request, and attach buttons
# (no embeds, files or mentions need more).
REVIEW_PERMISSIONS = {"view_channel": "View Channel", "send_messages": "Send Messages",
                      "read_message_history": "Read Message History"}


def channel_problem(guild: nextcord.Guild, channel: Any) -> str | None:
    """Why the bot could not post review requests in `channel`, with the fix; None if it can."""
    me = _me(guild)
    cached = guild.get_channel(channel.id)
    if cached is None:
        return (f"I can't see <#{channel.id}>. Fix: give my role View Channel and Send "
                "Messages there, then run this again.")
    perms = cached.permissions_for(me)
    missing = [name for flag, name in REVIEW_PERMISSIONS.items() if not getattr(perms, flag)]
    if missing:
        return (f"I can't post review requests in <#{channel.id}>: I lack "
                f"{', '.join(missing)} there. Fix: in the channel's permissions, allow them "
                f"for my role <@&{me.top_role.id}>, then run this again.")
    return None


def require_grantable(guild: nextcord.Guild | None, role: nextcord.Role, purpose: str) -> None:
    if guild is None:
        return
    problem = role_problem(guild, role)
    if problem:
        raise UserError(f"Not saved: I could not give <@&{role.id}> {purpose}. {problem}")


def require_postable(guild: nextcord.Guild | None, channel: Any) -> None:
    if guild is None:
        return
    problem = channel_problem(guild, channel)
    if problem:
        raise UserError(f"Not saved: {problem}")
