"""Member preferences for the assistant (/chat settings), with the safety-reminder cadence."""

from __future__ import annotations

from typing import Any

from bot.api import UserError
from plugins.llm.models import FILTER_LEVELS, RESPONSE_STYLES, LLMMessage, LLMUserPreferences
from plugins.llm.safety import REMINDER_EVERY

MIN_LENGTH, MAX_LENGTH = 50, 4000


class PreferenceStore:
    async def get(self, user_id: int) -> LLMUserPreferences:
        """The member's row, or an unsaved one with the defaults."""
        prefs = await LLMUserPreferences.get_or_none(user_id=user_id)
        return prefs or LLMUserPreferences(user_id=user_id)

    async def update(self, user_id: int, **changes: Any) -> LLMUserPreferences:
        changes = {k: v for k, v in changes.items() if v is not None}
        if "response_style" in changes and changes["response_style"] not in RESPONSE_STYLES:
            raise UserError(f"Style must be one of: {', '.join(RESPONSE_STYLES)}.")
        if "filter_level" in changes and changes["filter_level"] not in FILTER_LEVELS:
            raise UserError(f"Filter level must be one of: {', '.join(FILTER_LEVELS)}.")
        if "max_length" in changes and not MIN_LENGTH <= changes["max_length"] <= MAX_LENGTH:
            raise UserError(f"Maximum length must be between {MIN_LENGTH} and {MAX_LENGTH} "
                            "tokens.")
        prefs, _ = await LLMUserPreferences.get_or_create(user_id=user_id)
        for key, value in changes.items():
            setattr(prefs, key, value)
        await prefs.save()
        if changes.get("history_enabled") is False:
            # Content is kept only while history is on: turning it off forgets it now.
            await forget_history(user_id)
        return prefs

    async def reminder_due(self, prefs: LLMUserPreferences) -> bool:
        """True on a member's first cannabis answer and then every REMINDER_EVERY answers."""
        due = prefs.answers_since_reminder == 0
        prefs.answers_since_reminder = (prefs.answers_since_reminder + 1) % REMINDER_EVERY
        await LLMUserPreferences.update_or_create(
            defaults={"answers_since_reminder": prefs.answers_since_reminder},
            user_id=prefs.user_id,
        )
        return due


async def forget_history(user_id: int) -> int:
    """Empty the content of every message in this member's conversations, and of what they
    wrote in other members' conversations."""
    from tortoise.expressions import Q

    from plugins.llm.models import LLMConversation

    conversation_ids = await LLMConversation.filter(user_id=user_id).values_list("id", flat=True)
    return await LLMMessage.filter(
        Q(conversation_id__in=list(conversation_ids)) | Q(user_id=user_id)).exclude(
        content="").update(content="")


def describe(prefs: LLMUserPreferences) -> str:
    def on(flag: bool) -> str:
        return "on" if flag else "off"

    return (
        f"**Your assistant settings**\n"
        f"Response style: {prefs.response_style}\n"
        f"Maximum length: {prefs.max_length} tokens\n"
        f"History: {on(prefs.history_enabled)}\n"
        f"Cannabis assistance: {on(prefs.cannabis_assistance)}\n"
        f"Strain recommendations: {on(prefs.strain_recommendations)}\n"
        f"Legal information: {on(prefs.legal_information)}\n"
        f"Content filter: {prefs.filter_level}"
    )
