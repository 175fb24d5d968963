"""Knowledge-base controls: the contribution modal and the admin review buttons (approve,
reject, edit, retire). State lives in the core's component store, so buttons survive
restarts; every handler re-checks permissions, failing closed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nextcord

from bot.api import (
    ComponentHandler,
    MissingPermissions,
    PluginComponents,
    PluginContext,
    UserError,
    button,
    controls,
    member_has,
    modal,
    text_input,
    uses_state,
)
from plugins.llm.budget import guild_config
from plugins.llm.knowledge import (
    MAX_CONTENT,
    MAX_TAGS,
    MAX_TITLE,
    MAX_URL,
    EntryDraft,
    KnowledgeBase,
)
from plugins.llm.models import CannabisKnowledgeBase

if TYPE_CHECKING:
    from bot.api import ComponentContext
    from plugins.llm.plugin import LLMPlugin

REVIEW_TTL = timedelta(days=7)
FORM_TTL = timedelta(hours=1)
# Discord embed descriptions hold 4,096 characters; entries hold at most 4,000.
EMBED_DESCRIPTION = 4096
DECISIONS = {"kb.approve": "approve", "kb.reject": "reject", "kb.retire": "retire"}


async def can_contribute(member: Any, guild_id: int | None) -> bool:
    """Admins, and members holding the guild's configured contributor role."""
    if member_has(member, {"manage_guild"}):
        return True
    config = await guild_config(guild_id)
    role_id = config.kb_contributor_role_id
    roles = getattr(member, "roles", None) or []
    return role_id is not None and any(getattr(r, "id", None) == role_id for r in roles)


def entry_modal(title: str, custom_id: str, entry: CannabisKnowledgeBase | None = None,
                *, with_category: bool = False) -> nextcord.ui.Modal:
    inputs = []
    if with_category:
        inputs.append(text_input("Category", "category", max_length=16,
                                 default=entry.category if entry else None))
    inputs += [
        text_input("Title", "title", max_length=MAX_TITLE, default=entry.title if entry else None),
        text_input("Content", "content", long=True, max_length=MAX_CONTENT,
                   default=entry.content if entry else None),
        text_input("Tags (comma separated)", "tags", required=False, max_length=MAX_TAGS,
                   default=entry.tags if entry else None),
        text_input("Source URL (https://…)", "source_url", required=False, max_length=MAX_URL,
                   default=(entry.source_url or None) if entry else None),
    ]
    return modal(title, custom_id, inputs)


def review_card(components: PluginComponents, entry: CannabisKnowledgeBase, state_id: str,
                pending_left: int) -> dict[str, Any]:
    embed = nextcord.Embed(title=f"[KB {entry.id}] {entry.title}"[:256],
                           description=entry.content[:EMBED_DESCRIPTION])
    embed.add_field(name="Category", value=entry.category)
    embed.add_field(name="Status", value=entry.status)
    embed.add_field(name="Tags", value=entry.tags or "—")
    embed.add_field(name="Source", value=entry.source_url or "—", inline=False)
    author = f"<@{entry.author_id}>" if entry.author_id else "starter set"
    embed.set_footer(text=f"Pending reviews: {pending_left}")
    cid = components.custom_id
    view = controls(
        button("Approve", cid("kb.approve", state_id),
               style=nextcord.ButtonStyle.success, disabled=entry.status == "approved"),
        button("Reject", cid("kb.reject", state_id),
               style=nextcord.ButtonStyle.danger, disabled=entry.status != "pending"),
        button("Edit", cid("kb.edit", state_id)),
        button("Retire", cid("kb.retire", state_id), disabled=entry.status != "approved"),
    )
    return {"content": f"Submitted by {author}", "embed": embed, "view": view}


class LLMComponents:
    def __init__(self, plugin: LLMPlugin) -> None:
        self.plugin = plugin

    def handlers(self) -> Mapping[str, ComponentHandler]:
        handlers: dict[str, ComponentHandler] = {
            "kb.submit": self.on_submit, "kb.edit": self.on_edit,
            "kb.save": self.on_edit_save,
        }
        for action in DECISIONS:
            handlers[action] = self.on_decision
        return handlers

    @property
    def ctx(self) -> PluginContext:
        # Handlers run only after setup, which binds the plugin's context.
        assert self.plugin.ctx is not None
        return self.plugin.ctx

    @property
    def kb(self) -> KnowledgeBase:
        assert self.plugin.chat is not None
        return self.plugin.chat.kb

    # Each handler names the state-row kinds it reads: a row made for one control can't drive
    # another. The review card's buttons (and its Edit modal) all read the "kb_review" row.
    @uses_state("kb_form")
    async def on_submit(self, ctx: ComponentContext) -> None:
        if not await can_contribute(ctx.interaction.user, ctx.guild_id):
            raise UserError("Only members with the knowledge contributor role can add entries.")
        fields = ctx.fields
        draft = EntryDraft.validated(ctx.data.get("category", ""), fields.get("title", ""),
                                     fields.get("content", ""), fields.get("tags", ""),
                                     fields.get("source_url"))
        await ctx.advance({**ctx.data, "done": True})
        entry = await self.kb.add(ctx.guild_id, ctx.user_id, draft)
        await ctx.services.audit.record("llm.kb_added", guild_id=ctx.guild_id,
                                        actor_id=ctx.user_id, target=f"kb:{entry.id}",
                                        details={"category": entry.category})
        await ctx.send(f"Thanks! **[KB {entry.id}] {entry.title}** is pending review by an "
                       "admin.")

    async def _reviewable(self, ctx: ComponentContext) -> CannabisKnowledgeBase:
        # Review is for admins; the state's owner check already refuses other members, and
        # this refuses an owner who has since lost the permission.
        if not member_has(ctx.interaction.user, {"manage_guild"}):
            raise MissingPermissions({"manage_guild"})
        return await self.kb.get(ctx.guild_id, int(ctx.data["entry_id"]))

    @uses_state("kb_review")
    async def on_decision(self, ctx: ComponentContext) -> None:
        entry = await self._reviewable(ctx)
        decision = DECISIONS[ctx.custom_id.action]
        if decision == "reject" and entry.status != "pending":
            raise UserError("Only pending entries can be rejected; retire approved ones.")
        if decision == "retire" and entry.status != "approved":
            raise UserError("Only approved entries can be retired.")
        if entry.guild_id is None and decision != "retire":
            raise UserError("Starter entries can be edited or retired, not re-reviewed.")
        await ctx.advance({**ctx.data, "last": decision})
        await self.kb.review(entry, ctx.user_id, decision)
        await ctx.services.audit.record("llm.kb_reviewed", guild_id=ctx.guild_id,
                                        actor_id=ctx.user_id, target=f"kb:{entry.id}",
                                        details={"decision": decision})
        await self.show_next(ctx, f"{decision.capitalize()}d [KB {entry.id}] {entry.title}.")

    async def show_next(self, ctx: ComponentContext, done: str) -> None:
        nxt = await self.kb.next_pending(ctx.guild_id)
        if nxt is None:
            await ctx.edit(content=f"{done} No more entries are waiting for review.",
                           embed=None, view=controls())
            return
        components = self.ctx.components
        state = await components.create("kb_review", {"entry_id": nxt.id}, owner=ctx.user_id,
                                        guild_id=ctx.guild_id, ttl=REVIEW_TTL)
        card = review_card(components, nxt, state.id, await self.kb.pending_count(ctx.guild_id))
        card["content"] = f"{done}\n{card['content']}"
        await ctx.edit(**card)

    @uses_state("kb_review")
    async def on_edit(self, ctx: ComponentContext) -> None:
        entry = await self._reviewable(ctx)
        assert ctx.state is not None
        await ctx.interaction.response.send_modal(entry_modal(
            f"Edit KB {entry.id}", self.ctx.components.custom_id("kb.save", ctx.state.id),
            entry, with_category=True))

    @uses_state("kb_review")
    async def on_edit_save(self, ctx: ComponentContext) -> None:
        entry = await self._reviewable(ctx)
        fields = ctx.fields
        draft = EntryDraft.validated(fields.get("category", ""), fields.get("title", ""),
                                     fields.get("content", ""), fields.get("tags", ""),
                                     fields.get("source_url"))
        await self.kb.edit(entry, ctx.user_id, draft)
        await ctx.services.audit.record("llm.kb_edited", guild_id=ctx.guild_id,
                                        actor_id=ctx.user_id, target=f"kb:{entry.id}",
                                        details={"category": draft.category})
        await ctx.send(f"Saved [KB {entry.id}] {draft.title}.")
