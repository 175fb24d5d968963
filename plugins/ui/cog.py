"""Slash commands of the ui plugin: each one translates the interaction into service calls."""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

import nextcord
from nextcord.ext import commands

from bot.api import (
    GUILD_ONLY,
    UserError,
    answer_autocomplete,
    guild_of,
    requires_permissions,
    user_of,
)
from plugins.ui import cards, strains
from plugins.ui.components import (
    STRAIN_FEATURE,
    send_card,
    send_explorer,
    send_recommendations,
)
from plugins.ui.forms import (
    COMPLIANCE_FORM,
    GROW_FORM,
    QUIZ_ADD_FORM,
    STRAIN_ADD_FORM,
    STRAIN_EDIT_FORM,
)
from plugins.ui.quiz import QUIZ_CATEGORIES
from plugins.ui.quiz_components import QUIZ_FEATURE, start_quiz

if TYPE_CHECKING:
    from bot.api import PluginContext

GROW_FEATURE = "grow_wizard"
COMPLIANCE_FEATURE = "compliance_check"
EFFECT_CHOICES = {effect: effect for effect in strains.EFFECTS}
EXPERIENCE_CHOICES = {level.title(): level for level in strains.EXPERIENCE}
CATEGORY_CHOICES = {label: key for key, label in QUIZ_CATEGORIES.items()}


async def strain_choices(query: str) -> list[tuple[str, str]]:
    """Autocomplete source: (label shown, strain name sent back)."""
    return [(cards.choice_label(s), s.name) for s in await strains.autocomplete_strains(query)]


async def resolve_strain(name: str) -> strains.Strain:
    strain = await strains.find_strain(name)
    if strain is not None:
        return strain
    close = await strains.suggestions(name)
    hint = f" Did you mean {', '.join(f'**{n}**' for n in close)}?" if close else ""
    shown = " ".join(name.split())[:60] or "that"
    raise UserError(f"I don't know a strain called “{shown}”.{hint} Pick one from the list "
                    "as you type.")


# Every command is 21+ and age verification is per server, so Discord offers them only there.
class UICog(commands.Cog, name="ui"):
    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx
        # A guild lives in exactly one shard process, so a per-member lock here makes the
        # daily-limit check and the attempt insert atomic against simultaneous /quiz start.
        self._quiz_locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    # ----- /strain ------------------------------------------------------------------------
    @nextcord.slash_command(name="strain", description="Explore cannabis strains (21+)",
                            contexts=GUILD_ONLY)
    async def strain(self, interaction: nextcord.Interaction) -> None:
        """Group: only its subcommands run."""

    @strain.subcommand(name="info", description="A strain's card: type, THC/CBD, effects")
    async def strain_info(
        self, interaction: nextcord.Interaction,
        name: str = nextcord.SlashOption(description="Strain name", autocomplete=True),
    ) -> None:
        strain = await resolve_strain(name)
        await send_card(self.ctx, interaction, strain, shared=True)

    async def _autocomplete_names(self, interaction: nextcord.Interaction, typed: str) -> None:
        # Strain names are 21+ content too: the core gives members who are not verified an
        # empty list before this runs (the plugin is rated adults_only).
        await answer_autocomplete(interaction, typed, strain_choices)

    @strain_info.on_autocomplete("name")
    async def _strain_info_names(self, interaction: nextcord.Interaction, name: str) -> None:
        await self._autocomplete_names(interaction, name)

    @strain.subcommand(name="recommend", description="Strains known for an effect")
    async def strain_recommend(
        self, interaction: nextcord.Interaction,
        effect: str = nextcord.SlashOption(description="The effect you want",
                                           choices=EFFECT_CHOICES),
        experience: str | None = nextcord.SlashOption(
            description="Your experience with cannabis", choices=EXPERIENCE_CHOICES,
            required=False, default=None),
    ) -> None:
        if effect not in strains.EFFECTS or (experience and experience not in strains.EXPERIENCE):
            raise UserError("Pick the effect and experience from the lists.")
        await send_recommendations(self.ctx, interaction, effect, experience)

    @strain.subcommand(name="explore", description="Browse strains by category")
    async def strain_explore(self, interaction: nextcord.Interaction) -> None:
        await send_explorer(self.ctx, interaction)

    @strain.subcommand(name="add", description="Add a strain (admins)")
    @requires_permissions(manage_guild=True)
    async def strain_add(self, interaction: nextcord.Interaction) -> None:
        await self.ctx.start_form(interaction, STRAIN_ADD_FORM, age_feature=STRAIN_FEATURE)

    @strain.subcommand(name="edit", description="Edit a strain (admins)")
    @requires_permissions(manage_guild=True)
    async def strain_edit(
        self, interaction: nextcord.Interaction,
        name: str = nextcord.SlashOption(description="Strain to edit", autocomplete=True),
    ) -> None:
        strain = await resolve_strain(name)
        await self.ctx.start_form(interaction, STRAIN_EDIT_FORM, {"strain_id": strain.id},
                                  age_feature=STRAIN_FEATURE)

    @strain_edit.on_autocomplete("name")
    async def _strain_edit_names(self, interaction: nextcord.Interaction, name: str) -> None:
        await self._autocomplete_names(interaction, name)

    # ----- /quiz --------------------------------------------------------------------------
    @nextcord.slash_command(name="quiz", description="Cannabis knowledge quizzes (21+)",
                            contexts=GUILD_ONLY)
    async def quiz(self, interaction: nextcord.Interaction) -> None:
        """Group: only its subcommands run."""

    @quiz.subcommand(name="start", description="Start a quiz")
    async def quiz_start(
        self, interaction: nextcord.Interaction,
        category: str | None = nextcord.SlashOption(description="Question category",
                                                    choices=CATEGORY_CHOICES, required=False,
                                                    default=None),
    ) -> None:
        if category is not None and category not in QUIZ_CATEGORIES:
            raise UserError("Pick a category from the list.")
        key = (guild_of(interaction), user_of(interaction))
        lock = self._quiz_locks.get(key)
        if lock is None:
            lock = self._quiz_locks[key] = asyncio.Lock()
        async with lock:
            await start_quiz(self.ctx, interaction, *key, category)

    @quiz.subcommand(name="add", description="Add a quiz question (admins)")
    @requires_permissions(manage_guild=True)
    async def quiz_add(self, interaction: nextcord.Interaction) -> None:
        await self.ctx.start_form(interaction, QUIZ_ADD_FORM, age_feature=QUIZ_FEATURE)

    # ----- /grow, /compliance -------------------------------------------------------------
    @nextcord.slash_command(name="grow", description="Growing guides (21+)",
                            contexts=GUILD_ONLY)
    async def grow(self, interaction: nextcord.Interaction) -> None:
        """Group: only its subcommands run."""

    @grow.subcommand(name="wizard", description="A step-by-step guide for your setup")
    async def grow_wizard(self, interaction: nextcord.Interaction) -> None:
        await self.ctx.start_form(interaction, GROW_FORM, age_feature=GROW_FEATURE)

    @nextcord.slash_command(name="compliance", description="New Jersey cannabis law (21+)",
                            contexts=GUILD_ONLY)
    async def compliance(self, interaction: nextcord.Interaction) -> None:
        """Group: only its subcommands run."""

    @compliance.subcommand(name="check", description="What NJ law says about your plan")
    async def compliance_check(self, interaction: nextcord.Interaction) -> None:
        await self.ctx.start_form(interaction, COMPLIANCE_FORM,
                                  age_feature=COMPLIANCE_FEATURE)
