"""The compliance plugin: wiring of its services into the core's interfaces."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.api import MIXED, ComponentHandler, GuildConfig, Plugin, PluginContext
from plugins.compliance.adult_channels import AdultChannels, marked_channels
from plugins.compliance.gate import CachedAgeGate
from plugins.compliance.import_rewards import ImportRewards
from plugins.compliance.levels_callbacks import LevelsCallbacks
from plugins.compliance.models import (
    AgeDenial,
    GuildSettings,
    ImportRewardJob,
    ImportRewardMember,
    MemberRecord,
    RankCardStyle,
)
from plugins.compliance.pages import AuditPages, LeaderboardPages
from plugins.compliance.rank_styles import export_styles
from plugins.compliance.verification import VerificationService
from plugins.compliance.xp import LevelUp, XpEngine
from plugins.compliance.xp_admin import XpAdmin

if TYPE_CHECKING:
    from nextcord.ext import commands

    from bot.api import ComponentContext

NAME = "compliance"


class CompliancePlugin(Plugin):
    name = NAME
    version = "0.2.0"
    description = "21+ age verification, the age gate, audit tools, privacy and XP/levels."
    data_statement = (
        "Per server: verification outcome (status, method, when, reviewer; never the date of "
        "birth), failed-attempt count and retry time, XP, level, message count, last XP time. "
        "A verification denial (server, member id, outcome, date) is kept after /privacy "
        "delete so deleting data cannot undo an age check. Free text you wrote in audited "
        "actions (e.g. a reset reason). Your rank card style (accent colour, background "
        "image re-encoded as JPEG). While role rewards of a MEE6 import are being given: "
        "one row per imported member (job, member id, outcome), deleted when it ends."
    )
    models = "plugins.compliance.models"
    # Verification, privacy, audit tools and XP show nothing about cannabis: every member,
    # verified or not, must be able to reach them (above all /verify itself).
    rating = MIXED

    def __init__(self) -> None:
        self.ctx: PluginContext | None = None
        # Replaced by the core's store in setup; this one serves a plugin not yet set up.
        self.settings: GuildConfig[GuildSettings] = GuildConfig(GuildSettings, plugin=NAME)
        self.gate = CachedAgeGate()
        self.adult_channels = AdultChannels(self.settings, self._is_verified)
        self.verification: VerificationService
        self.xp = XpEngine(self.settings)
        self.xp_admin = XpAdmin(self.xp)
        self.voice: Any = None
        self.import_rewards: ImportRewards | None = None

    @property
    def context(self) -> PluginContext:
        """The core's context; commands, controls and listeners only run after setup."""
        if self.ctx is None:
            raise RuntimeError("the compliance plugin is not set up")
        return self.ctx

    async def setup(self, ctx: PluginContext) -> None:
        from plugins.compliance.listeners import VoiceXpTicker

        # Fresh state on every start: one plugin object may be set up again after a restart.
        self.ctx = ctx
        self.settings = ctx.guild_config.table(GuildSettings)
        self.gate = CachedAgeGate()
        self.adult_channels = AdultChannels(
            self.settings, self._is_verified,
            ctx.guild_config.cache("adult_channels", marked_channels))
        self.gate.channels = self.adult_channels
        self.verification = VerificationService(self.settings, ctx.services.audit, self.gate)
        self.xp = XpEngine(self.settings, on_level_up=self._level_ups)
        self.xp_admin = XpAdmin(self.xp)
        LevelsCallbacks(self).register()
        self.import_rewards = ImportRewards(ctx, self.settings)
        self.import_rewards.start()  # continues the jobs a restart interrupted
        ctx.services.age_gate.provide(ctx.name, self.gate,
                                      prompt_custom_id=ctx.components.custom_id("verify"))
        ctx.services.xp.provide(ctx.name, self.xp)
        ctx.services.blocks.page_source("compliance.leaderboard", LeaderboardPages())
        ctx.services.blocks.page_source("compliance.audit", AuditPages(ctx.services))
        ctx.services.blocks.callback("compliance.privacy_delete", self._privacy_delete)
        self.xp.start()
        self.voice = VoiceXpTicker(self, ctx)
        self.voice.start()

    async def teardown(self) -> None:
        if self.voice is not None:
            await self.voice.stop()
        if self.import_rewards is not None:
            await self.import_rewards.stop()
        # Final flush: a clean shutdown loses no XP.
        await self.xp.stop()

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        from plugins.compliance.cog import ComplianceCog
        from plugins.compliance.levels_cog import LevelsCog
        from plugins.compliance.listeners import ComplianceListeners
        from plugins.compliance.rank_card_cog import RankCardCog

        return [ComplianceCog(self, ctx), ComplianceListeners(self, ctx), RankCardCog(ctx),
                LevelsCog(self, ctx)]

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        from plugins.compliance.components import ComplianceComponents

        return ComplianceComponents(self).handlers()

    async def _is_verified(self, guild_id: int, user_id: int) -> bool:
        return (await self.gate.decide(guild_id, user_id)).allowed

    async def _level_ups(self, level_ups: list[LevelUp]) -> None:
        from plugins.compliance.discord_actions import announce_level_ups

        if self.ctx is not None:
            await announce_level_ups(self.ctx, self.settings, level_ups)

    async def _privacy_delete(self, ctx: ComponentContext, payload: Any) -> None:
        removed = await ctx.services.privacy.delete(ctx.user_id, guild_id=ctx.guild_id)
        if ctx.guild_id is not None:
            # The verification is gone, so the role that showed it goes too.
            from plugins.compliance.discord_actions import remove_role

            settings = await self.settings.get(ctx.guild_id)
            await remove_role(self.context, ctx.guild_id, ctx.user_id,
                              settings.verified_role_id, "Member deleted their data")
        total = sum(n for n in removed.values() if n > 0)
        failed = sorted(name for name, n in removed.items() if n < 0)
        text = f"Deleted {total} records about you."
        if failed:
            text += f" Some plugins failed ({', '.join(failed)}); staff were told via the log."
        kept = await AgeDenial.filter(user_id=ctx.user_id).count()
        if kept:
            text += (f"\n\n**Kept:** {kept} age-verification denial record(s) (server, your "
                     "member id, outcome, date; never a date of birth), so that deleting data "
                     "cannot undo an age check. A new verification there goes to staff review; "
                     "staff can clear the record with /verification reset.")
        text += ("\nThe audit log keeps its entries (what happened, by whom, when; not your "
                 f"free text, which was deleted) until they are "
                 f"{self.context.core_settings.audit_retention_days} days "
                 "old: it is the community's proof of its age checks and cannot be edited.")
        await ctx.send(text, ephemeral=True)

    async def delete_user_data(self, user_id: int) -> int:
        # Under the flush lock: a batch being written right now cannot re-create the rows.
        async with self.xp.flush_lock:
            self.xp.forget_user(user_id)
            removed = await MemberRecord.filter(user_id=user_id).delete()
        removed += await RankCardStyle.filter(user_id=user_id).delete()
        removed += await ImportRewardMember.filter(user_id=user_id).delete()
        await ImportRewardJob.filter(actor_id=user_id).update(actor_id=None)
        self.gate.invalidate_user(user_id)
        # Kept on purpose: AgeDenial rows (see data_statement). Records this member decided as
        # staff keep that one former reviewer decided them, under a fresh random pseudonym
        # that no table maps back to them.
        pseudonym = f"former-staff-{secrets.token_hex(4)}"
        await MemberRecord.filter(reviewer_id=user_id).update(reviewer_id=None,
                                                              reviewer_pseudonym=pseudonym)
        removed += await self._delete_review_controls(user_id)
        return int(removed)

    async def _delete_review_controls(self, user_id: int) -> int:
        """Staff review buttons of this member's requests (their state names the member),
        and decided ones that older versions stamped with this member as the reviewer."""
        if self.ctx is None:
            return 0
        rows = await self.ctx.components.find("review")
        mine = [state_id for state_id, data in rows if user_id in (
            (data or {}).get("requester"), (data or {}).get("reviewer"))]
        for state_id in mine:
            await self.ctx.components.delete(state_id)
        return len(mine)

    async def export_user_data(self, user_id: int) -> dict[str, Any]:
        rows = await MemberRecord.filter(user_id=user_id).order_by("guild_id").values(
            "guild_id", "status", "is_21_plus", "verified_at", "method", "reviewer_id",
            "reviewer_pseudonym", "failed_attempts", "retry_at", "xp", "level",
            "message_count", "last_xp_at", "tier")
        for row in rows:
            for key in ("verified_at", "retry_at", "last_xp_at"):
                if row[key] is not None:
                    row[key] = row[key].isoformat()
            # Who reviewed you is another member's data: the export says only that staff did.
            row["reviewed_by_staff"] = bool(row.pop("reviewer_id")
                                            or row.pop("reviewer_pseudonym"))
            row.pop("reviewer_pseudonym", None)
            row["pending_xp_not_yet_saved"] = self.xp.pending_for(row["guild_id"], user_id)
        denials = await AgeDenial.filter(user_id=user_id).order_by("guild_id").values(
            "guild_id", "outcome", "decided_at")
        for denial in denials:
            denial["decided_at"] = denial["decided_at"].isoformat()
            denial["kept_after_privacy_delete"] = True
        # The free text this member wrote in audited actions is exported by the core
        # ("core" section of /privacy export), with every other plugin's audit texts.
        return {"members": rows, "date_of_birth": "never stored",
                "age_verification_denials": denials,
                "rank_card_styles": await export_styles(user_id),
                "import_rewards_pending": await ImportRewardMember.filter(
                    user_id=user_id).count()}
