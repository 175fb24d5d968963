"""What the plugin does to Discord itself: roles and level-up announcements.

Role changes go through the REST API by id, so they work for members not in the cache. A
missing permission is logged and reported, never raised into a flush or a listener.
"""

from __future__ import annotations

import nextcord
import structlog

from bot.api import GuildConfig, PluginContext
from plugins.compliance.levels import reward_roles
from plugins.compliance.models import STACK, GuildSettings
from plugins.compliance.xp import LevelUp

log = structlog.get_logger("plugins.compliance")


async def add_role(ctx: PluginContext, guild_id: int, user_id: int, role_id: int | None,
                   reason: str) -> bool:
    if role_id is None:
        return True
    try:
        await ctx.bot.http.add_role(guild_id, user_id, role_id, reason=reason)
        return True
    except nextcord.HTTPException as exc:
        log.warning("compliance.role_add_failed", guild_id=guild_id, role_id=role_id,
                    status=exc.status, code=exc.code)
        return False


async def remove_role(ctx: PluginContext, guild_id: int, user_id: int, role_id: int | None,
                      reason: str) -> bool:
    if role_id is None:
        return True
    try:
        await ctx.bot.http.remove_role(guild_id, user_id, role_id, reason=reason)
        return True
    except nextcord.HTTPException as exc:
        log.warning("compliance.role_remove_failed", guild_id=guild_id, role_id=role_id,
                    status=exc.status, code=exc.code)
        return False


async def apply_rewards(ctx: PluginContext, settings: GuildConfig[GuildSettings],
                        guild_id: int, user_id: int, level: int) -> None:
    config = await settings.get(guild_id)
    if not config.role_rewards:
        return
    keep, drop = reward_roles(config.role_rewards, level, stack=config.reward_mode == STACK)
    for role_id in sorted(keep):
        await add_role(ctx, guild_id, user_id, role_id, f"Level {level} reward")
    for role_id in sorted(drop):
        # Not checked against the member cache, which may lag the role just added; removing
        # a role the member does not hold is a no-op for Discord.
        await remove_role(ctx, guild_id, user_id, role_id, "Replaced by a higher reward")


async def announce_level_ups(ctx: PluginContext, settings: GuildConfig[GuildSettings],
                             level_ups: list[LevelUp]) -> None:
    for event in level_ups:
        await apply_rewards(ctx, settings, event.guild_id, event.user_id, event.new_level)
        config = await settings.get(event.guild_id)
        if not config.levelup_announce:
            continue
        channel_id = config.levelup_channel_id or event.channel_id
        channel = ctx.bot.get_channel(channel_id) if channel_id else None
        if not isinstance(channel, nextcord.abc.Messageable):
            continue
        try:
            # The mention shows who it is; the bot's allowed_mentions keep it from pinging.
            await channel.send(f"🎉 <@{event.user_id}> reached **level {event.new_level}** "
                               f"({event.tier})!")
        except nextcord.HTTPException as exc:
            log.warning("compliance.levelup_announce_failed", status=exc.status)
