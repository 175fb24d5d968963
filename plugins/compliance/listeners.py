"""Event listeners (the core only calls them in guilds where compliance is on) and voice XP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import nextcord
import structlog
from nextcord.ext import commands

from bot.api import PeriodicTask
from plugins.compliance.discord_actions import add_role, apply_rewards
from plugins.compliance.models import VERIFIED, MemberRecord

if TYPE_CHECKING:
    from bot.api import PluginContext
    from plugins.compliance.plugin import CompliancePlugin

log = structlog.get_logger("plugins.compliance")

VOICE_TICK_SECONDS = 60.0


class ComplianceListeners(commands.Cog, name="compliance.listeners"):
    def __init__(self, plugin: CompliancePlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @commands.Cog.listener()
    async def on_message(self, message: nextcord.Message) -> None:
        if message.guild is None or message.author.bot:
            return
        roles = [r.id for r in getattr(message.author, "roles", [])]
        parent = getattr(message.channel, "parent_id", None)
        await self.plugin.xp.on_message(message.guild.id, message.author.id, message.channel.id,
                                        roles, is_bot=message.author.bot,
                                        parent_channel_id=parent)

    @commands.Cog.listener()
    async def on_member_join(self, member: nextcord.Member) -> None:
        """A verified member who left and came back gets the verified and reward roles again."""
        if member.bot:
            return
        row = await MemberRecord.get_or_none(guild_id=member.guild.id, user_id=member.id)
        if row is None:
            return
        settings = await self.plugin.settings.get(member.guild.id)
        if row.status == VERIFIED and row.is_21_plus:
            await add_role(self.ctx, member.guild.id, member.id, settings.verified_role_id,
                           "Verified 21+ (rejoined)")
            await self.ctx.services.audit.record(
                "verification.role_reapplied", guild_id=member.guild.id, actor_id=None,
                target=member.id)
        if row.level > 0:
            await apply_rewards(self.ctx, self.plugin.settings, member.guild.id, member.id,
                                row.level)


def voice_earners(channel: nextcord.VoiceChannel | nextcord.StageChannel) -> list[int]:
    """Members earning voice XP here: at least two humans present, not self-muted/deafened."""
    humans = [m for m in channel.members if not m.bot]
    if len(humans) < 2:
        return []
    earners = []
    for member in humans:
        state = member.voice
        if state is None or state.self_mute or state.self_deaf or state.mute or state.deaf:
            continue
        earners.append(member.id)
    return earners


class VoiceXpTicker:
    """Awards voice XP once a minute; runs as a background task owned by the plugin."""

    def __init__(self, plugin: CompliancePlugin, ctx: PluginContext,
                 interval: float = VOICE_TICK_SECONDS) -> None:
        self.plugin = plugin
        self.ctx = ctx
        self.interval = interval
        self._ticker = PeriodicTask("compliance-voice-xp", interval, self.tick)

    async def tick(self) -> int:
        """One minute of voice XP in every guild where compliance is on; returns awards."""
        awarded = 0
        for guild in list(self.ctx.bot.guilds):
            if not await self.ctx.services.toggles.is_enabled(guild.id, self.ctx.name):
                continue
            settings = await self.plugin.settings.get(guild.id)
            if settings.voice_xp_per_minute <= 0:
                continue
            excluded = set(settings.excluded_channel_ids or ())
            rules = self.plugin.xp.multipliers(guild.id, settings)
            now = self.plugin.xp.clock()
            for channel in guild.voice_channels + guild.stage_channels:
                if channel.id in excluded:
                    continue
                for user_id in voice_earners(channel):
                    # The same multipliers as for messages (a ×0 AFK channel earns nothing).
                    member = guild.get_member(user_id)
                    roles = [r.id for r in member.roles] if member is not None else []
                    amount = round(settings.voice_xp_per_minute
                                   * rules.factor(roles, channel.id, None, now))
                    if amount <= 0:
                        continue
                    await self.plugin.xp.add(guild.id, user_id, amount)
                    awarded += 1
        return awarded

    def start(self) -> None:
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()
