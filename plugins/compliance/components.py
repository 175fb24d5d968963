"""Component handlers: the Verify button and modal, and the staff Approve/Deny buttons.

Review buttons carry a state id whose row (kind "review") names the requester, so they keep
working after a restart and cannot be pointed at another member's request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import nextcord

from bot.api import (
    ComponentHandler,
    ControlExpired,
    MissingPermissions,
    UserError,
    button,
    controls,
    guild_of,
    member_has,
    modal,
    stateless,
    text_input,
    uses_state,
)
from plugins.compliance.dates import BadDate
from plugins.compliance.discord_actions import add_role
from plugins.compliance.models import PENDING, UNDER_MINIMUM_AGE, VERIFIED, AgeDenial

if TYPE_CHECKING:
    from bot.api import ComponentContext, PluginContext
    from plugins.compliance.plugin import CompliancePlugin

# Pending reviews stay actionable for the longest time component state may live.
REVIEW_TTL = timedelta(days=90)


def verify_modal(ctx: PluginContext) -> nextcord.ui.Modal:
    """The date-of-birth form; its answer comes back to the "dob" handler."""
    return modal("Age verification (21+)", ctx.components.custom_id("dob"), [
        text_input("Date of birth (YYYY-MM-DD)", "dob", min_length=1, max_length=10,
                   placeholder="1990-12-31"),
        text_input("Type YES: this date is mine and true", "attest", min_length=1,
                   max_length=3, placeholder="yes"),
    ])


class ComplianceComponents:
    def __init__(self, plugin: CompliancePlugin) -> None:
        self.plugin = plugin

    def handlers(self) -> dict[str, ComponentHandler]:
        return {"verify": self.on_verify, "dob": self.on_dob,
                "approve": self.on_approve, "deny": self.on_deny}

    @stateless
    async def on_verify(self, ctx: ComponentContext) -> None:
        """The button the core shows with every age-gate denial: open the /verify modal."""
        guild_id = guild_of(ctx.interaction)
        await self.plugin.verification.check_can_start(guild_id, ctx.user_id)
        await ctx.interaction.response.send_modal(verify_modal(self.plugin.context))

    @stateless
    async def on_dob(self, ctx: ComponentContext) -> None:
        guild_id = guild_of(ctx.interaction)
        plugin_ctx = self.plugin.context
        fields = ctx.fields
        settings = await self.plugin.settings.get(guild_id)
        review_channel: nextcord.abc.Messageable | None = None
        if (settings.review_channel_id is not None
                and await self.plugin.verification.needs_review(guild_id, ctx.user_id)):
            # Resolve it before judging, so nobody is left pending with no request posted.
            # (No channel set at all: the service refuses with the right explanation.)
            channel = plugin_ctx.bot.get_channel(settings.review_channel_id)
            if not isinstance(channel, nextcord.abc.Messageable):
                raise UserError("The review channel is missing; please ask a moderator.")
            review_channel = channel
        try:
            outcome = await self.plugin.verification.submit(
                guild_id, ctx.user_id, fields.get("dob", ""), fields.get("attest", ""))
        except BadDate as bad:
            raise UserError(bad.message) from None
        message = outcome.message
        if outcome.status == VERIFIED:
            if not await add_role(plugin_ctx, guild_id, ctx.user_id, settings.verified_role_id,
                                  "Verified 21+"):
                message += " (I could not give you the verified role; please tell staff.)"
        elif outcome.status == PENDING and review_channel is not None:
            await self.post_review(ctx, review_channel, outcome.prior_denial)
        await ctx.send(message, ephemeral=True)

    async def post_review(self, ctx: ComponentContext, channel: nextcord.abc.Messageable,
                          prior_denial: AgeDenial | None = None) -> None:
        guild_id = guild_of(ctx.interaction)
        components = self.plugin.context.components
        # Anyone may press them (owner=None); the handler checks Manage Roles.
        state = await components.create("review", {"requester": ctx.user_id}, owner=None,
                                        guild_id=guild_id, ttl=REVIEW_TTL)
        view = controls(
            button("Approve", components.custom_id("approve", state),
                   style=nextcord.ButtonStyle.success),
            button("Deny", components.custom_id("deny", state),
                   style=nextcord.ButtonStyle.danger),
        )
        text = (f"Age verification request from <@{ctx.user_id}>: they attest they are 21+ "
                "(the date of birth is not stored). Members with Manage Roles may decide.")
        if prior_denial is not None:
            why = ("as under the minimum age" if prior_denial.outcome == UNDER_MINIMUM_AGE
                   else "by staff")
            text += (f"\n⚠️ An earlier verification of this member was denied {why} "
                     f"(<t:{int(prior_denial.decided_at.timestamp())}:D>), so their new date "
                     "was not accepted on its own.")
        try:
            await channel.send(text, view=view)
        except nextcord.HTTPException:
            # Undo "pending": a request staff cannot see must not block the member (a kept
            # denial stays, so the next attempt is still reviewed).
            await components.delete(state.id)
            await self.plugin.verification.withdraw_request(guild_id, ctx.user_id)
            raise UserError("I could not post your request to the staff review channel; "
                            "please tell a moderator.") from None

    @uses_state("review")
    async def on_approve(self, ctx: ComponentContext) -> None:
        await self._review(ctx, approve=True)

    @uses_state("review")
    async def on_deny(self, ctx: ComponentContext) -> None:
        await self._review(ctx, approve=False)

    async def _review(self, ctx: ComponentContext, *, approve: bool) -> None:
        state = ctx.state
        if state is None or state.kind != "review" or ctx.guild_id is None:
            raise ControlExpired()
        if not member_has(ctx.interaction.user, {"manage_roles"}):
            await ctx.services.audit.record(
                "verification.review_refused", guild_id=ctx.guild_id, actor_id=ctx.user_id,
                target=state.data.get("requester"), details={"reason": "missing_manage_roles"})
            raise MissingPermissions({"manage_roles"})
        requester = int(state.data["requester"])
        await self.plugin.verification.review(ctx.guild_id, requester, ctx.user_id,
                                              approve=approve)
        verdict = "approved" if approve else "denied"
        if approve:
            settings = await self.plugin.settings.get(ctx.guild_id)
            await add_role(self.plugin.context, ctx.guild_id, requester,
                           settings.verified_role_id, "Verified 21+ by staff")
        # The message below names the reviewer; the row keeps only the verdict, so a reviewer
        # who deletes their data is not left behind in it.
        await ctx.advance({**state.data, "decided": verdict})
        await ctx.edit(
            content=f"Age verification request from <@{requester}>: **{verdict}** by "
                    f"<@{ctx.user_id}>.",
            view=controls(),
        )
