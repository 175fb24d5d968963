"""What happens when an admin presses Confirm on a server-wide XP reset or a MEE6 import.

Both run through the core's confirmation (ctx.confirm): the callback runs once, for the admin
who asked, who must still have Manage Server when pressing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bot.api import MissingPermissions, UserError, member_has
from plugins.compliance.discord_actions import reevaluate_rewards
from plugins.compliance.mee6_import import apply, check_size, dry_run, parse

if TYPE_CHECKING:
    from bot.api import ComponentContext
    from plugins.compliance.plugin import CompliancePlugin

RESET_ALL = "compliance.levels_reset_all"
IMPORT = "compliance.levels_import"


class LevelsCallbacks:
    def __init__(self, plugin: CompliancePlugin) -> None:
        self.plugin = plugin

    def register(self) -> None:
        blocks = self.plugin.context.services.blocks
        blocks.callback(RESET_ALL, self.reset_all)
        blocks.callback(IMPORT, self.import_file)

    @staticmethod
    def _admin_guild(ctx: ComponentContext) -> int:
        if ctx.guild_id is None:
            raise UserError("This only works in a server.")
        if not member_has(ctx.interaction.user, {"manage_guild"}):
            raise MissingPermissions({"manage_guild"})
        return ctx.guild_id

    async def reset_all(self, ctx: ComponentContext, payload: dict[str, Any]) -> None:
        guild_id = self._admin_guild(ctx)
        count, levelled = await self.plugin.xp_admin.reset_guild(guild_id)
        await ctx.services.audit.record(
            "levels.xp_reset_all", guild_id=guild_id, actor_id=ctx.user_id,
            details={"members": count}, text=str(payload.get("reason") or ""))
        await ctx.send(f"Reset the XP of **{count:,}** members to 0. Level rewards are being "
                       "removed from members who had them.", ephemeral=True)
        for user_id in levelled:
            await reevaluate_rewards(self.plugin.context, self.plugin.settings, guild_id,
                                     user_id, 0)

    async def import_file(self, ctx: ComponentContext, payload: dict[str, Any]) -> None:
        guild_id = self._admin_guild(ctx)
        check_size(int(payload.get("size") or 0))
        # The file is read again from Discord rather than kept in the confirmation's state:
        # a 100,000-player plan does not belong in a component row, and this survives a
        # restart between the dry run and the click.
        data = await ctx.bot.http.get_from_cdn(str(payload["url"]))
        plan = await asyncio.to_thread(parse, data)
        await dry_run(guild_id, plan)
        statements = await apply(guild_id, plan, self.plugin.xp)
        await ctx.services.audit.record(
            "levels.imported", guild_id=guild_id, actor_id=ctx.user_id,
            details={"players": plan.found, "new": plan.new, "raised": plan.updated,
                     "unchanged": plan.unchanged, "skipped": sum(plan.skipped.values()),
                     "statements": statements})
        rewards = self.plugin.import_rewards
        assert rewards is not None  # set up before any click is handled
        members = await rewards.members_to_reward(guild_id, plan.players)
        # Stored before the admin is told, so a restart cannot lose what they were promised.
        job_id = await rewards.queue(guild_id, ctx.user_id, members) if members else None
        roles = (f"Role rewards: giving them to **{len(members):,}** imported members of "
                 "this server in the background; a summary follows here when done."
                 if members else "Role rewards: no imported member of this server has "
                 "reached a level with a role reward.")
        try:
            await ctx.send("**MEE6 import applied.**\n" + plan.summary() + "\n" + roles,
                           ephemeral=True)
        finally:
            if job_id is not None:
                rewards.kick(job_id, notify=lambda text: ctx.send(text, ephemeral=True))
