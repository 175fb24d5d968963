"""/levels: XP and level settings and the admin tools (Manage Server) — XP changes, resets,
multipliers, boosts, level-up messages, MEE6 import/export, the server's rank card style.

Its own cog, holding the whole `/levels` group: nextcord attaches subcommands to the cog that
defines their group, so the group cannot be split across cogs. Slash commands translate
interactions into service calls, nothing more.
"""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import nextcord
from nextcord.ext import commands

from bot.api import GUILD_ONLY, PluginContext, UserError, guild_of, requires_permissions, user_of
from plugins.compliance.attachments import read_checked
from plugins.compliance.discord_actions import reevaluate_rewards
from plugins.compliance.levels_callbacks import IMPORT, RESET_ALL
from plugins.compliance.levelup_messages import DESTINATIONS, levelup_changes
from plugins.compliance.levelup_messages import describe as describe_levelup
from plugins.compliance.mee6_import import check_size, dry_run, leaderboard_csv, parse
from plugins.compliance.models import SERVER_DEFAULT_STYLE, STACK, MemberRecord
from plugins.compliance.multipliers import (
    MAX_FACTOR,
    Multipliers,
    boost_end,
    checked_factor,
    with_factor,
)
from plugins.compliance.rank_card_cog import (
    SERVER_NOTE,
    accent_option,
    answer_style_change,
    background_option,
    reset_option,
)
from plugins.compliance.setup_checks import require_grantable
from plugins.compliance.xp_admin import MAX_TOTAL_XP

if TYPE_CHECKING:
    from plugins.compliance.plugin import CompliancePlugin

MANAGE_GUILD = nextcord.Permissions(manage_guild=True)


# Options shared by the /levels xp subcommands (a fresh object per command).
def _member() -> nextcord.Member:
    return nextcord.SlashOption(description="Member")


def _amount(low: int) -> int:
    return nextcord.SlashOption(
        min_value=low, max_value=MAX_TOTAL_XP, description="XP (at most 1,000,000,000)")


def _reason() -> str:
    return nextcord.SlashOption(
        description="Why (kept with the audit entry; deletable)", max_length=300)


class LevelsCog(commands.Cog, name="compliance.levels"):
    def __init__(self, plugin: CompliancePlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @nextcord.slash_command(name="levels", description="XP and level settings (Manage Server)",
                            contexts=GUILD_ONLY, default_member_permissions=MANAGE_GUILD)
    async def levels(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @levels.subcommand(name="settings", description="Show or change XP settings")
    @requires_permissions(manage_guild=True)
    async def levels_settings(
        self, interaction: nextcord.Interaction,
        announce: bool = nextcord.SlashOption(description="Announce level-ups", required=False),
        announce_channel: nextcord.TextChannel = nextcord.SlashOption(
            description="Where to announce (default: where they chatted)", required=False),
        xp_min: int = nextcord.SlashOption(required=False, min_value=0, max_value=1000,
                                           description="Least XP per message"),
        xp_max: int = nextcord.SlashOption(required=False, min_value=0, max_value=1000,
                                           description="Most XP per message"),
        cooldown_seconds: int = nextcord.SlashOption(required=False, min_value=0,
                                                     max_value=3600,
                                                     description="Seconds between awards"),
        voice_xp_per_minute: int = nextcord.SlashOption(required=False, min_value=0,
                                                        max_value=1000,
                                                        description="Voice XP per minute"),
        reward_mode: str = nextcord.SlashOption(required=False, description="Role rewards",
                                                choices={"Stack": STACK, "Replace": "replace"}),
        exclude_channel: nextcord.TextChannel = nextcord.SlashOption(
            required=False, description="Toggle: no XP in this channel"),
        exclude_role: nextcord.Role = nextcord.SlashOption(
            required=False, description="Toggle: no XP for this role"),
    ) -> None:
        guild_id = guild_of(interaction)
        current = await self.plugin.settings.get(guild_id)
        changes: dict[str, object] = {}
        for key, value in (("levelup_announce", announce), ("xp_min", xp_min),
                           ("xp_max", xp_max), ("xp_cooldown_seconds", cooldown_seconds),
                           ("voice_xp_per_minute", voice_xp_per_minute),
                           ("reward_mode", reward_mode)):
            if value is not None:
                changes[key] = value
        if announce_channel is not None:
            changes["levelup_channel_id"] = announce_channel.id
        for key, item in (("excluded_channel_ids", exclude_channel),
                          ("excluded_role_ids", exclude_role)):
            if item is not None:
                ids = list(getattr(current, key) or [])
                changes[key] = [i for i in ids if i != item.id] if item.id in ids else [
                    *ids, item.id]
        if changes:
            await self.plugin.settings.update(guild_id, **changes)
            await self.ctx.services.audit.record("levels.settings_changed", guild_id=guild_id,
                                                 actor_id=user_of(interaction), details=changes)
        await self._show_settings(interaction, "Saved. " if changes else "")

    async def _show_settings(self, interaction: nextcord.Interaction, prefix: str) -> None:
        s = await self.plugin.settings.get(guild_of(interaction))
        where = f"<#{s.levelup_channel_id}>" if s.levelup_channel_id else "where they chat"
        text = (f"{prefix}XP per message: {s.xp_min}–{s.xp_max}, every "
                f"{s.xp_cooldown_seconds} s · voice: {s.voice_xp_per_minute}/min · "
                f"announcements: {'on, ' + where if s.levelup_announce else 'off'} · rewards: "
                f"{s.reward_mode} {s.role_rewards or 'none'} · excluded channels: "
                f"{len(s.excluded_channel_ids)} · excluded roles: {len(s.excluded_role_ids)}"
                f"\n{Multipliers.of(s).describe(self.plugin.xp.clock())}\n"
                f"{describe_levelup(s.levelup_announce, s.levelup_channel_id, s.levelup_dm,
                                    s.levelup_template)}")
        await interaction.response.send_message(text[:2000], ephemeral=True)

    @levels.subcommand(name="reward", description="Give a role at a level (again to remove)")
    @requires_permissions(manage_guild=True)
    async def levels_reward(
        self, interaction: nextcord.Interaction,
        level: int = nextcord.SlashOption(min_value=1, max_value=500, description="Level"),
        role: nextcord.Role = nextcord.SlashOption(description="Role to give"),
    ) -> None:
        guild_id = guild_of(interaction)
        rewards = dict((await self.plugin.settings.get(guild_id)).role_rewards or {})
        if rewards.get(str(level)) == role.id:
            del rewards[str(level)]
            text = f"Removed the level {level} reward."
        else:
            require_grantable(interaction.guild, role, f"at level {level}")
            rewards[str(level)] = role.id
            text = f"Level {level} now gives <@&{role.id}>."
        await self.plugin.settings.update(guild_id, role_rewards=rewards)
        await self.ctx.services.audit.record("levels.reward_changed", guild_id=guild_id,
                                             actor_id=user_of(interaction),
                                             details={"level": level, "role_id": role.id})
        await interaction.response.send_message(text, ephemeral=True)

    # ----- levels: admin XP tools, multipliers, messages, import/export, card (issue 16) ---
    @levels.subcommand(name="xp", description="Change a member's XP (audited)")
    async def levels_xp(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @levels_xp.subcommand(name="add", description="Add XP to a member")
    @requires_permissions(manage_guild=True)
    async def levels_xp_add(self, interaction: nextcord.Interaction,
                            member: nextcord.Member = _member(),
                            amount: int = _amount(1), reason: str = _reason()) -> None:
        await self._change_xp(interaction, member, "add", amount, reason)

    @levels_xp.subcommand(name="remove", description="Remove XP from a member")
    @requires_permissions(manage_guild=True)
    async def levels_xp_remove(self, interaction: nextcord.Interaction,
                               member: nextcord.Member = _member(),
                               amount: int = _amount(1), reason: str = _reason()) -> None:
        await self._change_xp(interaction, member, "remove", amount, reason)

    @levels_xp.subcommand(name="set", description="Set a member's total XP")
    @requires_permissions(manage_guild=True)
    async def levels_xp_set(self, interaction: nextcord.Interaction,
                            member: nextcord.Member = _member(),
                            amount: int = _amount(0), reason: str = _reason()) -> None:
        await self._change_xp(interaction, member, "set", amount, reason)

    @levels_xp.subcommand(name="reset", description="Reset a member's XP to 0")
    @requires_permissions(manage_guild=True)
    async def levels_xp_reset(self, interaction: nextcord.Interaction,
                              member: nextcord.Member = _member(),
                              reason: str = _reason()) -> None:
        await self._change_xp(interaction, member, "reset", 0, reason)

    async def _change_xp(self, interaction: nextcord.Interaction, member: nextcord.Member,
                         op: str, amount: int, reason: str) -> None:
        guild_id = guild_of(interaction)
        change = await self.plugin.xp_admin.change(guild_id, member.id, op, amount)
        await self.ctx.services.audit.record(
            "levels.xp_changed", guild_id=guild_id, actor_id=user_of(interaction),
            target=member.id, details={"op": op, "amount": amount, "before": change.before,
                                       "after": change.after}, text=reason)
        await interaction.response.send_message(
            f"<@{member.id}>: {change.before:,} → **{change.after:,} XP** (level "
            f"{change.old_level} → {change.new_level}). {change.note}".strip(), ephemeral=True)
        # After answering (3 s rule): role calls may queue behind Discord's rate limits.
        await reevaluate_rewards(self.ctx, self.plugin.settings, guild_id, member.id,
                                 change.new_level)

    @levels.subcommand(name="reset-all", description="Reset everyone's XP to 0 (asks first)")
    @requires_permissions(manage_guild=True)
    async def levels_reset_all(self, interaction: nextcord.Interaction,
                               reason: str = _reason()) -> None:
        members = await MemberRecord.filter(guild_id=guild_of(interaction), xp__gt=0).count()
        await self.ctx.confirm(
            interaction, f"Reset the XP, levels and level rewards of **{members:,}** members "
            "of this server to 0? It cannot be undone.", RESET_ALL, {"reason": reason},
            confirm_label="Reset everyone's XP")

    @levels.subcommand(name="multiplier", description="XP multiplier of a role or channel "
                       "(0 excludes, 1 removes)")
    @requires_permissions(manage_guild=True)
    async def levels_multiplier(
        self, interaction: nextcord.Interaction,
        value: float = nextcord.SlashOption(min_value=0, max_value=MAX_FACTOR,
                                            description="Multiplier, e.g. 1.5"),
        role: nextcord.Role = nextcord.SlashOption(required=False, description="Role"),
        channel: nextcord.abc.GuildChannel = nextcord.SlashOption(
            required=False, description="Channel (threads follow their channel)"),
    ) -> None:
        guild_id = guild_of(interaction)
        if (role is None) == (channel is None):
            raise UserError("Give either a role or a channel.")
        factor = checked_factor(value)
        current = await self.plugin.settings.get(guild_id)
        key, item = (("xp_role_multipliers", role) if role is not None
                     else ("xp_channel_multipliers", channel))
        assert item is not None
        await self.plugin.settings.update(
            guild_id, **{key: with_factor(getattr(current, key), item.id, factor)})
        await self.ctx.services.audit.record(
            "levels.multiplier_changed", guild_id=guild_id, actor_id=user_of(interaction),
            target=item.id, details={"kind": "role" if role else "channel", "value": factor})
        await self._show_settings(interaction, "Saved. ")

    @levels.subcommand(name="boost", description="A server-wide XP boost until a date")
    @requires_permissions(manage_guild=True)
    async def levels_boost(
        self, interaction: nextcord.Interaction,
        value: float = nextcord.SlashOption(min_value=1, max_value=MAX_FACTOR,
                                            description="Boost, e.g. 2 (1 ends the boost)"),
        until: str = nextcord.SlashOption(required=False, max_length=16,
                                          description="End, UTC: YYYY-MM-DD or "
                                          "YYYY-MM-DD HH:MM (at most 90 days ahead)"),
    ) -> None:
        guild_id = guild_of(interaction)
        factor = checked_factor(value, low=1.0)
        end = None if factor == 1.0 else boost_end(until, self.plugin.xp.clock())
        await self.plugin.settings.update(guild_id, xp_boost=factor, xp_boost_until=end)
        await self.ctx.services.audit.record(
            "levels.boost_changed", guild_id=guild_id, actor_id=user_of(interaction),
            details={"value": factor, "until": end.isoformat() if end else None})
        await self._show_settings(interaction, "Saved. ")

    @levels.subcommand(name="levelup", description="Level-up message and where it goes")
    @requires_permissions(manage_guild=True)
    async def levels_levelup(
        self, interaction: nextcord.Interaction,
        destination: str = nextcord.SlashOption(required=False, choices=DESTINATIONS,
                                                description="Where to send it"),
        channel: nextcord.TextChannel = nextcord.SlashOption(
            required=False, description="The fixed channel (with destination: channel)"),
        template: str = nextcord.SlashOption(
            required=False, max_length=6000, description="Text with {member} {level} {tier} "
            "{next_level_xp}; 'default' for the built-in one"),
    ) -> None:
        guild_id = guild_of(interaction)
        changes = levelup_changes(destination, channel.id if channel else None, template)
        if changes:
            await self.plugin.settings.update(guild_id, **changes)
            await self.ctx.services.audit.record(
                "levels.levelup_changed", guild_id=guild_id, actor_id=user_of(interaction),
                details={k: v for k, v in changes.items() if k != "levelup_template"}
                | {"template_changed": "levelup_template" in changes})
        await self._show_settings(interaction, "Saved. " if changes else "")

    @levels.subcommand(name="import", description="Import XP from a MEE6 leaderboard file "
                       "(dry run, then confirm)")
    @requires_permissions(manage_guild=True)
    async def levels_import(
        self, interaction: nextcord.Interaction,
        file: nextcord.Attachment = nextcord.SlashOption(
            description="JSON in MEE6's leaderboard format, up to 8 MB"),
    ) -> None:
        guild_id = guild_of(interaction)
        await interaction.response.defer(ephemeral=True)
        data = await read_checked(file, check_size)
        plan = await dry_run(guild_id, await asyncio.to_thread(parse, data))
        await self.ctx.confirm(
            interaction, "**MEE6 import — dry run, nothing changed yet.**\n" + plan.summary()
            + "\nImporting keeps the higher XP of this server and the file, so applying it "
            "twice changes nothing.", IMPORT,
            {"url": file.url, "size": file.size}, confirm_label="Import", danger=False)

    @levels.subcommand(name="export", description="Download the leaderboard as CSV")
    @requires_permissions(manage_guild=True)
    async def levels_export(self, interaction: nextcord.Interaction) -> None:
        guild_id = guild_of(interaction)
        await interaction.response.defer(ephemeral=True)
        await self.plugin.xp.flush()
        data, rows, truncated = await leaderboard_csv(guild_id)
        await self.ctx.services.audit.record("levels.exported", guild_id=guild_id,
                                             actor_id=user_of(interaction),
                                             details={"rows": rows})
        note = " (truncated at 8 MB: the top members are included)" if truncated else ""
        await interaction.send(f"Leaderboard: {rows:,} members{note}.", ephemeral=True,
                               file=nextcord.File(io.BytesIO(data), filename="leaderboard.csv"))

    @levels.subcommand(name="card", description="The server's default rank card style")
    @requires_permissions(manage_guild=True)
    async def levels_card(
        self, interaction: nextcord.Interaction, accent: str = accent_option(),
        background: nextcord.Attachment = background_option(),
        reset: bool = reset_option("Back to the built-in style"),
    ) -> None:
        await answer_style_change(self.ctx, interaction, SERVER_DEFAULT_STYLE, SERVER_NOTE,
                                  accent=accent, background=background, reset=reset)
