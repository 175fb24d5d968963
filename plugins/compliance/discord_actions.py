"""What the plugin does to Discord itself: roles and level-up announcements.

Role changes go through the REST API by id, so they work for members not in the cache. A
missing permission is logged and reported, never raised into a flush or a listener.
"""

from __future__ import annotations

import nextcord
import structlog

from bot.api import GuildConfig, PluginContext
from plugins.compliance.levels import reward_changes, reward_roles
from plugins.compliance.levelup_messages import render
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
        text = render(config.levelup_template, event.user_id, event.new_level, event.tier)
        # Only the member who levelled up may be pinged, whatever the template says.
        allowed = nextcord.AllowedMentions(everyone=False, roles=False,
                                           users=[nextcord.Object(event.user_id)],
                                           replied_user=False)
        destination: nextcord.abc.Messageable | None
        try:
            if config.levelup_dm:
                destination = (ctx.bot.get_user(event.user_id)
                               or await ctx.bot.fetch_user(event.user_id))
            else:
                channel_id = config.levelup_channel_id or event.channel_id
                found = ctx.bot.get_channel(channel_id) if channel_id else None
                destination = found if isinstance(found, nextcord.abc.Messageable) else None
            if destination is not None:
                await destination.send(text, allowed_mentions=allowed)
        except nextcord.HTTPException as exc:
            # A member with DMs closed (50007) or a channel we lost access to: logged only.
            log.warning("compliance.levelup_announce_failed", status=exc.status, code=exc.code)


async def reevaluate_rewards(ctx: PluginContext, settings: GuildConfig[GuildSettings],
                             guild_id: int, user_id: int, level: int) -> None:
    """After an admin changed a member's XP: give the rewards now reached, take the others."""
    config = await settings.get(guild_id)
    if not config.role_rewards:
        return
    give, take = reward_changes(config.role_rewards, level, stack=config.reward_mode == STACK)
    for role_id in sorted(give):
        await add_role(ctx, guild_id, user_id, role_id, f"Level {level} reward (XP changed)")
    for role_id in sorted(take):
        await remove_role(ctx, guild_id, user_id, role_id, f"Now level {level} (XP changed)")
