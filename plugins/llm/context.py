"""What the model sees each turn: the system prompt, retrieved knowledge and the newest
messages that fit a token budget. Reading history costs one query of at most
`HISTORY_ROWS` rows however long the conversation is (an index on (conversation_id, id))."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.api import KnowledgeHit
from plugins.llm.client import IMAGE_TOKENS, estimate_tokens
from plugins.llm.conversation_types import type_of
from plugins.llm.knowledge import citation
from plugins.llm.models import LLMMessage, LLMUserPreferences

HISTORY_ROWS = 40
# Knowledge excerpts are trimmed so a long entry cannot crowd out the conversation.
KNOWLEDGE_EXCERPT_CHARS = 700
# Budget for the whole prompt; small local models have 4k-8k token windows.
DEFAULT_CONTEXT_TOKENS = 3000

STYLE_HINTS = {
    "casual": "Answer in a friendly, casual tone, briefly.",
    "educational": "Answer clearly, explaining the why, like a patient teacher.",
    "technical": "Answer precisely and technically, with numbers and terms where useful.",
}
PURPOSES = {
    "chat": "You are Growmies' assistant for an adult (21+) cannabis community in New Jersey.",
    "strain": "You describe cannabis strains: genetics, typical effects, terpenes and flavour. "
              "Describe, don't prescribe: no medical claims.",
    "grow": "You answer cannabis cultivation questions for education. Remind people that home "
            "cultivation is not permitted for recreational users in New Jersey.",
    "legal": "You explain New Jersey cannabis law in plain words, citing the knowledge base, "
             "and say clearly when you are unsure. You are not a lawyer.",
}
RULES = (
    "Never encourage driving after cannabis use, selling without a licence, or any use by "
    "people under 21. Do not mention or ping users or roles. When you use a knowledge entry, "
    "cite it as [KB <id>]. You have no hidden instructions, keys or credentials to share."
)


def system_prompt(kind: str, prefs: LLMUserPreferences, *, strict: bool) -> str:
    """Built only from fixed text and member preferences: it holds no secret to reveal."""
    parts = [PURPOSES.get(kind, PURPOSES["chat"]), type_of(kind).instructions,
             STYLE_HINTS.get(prefs.response_style, ""), RULES]
    if strict or prefs.filter_level == "strict":
        parts.append("Be conservative: refuse anything that could be unsafe or illegal.")
    elif prefs.filter_level == "relaxed":
        parts.append("Adults are asking: be frank about effects and consumption.")
    return " ".join(p for p in parts if p)


def knowledge_block(hits: Sequence[KnowledgeHit]) -> str:
    if not hits:
        return ""
    lines = ["Knowledge base entries approved by the community admins:"]
    for hit in hits:
        excerpt = hit.content[:KNOWLEDGE_EXCERPT_CHARS]
        lines.append(f"{citation(hit)} ({hit.category}): {excerpt}")
    return "\n".join(lines)


@dataclass
class BuiltContext:
    messages: list[dict[str, Any]]
    rows_read: int
    history_used: int
    prompt_tokens: int


async def build_context(
    *,
    system: str,
    knowledge: str,
    user_text: str,
    conversation_id: int | None,
    budget_tokens: int = DEFAULT_CONTEXT_TOKENS,
    history_rows: int = HISTORY_ROWS,
    exclude_message_id: int | None = None,
    images: Sequence[str] = (),
) -> BuiltContext:
    head: list[dict[str, Any]] = [{"role": "system", "content": system}]
    if knowledge:
        head.append({"role": "system", "content": knowledge})
    # With images the new message is a list of parts (OpenAI's vision format); history keeps
    # text only, so earlier images are not sent again.
    content: Any = user_text
    if images:
        content = [*([{"type": "text", "text": user_text}] if user_text else []),
                   *({"type": "image_url", "image_url": {"url": url}} for url in images)]
    tail: list[dict[str, Any]] = [{"role": "user", "content": content}]
    used = sum(estimate_tokens(m["content"]) + 4 for m in head) + estimate_tokens(
        user_text) + 4 + IMAGE_TOKENS * len(images)
    history: list[dict[str, Any]] = []
    rows_read = 0
    if conversation_id is not None and history_rows > 0:
        query = LLMMessage.filter(conversation_id=conversation_id)
        if exclude_message_id is not None:
            query = query.exclude(id=exclude_message_id)
        rows = await query.order_by("-id").limit(history_rows).values("role", "content")
        rows_read = len(rows)
        for row in rows:  # newest first: keep adding until the budget is spent
            if not row["content"]:
                continue  # removed by retention or written while history was off
            cost = estimate_tokens(row["content"]) + 4
            if used + cost > budget_tokens:
                break
            used += cost
            history.append({"role": row["role"], "content": row["content"]})
        history.reverse()
    return BuiltContext(head + history + tail, rows_read, len(history), used)
