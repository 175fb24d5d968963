"""One reply with knowledge search as a tool: stream; when the model asks for searches, run
them (scoped to the server), send the results back and stream again; at most MAX_TOOL_ROUNDS
rounds of tools, then the model must answer (tool_choice "none"). Each extra round reserves
its prompt and reply cap before it is sent, so budgets hold. An endpoint that refuses tools
(a 400) gets today's context stuffing instead, and the model is not offered tools again
until restart. Output compliance and the classifier run on the final reply as for any."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from plugins.llm.budget import BudgetExceeded
from plugins.llm.client import (
    Completion,
    ToolsUnsupported,
    UpstreamError,
    estimate_prompt_tokens,
)
from plugins.llm.context import knowledge_block
from plugins.llm.conversation_types import type_of
from plugins.llm.kb_tool import MAX_TOOL_ROUNDS, TOOLS, call_message, run_search

if TYPE_CHECKING:
    from plugins.llm.relay import StreamRelay
    from plugins.llm.service import ChatService, PreparedTurn

log = structlog.get_logger("plugins.llm.tools")

GAVE_UP = "I couldn't finish looking that up; please ask again, a little more specifically."


def model_name(turn: PreparedTurn) -> str | None:
    return turn.model.name if turn.model is not None else None


async def answer(service: ChatService, turn: PreparedTurn, relay: StreamRelay, *,
                 show: bool) -> Completion:
    """The turn's final completion; the usage of earlier rounds is added to the turn."""
    model = model_name(turn)
    if not turn.use_tools:
        return await service._stream(relay, turn.messages, turn.max_tokens, show=show,
                                     model=model)
    messages: list[dict[str, Any]] = list(turn.messages)
    seen = {hit.id for hit in turn.hits}
    for round_ in range(MAX_TOOL_ROUNDS + 1):
        last = round_ == MAX_TOOL_ROUNDS
        if round_:
            await _reserve_more(service, turn, estimate_prompt_tokens(messages) +
                                turn.max_tokens)
        try:
            completion = await service._stream(
                relay, messages, turn.max_tokens, show=show, model=model,
                tools=TOOLS, tool_choice="none" if last else None)
        except ToolsUnsupported:
            return await _without_tools(service, turn, relay, show=show)
        if not completion.tool_calls:
            return completion
        if last:
            # A server that ignores tool_choice: answer without what it wanted.
            log.warning("llm.tool_loop_bounded", rounds=round_, model=model)
            if not completion.text.strip():
                completion.text = GAVE_UP
            return completion
        turn.add_usage(completion)
        messages.append(call_message(completion.text, completion.tool_calls))
        for call in completion.tool_calls:
            # The conversation type's knowledge scope, as for entries in the prompt.
            result = await run_search(service.kb, turn.request.guild_id, call,
                                      scope=type_of(turn.request.kind).categories,
                                      stale_days=service.settings.kb_stale_days)
            if result.error is not None:
                log.info("llm.tool_arguments_rejected", tool=call.name[:40],
                         reason=result.error)
            for hit in result.hits:
                if hit.id not in seen:
                    seen.add(hit.id)
                    turn.hits.append(hit)
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": result.content})
    raise AssertionError("the last round always returns")


async def _reserve_more(service: ChatService, turn: PreparedTurn, tokens: int) -> None:
    assert turn.reservation is not None
    try:
        await service.ledger.extend(turn.reservation, tokens, turn.config, turn.model)
    except BudgetExceeded as exc:
        # Mid-turn: shown as the turn's error ("⚠️ …"), with what was spent settled.
        raise UpstreamError(exc.message, kind="budget") from None


async def _without_tools(service: ChatService, turn: PreparedTurn, relay: StreamRelay, *,
                         show: bool) -> Completion:
    """Today's retrieval: the entries go into the prompt."""
    model = model_name(turn)
    if model is not None:
        service.models.refused_tools.add(model)
    turn.use_tools = False
    messages = list(turn.messages)
    if turn.cannabis:
        turn.hits = await service.retrieve(turn.request)
        block = knowledge_block(turn.hits)
        if block:
            extra = {"role": "system", "content": block}
            await _reserve_more(service, turn, estimate_prompt_tokens([extra]))
            messages.insert(1, extra)
    return await service._stream(relay, messages, turn.max_tokens, show=show, model=model)
