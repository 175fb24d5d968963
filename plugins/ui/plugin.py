from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from bot.api import ADULTS_ONLY, ComponentHandler, Plugin, PluginContext
from plugins.ui import components, forms, quiz, quiz_components, strains
from plugins.ui.models import QuizQuestion, Strain

if TYPE_CHECKING:
    from nextcord.ext import commands


class UIPlugin(Plugin):
    name = "ui"
    version = "0.1.0"
    description = "Strain explorer, grow wizard, NJ compliance checker and quizzes."
    data_statement = (
        "Stores your quiz attempts (time, category, score) and quiz answers; strains and quiz "
        "questions record which admin added them. Grow-wizard and compliance-check answers "
        "live only in the form's expiring state (7 days) and the audit log keeps a summary."
    )
    models = "plugins.ui.models"
    # Strains, grow guides, NJ cannabis law and cannabis quizzes: every surface is 21+.
    rating = ADULTS_ONLY

    def __init__(self) -> None:
        # Built in setup: the handlers that answer with new controls need the plugin context.
        self._strains: components.StrainControls | None = None
        self._quiz: quiz_components.QuizControls | None = None

    async def setup(self, ctx: PluginContext) -> None:
        self._strains = components.StrainControls(ctx)
        self._quiz = quiz_components.QuizControls(ctx)
        blocks = ctx.services.blocks
        blocks.page_source(components.STRAIN_PAGES, components.StrainPages())
        blocks.callback(components.OPEN_CARD, self._strains.open_card)
        blocks.callback(forms.GROW_DONE, components.grow_done)
        blocks.callback(forms.COMPLIANCE_DONE, components.compliance_done)
        blocks.callback(forms.STRAIN_SAVED, components.strain_saved)
        blocks.callback(forms.QUIZ_ADDED, quiz_components.question_added)
        for make_form in forms.ALL_FORMS:
            blocks.form(make_form())
        # Fresh installs get the starter data without running `growmies seed`.
        if not await Strain.exists():
            try:
                added = await self.seed()
            except IntegrityError:
                # Another shard process seeded the same rows at the same moment.
                ctx.log.info("ui.seed_raced")
            else:
                ctx.log.info("ui.seeded", records=added)

    async def seed(self) -> int:
        """Load the shipped strains and starter quiz questions; idempotent."""
        return await strains.seed_strains() + await quiz.seed_questions()

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        from plugins.ui.cog import UICog

        return [UICog(ctx)]

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        # The core asks for these after setup, which built the bound handlers.
        assert self._strains is not None and self._quiz is not None
        return {
            "strain.details": components.on_details,
            "strain.effects": components.on_effects,
            "strain.grow": components.on_growing,
            "strain.pick": self._strains.on_pick,
            "explore.cat": self._strains.on_explore_category,
            "quiz.answer": self._quiz.on_answer,
        }

    async def delete_user_data(self, user_id: int) -> int:
        removed = await quiz.delete_member_data(user_id)
        # Strains and questions an admin added stay for the community, without their name.
        removed += await Strain.filter(created_by=user_id).update(created_by=None)
        removed += await QuizQuestion.filter(created_by=user_id).update(created_by=None)
        return removed

    async def export_user_data(self, user_id: int) -> dict[str, Any]:
        return await quiz.export_member_data(user_id)
