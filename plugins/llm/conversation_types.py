"""The kinds of conversation the design document keeps (general, cannabis education, strain
advice, legal information), each with its own instructions for the model and its own
knowledge scope (the knowledge-base categories it may cite). `/ask grow` keeps its narrower
cultivation kind. A conversation's kind is fixed when it starts and stored in
`llm_conversation.kind`; every later turn (thread message, reply, follow-up) uses it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConversationType:
    key: str  # stored in llm_conversation.kind
    label: str
    # Added to the system prompt after the fixed purpose text.
    instructions: str
    # Knowledge-base categories searched for this kind (empty: all of them).
    categories: tuple[str, ...]
    # Always a cannabis topic: needs the member's cannabis opt-ins, is never answered to an
    # unverified audience, and carries a disclaimer.
    cannabis: bool


TYPES: dict[str, ConversationType] = {t.key: t for t in (
    # "chat" is the stored name general conversations always had.
    ConversationType(
        "chat", "General", "Help with whatever the member asks; consult the knowledge base "
        "only when the question is about cannabis.", (), cannabis=False),
    ConversationType(
        "education", "Cannabis education",
        "Teach: explain how cannabis works (cannabinoids, terpenes, onset and duration, "
        "consumption methods, safe storage), with harm reduction first.",
        ("consumption", "safety", "medical", "cultivation"), cannabis=True),
    ConversationType(
        "strain", "Strain advice",
        "Help the member understand and compare strains (genetics, typical effects, "
        "terpenes, flavour). Describe, don't prescribe: no medical claims.",
        ("strains", "consumption", "safety"), cannabis=True),
    ConversationType(
        "legal", "Legal information",
        "Explain New Jersey cannabis law in plain words, cite the knowledge base for every "
        "rule, and say clearly when you are unsure. You are not a lawyer.",
        ("legal", "safety"), cannabis=True),
    ConversationType(
        "grow", "Cultivation", "Answer cultivation questions for education only.",
        ("cultivation", "safety", "legal"), cannabis=True),
)}
# What a member picks with the `type` option (Discord shows the label, sends the key).
TYPE_CHOICES = {t.label: t.key for t in TYPES.values() if t.key != "grow"}
DEFAULT_TYPE = "chat"


def type_of(kind: str) -> ConversationType:
    """The type of a stored kind; an unknown one (a row from an older version) is general."""
    return TYPES.get(kind, TYPES[DEFAULT_TYPE])
