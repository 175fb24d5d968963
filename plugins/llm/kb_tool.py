"""Knowledge search as an OpenAI tool: the schema offered to the model, the check of the
arguments it writes (anything the schema rejects becomes an error result the model reads,
never an exception), and the scoped search whose results go back as the tool message."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plugins.llm.freshness import freshness_of
from plugins.llm.models import KB_CATEGORIES

if TYPE_CHECKING:
    from bot.api import KnowledgeHit
    from plugins.llm.client import ToolCall
    from plugins.llm.knowledge import KnowledgeBase

TOOL_NAME = "search_knowledge"
# A model that keeps asking is answered without tools after this many rounds.
MAX_TOOL_ROUNDS = 3
MAX_QUERY = 200
MAX_RESULTS = 5
DEFAULT_RESULTS = 3
RESULT_EXCERPT_CHARS = 700
# What a model may write as arguments: a JSON object far longer than any query is refused
# before it is parsed.
MAX_ARGUMENT_CHARS = 2000

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY,
                  "description": "Plain words to search for, e.g. 'possession limit'."},
        "category": {"type": "string", "enum": list(KB_CATEGORIES),
                     "description": "Only entries of this category."},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS,
                  "description": f"How many entries (default {DEFAULT_RESULTS})."},
    },
    "required": ["query"],
    "additionalProperties": False,
}
TOOLS: list[dict[str, Any]] = [{
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": ("Search this community's admin-approved cannabis knowledge base (New "
                        "Jersey law, safety, cultivation, strains). Cite entries you use as "
                        "[KB <id>]; an entry marked stale may be out of date."),
        "parameters": PARAMETERS,
    },
}]


class ArgumentsRejected(ValueError):
    pass


def parse_arguments(name: str, raw: str) -> dict[str, Any]:
    """The call's arguments when the schema accepts them; raises ArgumentsRejected saying why
    (the model reads the reason and may try again)."""
    if name != TOOL_NAME:
        raise ArgumentsRejected(f"unknown tool {name[:40]!r}; the only tool is {TOOL_NAME!r}")
    if len(raw) > MAX_ARGUMENT_CHARS:
        raise ArgumentsRejected(f"arguments longer than {MAX_ARGUMENT_CHARS} characters")
    try:
        args = json.loads(raw or "{}")
    except ValueError:
        raise ArgumentsRejected("arguments are not valid JSON") from None
    if not isinstance(args, dict):
        raise ArgumentsRejected("arguments must be a JSON object")
    unknown = sorted(set(args) - set(PARAMETERS["properties"]))
    if unknown:
        raise ArgumentsRejected(f"unknown argument(s): {', '.join(unknown)[:80]}")
    query = args.get("query")
    if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY:
        raise ArgumentsRejected(f"'query' must be a string of 1 to {MAX_QUERY} characters")
    category = args.get("category")
    if category is not None and category not in KB_CATEGORIES:
        raise ArgumentsRejected(f"'category' must be one of {', '.join(KB_CATEGORIES)}")
    limit = args.get("limit", DEFAULT_RESULTS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise ArgumentsRejected(f"'limit' must be an integer from 1 to {MAX_RESULTS}")
    return {"query": query.strip(), "category": category, "limit": limit}


@dataclass
class ToolResult:
    content: str  # the JSON text sent back as the tool message
    hits: list[KnowledgeHit] = field(default_factory=list)
    error: str | None = None


async def run_search(kb: KnowledgeBase, guild_id: int | None, call: ToolCall, *,
                     scope: Sequence[str] = (), stale_days: int) -> ToolResult:
    """Run one call, scoped to this server's entries and the starter set (and to `scope`'s
    categories when the conversation has one)."""
    try:
        args = parse_arguments(call.name, call.arguments)
    except ArgumentsRejected as exc:
        return ToolResult(json.dumps({"error": f"Arguments rejected: {exc}. Call "
                                      f"{TOOL_NAME} with {{\"query\": \"...\"}}."}),
                          error=str(exc))
    categories: list[str] = list(scope)
    if args["category"] is not None:
        if categories and args["category"] not in categories:
            return ToolResult(json.dumps({"results": [], "note": "category out of scope"}))
        categories = [args["category"]]
    hits = await kb.search(guild_id, args["query"], args["limit"], categories)
    fresh = await freshness_of([h.id for h in hits])
    results = []
    for hit in hits:
        info = fresh.get(hit.id)
        results.append({
            "id": hit.id, "cite_as": f"[KB {hit.id}]", "title": hit.title,
            "category": hit.category, "tags": info.tags if info else "",
            "source_url": hit.source_url, "content": hit.content[:RESULT_EXCERPT_CHARS],
            "last_verified": info.verified_on.isoformat() if info else None,
            "stale": bool(info and info.stale(stale_days)),
            "accuracy_rating": info.accuracy if info else None,
        })
    return ToolResult(json.dumps({"results": results}), hits)


def call_message(text: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
    """The assistant message that asked for `calls`, as the API wants it echoed back."""
    return {"role": "assistant", "content": text or None, "tool_calls": [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in calls]}
