"""Slash commands: translate interactions into service calls, nothing more."""

from __future__ import annotations

import asyncio
import io
import json
from typing import TYPE_CHECKING

import nextcord
from nextcord.ext import commands

from bot.api import (
    GUILD_ONLY,
    MissingPermissions,
    PluginContext,
    UserError,
    guild_of,
    member_has,
    requires_permissions,
    user_of,
)
from plugins.compliance.adult_channels import describe
from plugins.compliance.attachments import read_checked
from plugins.compliance.components import verify_modal
from plugins.compliance.discord_actions import reevaluate_rewards, remove_role
from plugins.compliance.levels import progress_for, tier_for
from plugins.compliance.levels_callbacks import IMPORT, RESET_ALL
from plugins.compliance.levelup_messages import DESTINATIONS, levelup_changes
from plugins.compliance.levelup_messages import describe as describe_levelup
from plugins.compliance.mee6_import import check_size, dry_run, leaderboard_csv, parse
from plugins.compliance.models import MODES, SERVER_DEFAULT_STYLE, STACK, MemberRecord
from plugins.compliance.multipliers import (
    MAX_FACTOR,
    Multipliers,
    boost_end,
    checked_factor,
    with_factor,
)
from plugins.compliance.pages import audit_csv
from plugins.compliance.rank_card import RankInfo, card_filename, rank_text, render_rank_card
from plugins.compliance.rank_card_cog import change_style
from plugins.compliance.rank_styles import style_for
from plugins.compliance.setup_checks import require_grantable, require_postable
from plugins.compliance.xp_admin import MAX_TOTAL_XP

if TYPE_CHECKING:
    from plugins.compliance.plugin import CompliancePlugin

MANAGE_GUILD = nextcord.Permissions(manage_guild=True)
MODE_CHOICES = {"Self-attest (date of birth)": MODES[0], "Staff review": MODES[1]}


# Options shared by the /levels xp subcommands (a fresh object per command).
def _member() -> nextcord.Member:
    return nextcord.SlashOption(description="Member")


def _amount(low: int) -> int:
    return nextcord.SlashOption(
        min_value=low, max_value=MAX_TOTAL_XP, description="XP (at most 1,000,000,000)")


def _reason() -> str:
    return nextcord.SlashOption(
        description="Why (kept with the audit entry; deletable)", max_length=300)


class ComplianceCog(commands.Cog, name="compliance"):
    def __init__(self, plugin: CompliancePlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    # ----- verification --------------------------------------------------------------------
    @nextcord.slash_command(name="verify", description="Verify that you are 21 or older",
                            contexts=GUILD_ONLY)
    async def verify(self, interaction: nextcord.Interaction) -> None:
        await self.plugin.verification.check_can_start(guild_of(interaction), user_of(interaction))
        await interaction.response.send_modal(verify_modal(self.ctx))

    @nextcord.slash_command(name="verification", description="Age verification status and tools",
                            contexts=GUILD_ONLY)
    async def verification(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @verification.subcommand(name="status", description="Your verification status "
                             "(staff may look up a member)")
    async def status(self, interaction: nextcord.Interaction,
                     member: nextcord.Member = nextcord.SlashOption(
                         description="Member to look up (staff only)", required=False)) -> None:
        guild_id = guild_of(interaction)
        target = member.id if member is not None else user_of(interaction)
        if target != user_of(interaction) and not member_has(interaction.user, {"manage_roles"}):
            raise MissingPermissions({"manage_roles"})
        row = await self.plugin.verification.status(guild_id, target)
        who = "You are" if target == user_of(interaction) else f"<@{target}> is"
        if row is None:
            text = f"{who} **unverified**. Use /verify to start."
        else:
            text = f"{who} **{row.status}**"
            if row.method:
                text += f" (method: {row.method.replace('_', ' ')})"
            if row.verified_at:
                text += f", since <t:{int(row.verified_at.timestamp())}:D>"
            if row.retry_at and row.retry_at.timestamp() > self.plugin.verification.clock(
            ).timestamp():
                text += f". Next attempt allowed <t:{int(row.retry_at.timestamp())}:R>"
            text += "."
        await interaction.response.send_message(text, ephemeral=True)

    @verification.subcommand(name="reset", description="Reset a member to unverified (staff)")
    @requires_permissions(manage_roles=True)
    async def reset(self, interaction: nextcord.Interaction,
                    member: nextcord.Member = nextcord.SlashOption(description="Member"),
                    reason: str = nextcord.SlashOption(
                        description="Why (kept with the audit entry; deletable)",
                        required=False, max_length=300)) -> None:
        guild_id = guild_of(interaction)
        previous = await self.plugin.verification.reset(guild_id, member.id, user_of(interaction),
                                                        reason=reason)
        settings = await self.plugin.settings.get(guild_id)
        await remove_role(self.ctx, guild_id, member.id, settings.verified_role_id,
                          "Verification reset by staff")
        await interaction.response.send_message(
            f"<@{member.id}> was reset from **{previous}** to **unverified**.", ephemeral=True)

    @verification.subcommand(name="settings", description="Show or change verification "
                             "settings (Manage Server)")
    @requires_permissions(manage_guild=True)
    async def settings_(
        self, interaction: nextcord.Interaction,
        mode: str = nextcord.SlashOption(description="How members verify", required=False,
                                         choices=MODE_CHOICES),
        verified_role: nextcord.Role = nextcord.SlashOption(
            description="Role given to verified members", required=False),
        review_channel: nextcord.TextChannel = nextcord.SlashOption(
            description="Where staff review requests", required=False),
        retry_cooldown_hours: int = nextcord.SlashOption(
            description="Wait after a denial (hours)", required=False, min_value=1,
            max_value=720),
        minimum_age: int = nextcord.SlashOption(description="Minimum age (21 or more)",
                                                required=False, min_value=21, max_value=99),
    ) -> None:
        guild_id = guild_of(interaction)
        # Refused before anything is saved: a role or channel the bot can't use would only
        # fail later, in front of a member.
        if verified_role is not None:
            require_grantable(interaction.guild, verified_role, "to verified members")
        if review_channel is not None:
            require_postable(interaction.guild, review_channel)
        changes: dict[str, object] = {}
        if mode is not None:
            changes["verification_mode"] = mode
        if verified_role is not None:
            changes["verified_role_id"] = verified_role.id
        if review_channel is not None:
            changes["review_channel_id"] = review_channel.id
        if retry_cooldown_hours is not None:
            changes["retry_cooldown_seconds"] = retry_cooldown_hours * 3600
        if minimum_age is not None:
            changes["minimum_age"] = minimum_age
        if changes:
            await self.plugin.settings.update(guild_id, **changes)
            await self.ctx.services.audit.record(
                "verification.settings_changed", guild_id=guild_id, actor_id=user_of(interaction),
                details={k: v for k, v in changes.items()})
        s = await self.plugin.settings.get(guild_id)
        role = f"<@&{s.verified_role_id}>" if s.verified_role_id else "none"
        channel = f"<#{s.review_channel_id}>" if s.review_channel_id else "none"
        await interaction.response.send_message(
            f"{'Saved. ' if changes else ''}Mode: **{s.verification_mode}** · verified role: "
            f"{role} · review channel: {channel} · minimum age: {s.minimum_age} · retry "
            f"cooldown: {s.retry_cooldown_seconds // 3600} h", ephemeral=True)

    @verification.subcommand(name="adult-channel", description="Channels marked 21+")
    async def adult_channel(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @adult_channel.subcommand(name="add", description="Mark a channel 21+ after checking "
                              "who can read it (Manage Server)")
    @requires_permissions(manage_guild=True)
    async def adult_channel_add(
        self, interaction: nextcord.Interaction,
        channel: nextcord.TextChannel = nextcord.SlashOption(description="The channel"),
    ) -> None:
        guild_id = guild_of(interaction)
        # The option's channel is partial (no overwrites): judge the gateway's copy.
        cached = interaction.guild.get_channel(channel.id) if interaction.guild else None
        if cached is None:
            raise UserError("I can't see that channel; give me View Channel there first.")
        problems = await self.plugin.adult_channels.problems(cached)
        if problems:
            raise UserError(f"<#{channel.id}> was **not** marked 21+: members who are not "
                            f"verified could read it.\n{describe(problems)}\nFix this in the "
                            "channel's permissions, then run the command again.")
        added = await self.plugin.adult_channels.mark(guild_id, channel.id)
        if added:
            await self.ctx.services.audit.record(
                "verification.adult_channel_added", guild_id=guild_id,
                actor_id=user_of(interaction), target=channel.id)
        await interaction.response.send_message(
            f"<#{channel.id}> {'is now' if added else 'already was'} a 21+ channel: plugins may "
            "post 21+ content there. If its permissions ever let unverified members read it, "
            "it stops counting at once.", ephemeral=True)

    @adult_channel.subcommand(name="remove", description="Unmark a 21+ channel (Manage Server)")
    @requires_permissions(manage_guild=True)
    async def adult_channel_remove(
        self, interaction: nextcord.Interaction,
        channel: nextcord.TextChannel = nextcord.SlashOption(description="The channel"),
    ) -> None:
        guild_id = guild_of(interaction)
        if not await self.plugin.adult_channels.unmark(guild_id, channel.id):
            raise UserError(f"<#{channel.id}> is not marked 21+.")
        await self.ctx.services.audit.record(
            "verification.adult_channel_removed", guild_id=guild_id,
            actor_id=user_of(interaction), target=channel.id)
        await interaction.response.send_message(
            f"<#{channel.id}> is no longer a 21+ channel.", ephemeral=True)

    @adult_channel.subcommand(name="list", description="21+ channels and whether their "
                              "permissions still pass (Manage Server)")
    @requires_permissions(manage_guild=True)
    async def adult_channel_list(self, interaction: nextcord.Interaction) -> None:
        guild_id = guild_of(interaction)
        lines = []
        for channel_id in sorted(await self.plugin.adult_channels.marked(guild_id)):
            cached = interaction.guild.get_channel(channel_id) if interaction.guild else None
            if cached is None:
                lines.append(f"• <#{channel_id}>: ⚠️ I can't see it (deleted?): not used.")
                continue
            problems = await self.plugin.adult_channels.problems(cached)
            lines.append(f"• <#{channel_id}>: ✅ only verified members can read it" if not problems
                         else f"• <#{channel_id}>: ⚠️ not used: {problems[0]}")
        text = "\n".join(lines) or "No channel is marked 21+. Add one with " \
            "`/verification adult-channel add`."
        await interaction.response.send_message(text[:2000], ephemeral=True)

    # ----- audit ---------------------------------------------------------------------------
    @nextcord.slash_command(name="audit", description="The audit log (Manage Server)",
                            contexts=GUILD_ONLY, default_member_permissions=MANAGE_GUILD)
    async def audit(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @audit.subcommand(name="recent", description="Recent audit entries, newest first")
    @requires_permissions(manage_guild=True)
    async def audit_recent(
        self, interaction: nextcord.Interaction,
        member: nextcord.Member = nextcord.SlashOption(description="Only this member",
                                                      required=False),
        action: str = nextcord.SlashOption(description="Action prefix, e.g. verification",
                                           required=False, max_length=64),
    ) -> None:
        params = {"guild_id": guild_of(interaction), "member": member.id if member else None,
                  "action": (action or "").strip() or None}
        await self.ctx.paginate(interaction, "compliance.audit", params, ephemeral=True)

    @audit.subcommand(name="export", description="Download this server's audit log as CSV")
    @requires_permissions(manage_guild=True)
    async def audit_export(self, interaction: nextcord.Interaction) -> None:
        guild_id = guild_of(interaction)
        await interaction.response.defer(ephemeral=True)
        data, rows, truncated = await audit_csv(self.ctx.services, guild_id)
        await self.ctx.services.audit.record("audit.exported", guild_id=guild_id,
                                             actor_id=user_of(interaction), details={"rows": rows})
        note = " (truncated at 8 MB: the oldest entries are included)" if truncated else ""
        await interaction.send(f"Audit log: {rows} entries{note}.", ephemeral=True,
                               file=nextcord.File(io.BytesIO(data), filename="audit-log.csv"))

    # ----- privacy -------------------------------------------------------------------------
    @nextcord.slash_command(name="privacy", description="Your data held by this bot")
    async def privacy(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @privacy.subcommand(name="export", description="Download everything the bot holds about you")
    async def privacy_export(self, interaction: nextcord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        data = await self.ctx.services.privacy.export(user_of(interaction))
        await self.ctx.services.audit.record("privacy.exported", guild_id=interaction.guild_id,
                                             actor_id=user_of(interaction),
                                             details={"plugins": sorted(data)})
        body = json.dumps({"user_id": user_of(interaction), "plugins": data}, indent=2,
                          default=str).encode()
        await interaction.send("Here is everything the bot's plugins hold about you.",
                               ephemeral=True,
                               file=nextcord.File(io.BytesIO(body), filename="my-data.json"))

    @privacy.subcommand(name="delete", description="Delete everything the bot holds about you")
    async def privacy_delete(self, interaction: nextcord.Interaction) -> None:
        await self.ctx.confirm(
            interaction,
            "Delete everything every plugin holds about you, in every server? This "
                   "includes your age verification (you would need to verify again) and your "
                   "XP. It cannot be undone.\n**Kept:** if a verification of yours was ever "
                   "denied, a minimal record of that (server, member id, outcome, date; never a "
                   "date of birth) stays, so deleting data cannot undo an age check; and the "
                   "audit log keeps its entries, without your free text, until the retention "
                   "period ends, because it is the community's proof of its age checks.",
            "compliance.privacy_delete", confirm_label="Delete my data")

    # ----- XP ------------------------------------------------------------------------------
    @nextcord.slash_command(name="rank", description="Your level card (or another member's)",
                            contexts=GUILD_ONLY)
    async def rank(self, interaction: nextcord.Interaction,
                   member: nextcord.Member = nextcord.SlashOption(required=False,
                                                                  description="Member")) -> None:
        guild_id = guild_of(interaction)
        target = member or interaction.user
        assert target is not None
        # An avatar download and the drawing can take a while: acknowledge first (3 s rule).
        await interaction.response.defer()
        await self.plugin.xp.flush()  # show XP earned seconds ago too
        row = await MemberRecord.get_or_none(guild_id=guild_id, user_id=target.id)
        total = int(row.xp) if row else 0
        progress = progress_for(total)
        rank = None
        if total > 0:
            rank = await MemberRecord.filter(guild_id=guild_id, xp__gt=total).count() + 1
        info = RankInfo(target.display_name, progress.level, tier_for(progress.level), total,
                        progress.into_level, progress.needed, rank)
        avatar = None
        if getattr(target, "avatar", None) is not None:
            try:
                avatar = await asyncio.wait_for(target.display_avatar.read(), timeout=2)
            except Exception:  # no avatar is fine; the card draws an initial instead
                avatar = None
        style = await style_for(guild_id, target.id)
        try:
            png = await asyncio.to_thread(render_rank_card, info, avatar, style.accent,
                                          style.background)
        except Exception:
            await interaction.send(rank_text(info))
            return
        await interaction.send(rank_text(info).split("\n")[0],
                               file=nextcord.File(io.BytesIO(png), filename=card_filename(png)))

    @nextcord.slash_command(name="leaderboard", description="Top members by XP",
                            contexts=GUILD_ONLY)
    async def leaderboard(self, interaction: nextcord.Interaction) -> None:
        await self.plugin.xp.flush()
        await self.ctx.paginate(interaction, "compliance.leaderboard",
                                {"guild_id": guild_of(interaction)}, owner_only=False)

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
        self, interaction: nextcord.Interaction,
        accent: str = nextcord.SlashOption(description="Accent colour, e.g. #58B25C",
                                           required=False, max_length=7),
        background: nextcord.Attachment = nextcord.SlashOption(
            description="Background image (PNG, JPEG, GIF or WebP, up to 8 MB)",
            required=False),
        reset: bool = nextcord.SlashOption(description="Back to the built-in style",
                                           required=False),
    ) -> None:
        await interaction.response.defer(ephemeral=True)
        text = await change_style(self.ctx, guild_of(interaction), SERVER_DEFAULT_STYLE,
                                  user_of(interaction), accent=accent, background=background,
                                  reset=reset)
        await interaction.send(text.replace("/rank", "/rank (members' own styles win)"),
                               ephemeral=True)
