"""Event listeners (the core only calls them in guilds where compliance is on) and voice XP."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


class RoleIds:
    """A message author's role ids, read only when an XP rule needs them: nextcord's
    Member.roles looks up and sorts every role, on every message, and most servers set no
    role rules."""

    __slots__ = ("_author", "_ids")

    def __init__(self, author: nextcord.Member | nextcord.User) -> None:
        self._author = author
        self._ids: Sequence[int] | None = None

    def __iter__(self) -> Iterator[int]:
        if self._ids is None:
            # nextcord keeps the ids the gateway sent in Member._roles; Member.roles builds
            # and sorts Role objects from them. The public form is the fallback.
            raw = getattr(self._author, "_roles", None)
            self._ids = (raw if raw is not None
                         else [role.id for role in getattr(self._author, "roles", [])])
        return iter(self._ids)


class ComplianceListeners(commands.Cog, name="compliance.listeners"):
    def __init__(self, plugin: CompliancePlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @commands.Cog.listener()
    async def on_message(self, message: nextcord.Message) -> None:
        if message.guild is None or message.author.bot:
            return
        parent = getattr(message.channel, "parent_id", None)
        await self.plugin.xp.on_message(message.guild.id, message.author.id, message.channel.id,
                                        RoleIds(message.author), is_bot=message.author.bot,
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
            rules = self.plugin.xp.rules(guild.id, settings)
            excluded = rules.excluded_channels
            now = self.plugin.xp.clock()
            for channel in guild.voice_channels + guild.stage_channels:
                if channel.id in excluded:
                    continue
                for user_id in voice_earners(channel):
                    # The same multipliers as for messages (a ×0 AFK channel earns nothing).
                    member = guild.get_member(user_id)
                    roles = RoleIds(member) if member is not None else ()
                    amount = round(settings.voice_xp_per_minute
                                   * rules.multipliers.factor(roles, channel.id, None, now))
                    if amount <= 0:
                        continue
                    await self.plugin.xp.add(guild.id, user_id, amount)
                    awarded += 1
        return awarded

    def start(self) -> None:
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()
