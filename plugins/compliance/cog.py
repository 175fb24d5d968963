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
from plugins.compliance.components import verify_modal
from plugins.compliance.discord_actions import remove_role
from plugins.compliance.levels import progress_for, tier_for
from plugins.compliance.models import MODES, MemberRecord
from plugins.compliance.pages import audit_csv
from plugins.compliance.rank_card import RankInfo, card_filename, rank_text, render_rank_card
from plugins.compliance.rank_styles import style_for
from plugins.compliance.setup_checks import require_grantable, require_postable

if TYPE_CHECKING:
    from plugins.compliance.plugin import CompliancePlugin

MANAGE_GUILD = nextcord.Permissions(manage_guild=True)
MODE_CHOICES = {"Self-attest (date of birth)": MODES[0], "Staff review": MODES[1]}


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
        # The card is posted in the channel: a member's own (unreviewed) background only
        # where every reader is verified 21+.
        style = await style_for(guild_id, target.id, own_background=await self.ctx.services
                                .age_gate.is_adults_only_place(interaction.channel))
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
