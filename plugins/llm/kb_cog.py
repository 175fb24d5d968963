"""/kb commands: contribute (modal), review (admins) and search the knowledge base."""

from __future__ import annotations

from typing import TYPE_CHECKING

import nextcord
from nextcord.ext import commands

from bot.api import GUILD_ONLY, PluginContext, UserError, guild_of, requires_permissions, user_of
from plugins.llm.budget import guild_config, guild_settings
from plugins.llm.components import (
    FORM_TTL,
    REVIEW_TTL,
    can_contribute,
    entry_modal,
    review_card,
)
from plugins.llm.freshness import (
    fresh_citation,
    freshness_of,
    stale_count,
    stale_entries,
    stale_line,
    verify,
)
from plugins.llm.knowledge import KnowledgeBase
from plugins.llm.models import KB_CATEGORIES

if TYPE_CHECKING:
    from plugins.llm.plugin import LLMPlugin

SEARCH_RESULTS = 5
EXCERPT = 300


class KnowledgeCog(commands.Cog, name="llm_kb"):
    def __init__(self, plugin: LLMPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx

    @property
    def kb(self) -> KnowledgeBase:
        assert self.plugin.chat is not None
        return self.plugin.chat.kb

    @nextcord.slash_command(name="kb", description="The community cannabis knowledge base",
                            contexts=GUILD_ONLY)
    async def kb_group(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @kb_group.subcommand(name="add", description="Submit an entry for admin review")
    async def kb_add(self, interaction: nextcord.Interaction,
                     category: str = nextcord.SlashOption(choices=list(KB_CATEGORIES))) -> None:
        guild_id = guild_of(interaction)
        if not await can_contribute(interaction.user, guild_id):
            raise UserError("Only members with the knowledge contributor role can add entries. "
                            "Admins set it with /llm config kb_role.")
        components = self.ctx.components
        state = await components.create("kb_form", {"category": category},
                                        owner=user_of(interaction),
                                        guild_id=guild_id, ttl=FORM_TTL)
        await interaction.response.send_modal(entry_modal(
            f"New {category} entry", components.custom_id("kb.submit", state)))

    @kb_group.subcommand(name="review", description="Review pending entries (admins)")
    @requires_permissions(manage_guild=True)
    async def kb_review(self, interaction: nextcord.Interaction,
                        entry_id: int | None = nextcord.SlashOption(
                            description="A specific entry to edit or retire", required=False,
                            min_value=1)) -> None:
        guild_id = guild_of(interaction)
        if entry_id is not None:
            entry = await self.kb.get(guild_id, entry_id)
        else:
            pending = await self.kb.next_pending(guild_id)
            if pending is None:
                stale = await stale_count(guild_id or 0, self._stale_days)
                overdue = (f" {stale} approved entr{'y is' if stale == 1 else 'ies are'} "
                           f"overdue for verification: /kb stale." if stale else "")
                await interaction.send(f"No entries are waiting for review.{overdue}",
                                       ephemeral=True)
                return
            entry = pending
        components = self.ctx.components
        state = await components.create("kb_review", {"entry_id": entry.id},
                                        owner=user_of(interaction), guild_id=guild_id,
                                        ttl=REVIEW_TTL)
        card = review_card(components, entry, state.id, await self.kb.pending_count(guild_id))
        await interaction.send(ephemeral=True, **card)

    @kb_group.subcommand(name="verify", description="Confirm an entry is still right "
                         "(admins): restarts its freshness clock")
    @requires_permissions(manage_guild=True)
    async def kb_verify(self, interaction: nextcord.Interaction,
                        entry_id: int = nextcord.SlashOption(min_value=1),
                        accuracy: int | None = nextcord.SlashOption(
                            description="1 (wrong) to 5 (exact)", required=False,
                            min_value=1, max_value=5)) -> None:
        guild_id = guild_of(interaction)
        entry = await self.kb.get(guild_id, entry_id)
        if entry.guild_id is None:
            raise UserError("Starter entries are kept up to date by the Growmies team.")
        await verify(entry, user_of(interaction), accuracy)
        await self.ctx.services.audit.record("llm.kb_verified", guild_id=guild_id,
                                             actor_id=user_of(interaction), target=entry.id,
                                             details={"accuracy": accuracy})
        await interaction.send(f"Verified today: {stale_line(entry)}", ephemeral=True)

    @kb_group.subcommand(name="stale", description="Entries not verified for a while "
                         "(admins)")
    @requires_permissions(manage_guild=True)
    async def kb_stale(self, interaction: nextcord.Interaction) -> None:
        guild_id = guild_of(interaction)
        assert guild_id is not None
        days = self._stale_days
        entries = await stale_entries(guild_id, days)
        if not entries:
            await interaction.send(f"Every entry was verified in the last {days} days.",
                                   ephemeral=True)
            return
        total = await stale_count(guild_id, days)
        lines = "\n".join(stale_line(e) for e in entries)
        more = f"\n…and {total - len(entries)} more." if total > len(entries) else ""
        await interaction.send(
            f"**{total} entr{'y' if total == 1 else 'ies'} not verified for {days} days** "
            f"(answers cite them with their date)\n{lines}{more}\nConfirm one with "
            "`/kb verify entry_id:<id>`, or retire it with `/kb review entry_id:<id>`."[:2000],
            ephemeral=True)

    @kb_group.subcommand(name="notices", description="Where the daily list of newly stale "
                         "entries goes (admins; no options: show it)")
    @requires_permissions(manage_guild=True)
    async def kb_notices(self, interaction: nextcord.Interaction,
                         channel: nextcord.abc.GuildChannel | None = nextcord.SlashOption(
                             description="The reviewers' channel", required=False,
                             channel_types=[nextcord.ChannelType.text]),
                         off: bool | None = nextcord.SlashOption(
                             description="Stop the daily notice", required=False)) -> None:
        guild_id = guild_of(interaction)
        assert guild_id is not None  # GUILD_ONLY
        if channel is not None and not off:
            _require_postable(interaction.guild, channel.id)
        if off or channel is not None:
            channel_id = None if off else getattr(channel, "id", None)
            await guild_settings.update(guild_id, kb_review_channel_id=channel_id)
            await self.ctx.services.audit.record(
                "llm.config_changed", guild_id=guild_id, actor_id=user_of(interaction),
                target="llm", details={"kb_review_channel_id": channel_id})
        current = (await guild_config(guild_id)).kb_review_channel_id
        if current is None:
            await interaction.send("No daily notice of stale entries: choose a channel with "
                                   "`/kb notices channel:`.", ephemeral=True)
            return
        shown = self.ctx.bot.get_channel(current)
        adult = await self.ctx.services.age_gate.is_adults_only_place(shown)
        titles = ("with their titles" if adult else "by number only (titles need a channel "
                  "only verified 21+ members can read)")
        await interaction.send(
            f"Once a day, entries not verified for {self._stale_days} days are listed in "
            f"<#{current}>, {titles}; each once until it is verified again.", ephemeral=True)

    @property
    def _stale_days(self) -> int:
        assert self.plugin.chat is not None
        return self.plugin.chat.settings.kb_stale_days

    @kb_group.subcommand(name="search", description="Search approved entries")
    async def kb_search(self, interaction: nextcord.Interaction,
                        query: str = nextcord.SlashOption(max_length=200)) -> None:
        hits = await self.kb.search(guild_of(interaction), query, SEARCH_RESULTS)
        if not hits:
            await interaction.send("No approved entries match that.", ephemeral=True)
            return
        lines = []
        fresh = await freshness_of([hit.id for hit in hits])
        for hit in hits:
            excerpt = " ".join(hit.content.split())[:EXCERPT]
            cited = fresh_citation(hit, fresh.get(hit.id), self._stale_days)
            lines.append(f"**{cited}** ({hit.category})\n{excerpt}")
        embed = nextcord.Embed(title=f"Knowledge base: {len(hits)} result(s)",
                               description="\n\n".join(lines)[:4096])
        await interaction.send(embed=embed, ephemeral=True)


def _require_postable(guild: nextcord.Guild | None, channel_id: int) -> None:
    """Refuse a notice channel the bot cannot post in, rather than fail quietly each day."""
    me = guild.me if guild is not None else None
    channel = guild.get_channel(channel_id) if guild is not None else None
    perms = channel.permissions_for(me) if channel is not None and me is not None else None
    if perms is None or not (perms.view_channel and perms.send_messages):
        raise UserError(f"Not saved: I can't post in <#{channel_id}>. Give me View Channel and "
                        "Send Messages there, then run this again.")
