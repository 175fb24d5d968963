"""Channels an admin marked as 21+: where other plugins may post 21+ content publicly.

A mark alone proves nothing: the channel counts as adults-only only while its permission
overwrites keep everyone without the verified role out. That is checked when the mark is added
(the admin is told exactly what to change) and again, from the gateway cache, every time a
plugin asks, so a later overwrite change takes effect at once. Anything that cannot be proven
(no verified role, an overwrite for a role not in the cache, an error) counts as "not adults-only".

What is checked, as Discord computes a member's View Channel in a channel:
- @everyone, with its server permissions and the channel's @everyone overwrite, lacks it;
- every other role, on its own with @everyone, lacks it, except the verified role, the bot's
  own managed role and roles with Administrator (Discord shows every channel to those; staff
  must give Administrator only to verified adults: the README says so);
- every member overwrite that allows it belongs to a member verified 21+ in this server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import nextcord

from bot.api import GuildCache, GuildConfig
from plugins.compliance.models import AdultChannel, GuildSettings

VIEW = 1 << 10  # VIEW_CHANNEL
ADMINISTRATOR = 1 << 3
ROLE, MEMBER = 0, 1
# Discord's message limit is 2,000 characters; a long list of problems is cut to fit.
MAX_PROBLEMS_SHOWN = 10

IsVerified = Callable[[int, int], Awaitable[bool]]


def target_channel(channel: Any) -> Any:
    """A thread is readable by whoever can read its parent: judge the parent."""
    if isinstance(channel, nextcord.Thread):
        return channel.parent
    return channel


async def marked_channels(guild_id: int) -> frozenset[int]:
    """The channels an admin marked as 21+ in this guild (a guild config value)."""
    ids: list[Any] = await AdultChannel.filter(guild_id=guild_id).values_list("channel_id",
                                                                            flat=True)
    return frozenset(int(i) for i in ids)


class AdultChannels:
    def __init__(self, settings: GuildConfig[GuildSettings], is_verified: IsVerified,
                 marked: GuildCache[frozenset[int]] | None = None) -> None:
        self.settings = settings
        self.is_verified = is_verified
        # Asked for every 21+ post, so cached under the core's guild config policy; setup
        # passes the store's cache, the default serves a plugin not yet set up.
        self._marked = marked or GuildCache(marked_channels, plugin="compliance",
                                            table="adult_channels")

    async def marked(self, guild_id: int) -> frozenset[int]:
        return await self._marked.get(guild_id)

    async def mark(self, guild_id: int, channel_id: int) -> bool:
        """Returns False when it was already marked."""
        _row, created = await AdultChannel.get_or_create(channel_id=channel_id,
                                                         defaults={"guild_id": guild_id})
        self._marked.changed(guild_id)
        return created

    async def unmark(self, guild_id: int, channel_id: int) -> bool:
        removed = await AdultChannel.filter(guild_id=guild_id, channel_id=channel_id).delete()
        self._marked.changed(guild_id)
        return bool(removed)

    async def is_adults_only(self, channel: Any) -> bool:
        """The age-gate provider's answer for a channel or thread; fails closed."""
        try:
            target = target_channel(channel)
            guild = getattr(target, "guild", None)
            if target is None or guild is None:
                return False
            if target.id not in await self.marked(guild.id):
                return False
            return not await self.problems(target)
        except Exception:
            return False

    async def problems(self, channel: Any) -> list[str]:
        """What lets someone without the verified role read `channel`; empty when nothing."""
        guild = channel.guild
        settings = await self.settings.get(guild.id)
        verified_role = guild.get_role(settings.verified_role_id or 0)
        if verified_role is None:
            return ["No verified role is set (or it was deleted): set one with "
                    "`/verification settings verified_role:`, so the bot knows who is 21+."]
        overwrites = {int(ow.id): ow for ow in getattr(channel, "_overwrites", [])}
        everyone_ow = overwrites.get(guild.id)
        found: list[str] = []

        def can_view(base: int, allow: int = 0, deny: int = 0) -> bool:
            # Discord's order: server permissions, then the @everyone overwrite, then roles.
            view = bool(base & VIEW)
            if everyone_ow is not None:
                view = (view and not everyone_ow.deny & VIEW) or bool(everyone_ow.allow & VIEW)
            return (view and not deny & VIEW) or bool(allow & VIEW)

        everyone = guild.default_role.permissions.value
        if can_view(everyone):
            found.append("@everyone can view it: deny **View Channel** for @everyone.")
        for role in guild.roles:
            if role.is_default() or role.id == verified_role.id:
                continue
            if role.permissions.administrator or role.is_bot_managed():
                continue
            ow = overwrites.get(role.id)
            if can_view(everyone | role.permissions.value, ow.allow if ow else 0,
                        ow.deny if ow else 0):
                how = ("its overwrite allows View Channel" if ow and ow.allow & VIEW
                       else "its server permissions include View Channel")
                found.append(f"Role <@&{role.id}> can view it ({how}): deny **View Channel** "
                             "for it here, or remove its allow.")
        known_roles = {r.id for r in guild.roles}
        me = guild.me.id if guild.me is not None else None
        for target_id, ow in overwrites.items():
            if ow.type == ROLE and target_id != guild.id and target_id not in known_roles:
                found.append(f"An overwrite names an unknown role ({target_id}); remove it.")
            elif ow.type == MEMBER and ow.allow & VIEW and target_id != me:
                if not await self.is_verified(guild.id, target_id):
                    found.append(f"<@{target_id}> is allowed View Channel by a member "
                                 "overwrite but is not verified 21+: remove that overwrite.")
        return found


def describe(problems: list[str]) -> str:
    shown = problems[:MAX_PROBLEMS_SHOWN]
    more = len(problems) - len(shown)
    text = "\n".join(f"• {p}" for p in shown)
    if more:
        text += f"\n…and {more} more."
    return text
