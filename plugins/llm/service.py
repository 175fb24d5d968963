"""One assistant turn, free of Discord types: checks (input, endpoint, 21+ gate, safety,
rate, budget), retrieval, context, the streamed reply through a MessageSink, output
compliance, persistence, usage, audit and XP."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from tortoise.expressions import F

from bot.errors import UserError
from bot.services import KnowledgeHit
from plugins.llm import safety
from plugins.llm.budget import (
    XP_ANSWERS_PER_DAY,
    XP_PER_ANSWER,
    RequestRateLimiter,
    UsageLedger,
    guild_config,
)
from plugins.llm.client import (
    NOT_CONFIGURED,
    ChatClient,
    Completion,
    ContextTooLong,
    UpstreamError,
)
from plugins.llm.context import build_context, knowledge_block, system_prompt
from plugins.llm.knowledge import KnowledgeBase, citation
from plugins.llm.models import LLMConversation, LLMGuildConfig, LLMMessage
from plugins.llm.preferences import PreferenceStore
from plugins.llm.relay import MessageSink, StreamRelay

if TYPE_CHECKING:
    from bot.services import CoreServices
    from bot.settings import Settings
    from plugins.llm.models import LLMUserPreferences

log = structlog.get_logger("plugins.llm.service")

MAX_INPUT_CHARS = 4000
KNOWLEDGE_HITS = 3
# Only the tail of the reply is re-checked per sentence: constant work however long it grows.
_CHECK_WINDOW = 600
_SENTENCE_END = re.compile(r"[.!?\n]")
FEATURES = {"chat": "llm.chat", "strain": "llm.strain", "grow": "llm.grow", "legal": "llm.legal"}


class UnsafeOutput(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ChatRequest:
    guild_id: int | None
    user_id: int
    text: str
    kind: str = "chat"  # chat | strain | grow | legal
    conversation: LLMConversation | None = None
    # The router already asked the age gate (the slash command is @age_restricted).
    gate_checked: bool = False


@dataclass
class PreparedTurn:
    request: ChatRequest
    prefs: LLMUserPreferences
    config: LLMGuildConfig
    cannabis: bool
    feature: str


@dataclass
class TurnResult:
    outcome: str  # answered | incomplete | refused | error
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cited: list[int] = field(default_factory=list)


class ChatService:
    def __init__(
        self,
        *,
        settings: Settings,
        services: CoreServices,
        client: ChatClient | None,
        verify_view: Callable[[], Any] = lambda: None,
    ) -> None:
        self.settings = settings
        self.services = services
        self.client = client
        self.verify_view = verify_view
        self.kb = KnowledgeBase()
        self.ledger = UsageLedger()
        self.limiter = RequestRateLimiter()
        self.prefs = PreferenceStore()

    # ------------------------------------------------------------------ checks
    async def prepare(self, request: ChatRequest) -> PreparedTurn:
        """Every refusal that costs no tokens; raises UserError with the member's message."""
        text = request.text.strip()
        if not text:
            raise UserError("Your message is empty — tell me what you'd like to know.")
        if len(text) > MAX_INPUT_CHARS:
            raise UserError(f"Your message is {len(text):,} characters; the limit is "
                            f"{MAX_INPUT_CHARS:,}. Please shorten it.")
        request.text = text
        if self.client is None:
            raise UserError(NOT_CONFIGURED)
        feature = FEATURES.get(request.kind, "llm.chat")
        prefs = await self.prefs.get(request.user_id)
        cannabis = request.kind != "chat" or safety.is_cannabis_topic(text)
        if cannabis:
            self._check_opt_ins(request.kind, prefs)
            if not request.gate_checked:
                decision = await self.services.age_gate.check(request.guild_id, request.user_id,
                                                               feature)
                if not decision.allowed:
                    raise UserError(decision.message or "This is 21+ content.",
                                    view=self.verify_view())
        strict = self.settings.cannabis_content_strict_mode or prefs.filter_level == "strict"
        reason = safety.request_refusal_reason(text, strict=strict)
        if reason is not None:
            await self._audit(request, feature, "refused", reason=reason)
            raise UserError(safety.REFUSAL)
        config = await guild_config(request.guild_id)
        wait = self.limiter.hit(request.guild_id, request.user_id, config.requests_per_minute)
        if wait > 0:
            await self._audit(request, feature, "refused", reason="rate_limited")
            raise UserError(f"You're asking quickly — try again in {max(1, round(wait))} s "
                            f"(limit: {config.requests_per_minute} a minute).")
        try:
            await self.ledger.check(request.guild_id, request.user_id, config)
        except UserError:
            await self._audit(request, feature, "refused", reason="budget")
            raise
        return PreparedTurn(request, prefs, config, cannabis, feature)

    @staticmethod
    def _check_opt_ins(kind: str, prefs: LLMUserPreferences) -> None:
        if not prefs.cannabis_assistance:
            raise UserError("You turned cannabis assistance off; turn it on with "
                            "/chat settings cannabis_assistance:True.")
        if kind == "strain" and not prefs.strain_recommendations:
            raise UserError("You turned strain recommendations off in /chat settings.")
        if kind == "legal" and not prefs.legal_information:
            raise UserError("You turned legal information off in /chat settings.")

    # ------------------------------------------------------------------ the turn
    async def respond(self, turn: PreparedTurn, sink: MessageSink) -> TurnResult:
        assert self.client is not None
        request, prefs = turn.request, turn.prefs
        strict = self.settings.cannabis_content_strict_mode
        query = f"{request.kind} {request.text}" if request.kind == "strain" else request.text
        # Only cannabis topics consult the knowledge base: a recipe question gains nothing
        # from citations of New Jersey law.
        hits = await self.kb.search(request.guild_id, query, KNOWLEDGE_HITS) \
            if turn.cannabis else []
        conversation = request.conversation
        history = prefs.history_enabled and conversation is not None
        user_row = None
        if conversation is not None:
            user_row = await LLMMessage.create(
                conversation=conversation, user_id=request.user_id, role="user",
                content=request.text if prefs.history_enabled else "",
            )
        context = await build_context(
            system=system_prompt(request.kind, prefs, strict=strict),
            knowledge=knowledge_block(hits), user_text=request.text,
            conversation_id=conversation.id if history and conversation else None,
            exclude_message_id=user_row.id if user_row else None,
        )
        relay = StreamRelay(sink, render=safety.neutralise_mentions)
        await relay.start()
        try:
            return await self._run(turn, relay, context.messages, hits)
        except Exception:
            # Never leave "Thinking…" behind: the router logs the error with a reference.
            with contextlib.suppress(Exception):
                await relay.fail("⚠️ Something went wrong answering that; try again.")
            raise

    async def _run(self, turn: PreparedTurn, relay: StreamRelay,
                   messages: list[dict[str, str]], hits: list[KnowledgeHit]) -> TurnResult:
        request, prefs, conversation = turn.request, turn.prefs, turn.request.conversation
        max_tokens = max(16, min(prefs.max_length, self.settings.openai_max_tokens))
        try:
            completion = await self._stream(relay, messages, max_tokens)
        except ContextTooLong:
            # Retry once with only the new message: the history is what overflowed.
            relay.text = ""
            retry = await build_context(system=messages[0]["content"], knowledge="",
                                        user_text=request.text, conversation_id=None)
            try:
                completion = await self._stream(relay, retry.messages, max_tokens)
            except UpstreamError as exc:
                return await self._failed(turn, relay, exc)
        except UpstreamError as exc:
            return await self._failed(turn, relay, exc)
        except UnsafeOutput as exc:
            return await self._refused(turn, relay, exc.reason, conversation)
        reason = safety.unsafe_reason(completion.text)
        if reason is not None:
            return await self._refused(turn, relay, reason, conversation)
        final, cited = await self._decorate(turn, completion, hits)
        outcome = "incomplete" if completion.incomplete else "answered"
        # Bookkeeping first, the final edit last: once a member sees the whole answer, its
        # rows, usage and audit entry exist.
        requests_today = await self._persist(turn, conversation, completion, refused=False)
        await self.kb.count_use(cited)
        await self._audit(request, turn.feature, outcome, completion=completion)
        await self._award_xp(request, requests_today)
        shown = await relay.finish(final, cut_off=completion.incomplete)
        return TurnResult(outcome, shown, completion.prompt_tokens, completion.completion_tokens,
                          cited)

    async def _stream(self, relay: StreamRelay, messages: list[dict[str, str]],
                      max_tokens: int) -> Completion:
        assert self.client is not None
        text = ""

        def on_delta(delta: str) -> None:
            # Each sentence is checked when it completes: checking a half sentence would refuse
            # "Driving high is illegal" before "illegal" arrives. An unsafe sentence can thus
            # be visible for a moment before the whole reply is replaced by the refusal.
            nonlocal text
            text += delta
            if _SENTENCE_END.search(delta):
                end = max(text.rfind(mark) for mark in ".!?\n") + 1
                reason = safety.unsafe_reason(text[max(0, end - _CHECK_WINDOW):end])
                if reason is not None:
                    raise UnsafeOutput(reason)
            relay.feed(delta)

        return await self.client.stream(messages, max_tokens=max_tokens, on_delta=on_delta)

    async def _decorate(self, turn: PreparedTurn, completion: Completion,
                        hits: list[KnowledgeHit]) -> tuple[str, list[int]]:
        text = completion.text
        cited = [h.id for h in hits if f"[KB {h.id}]" in text] or [h.id for h in hits]
        extras: list[str] = []
        if hits:
            extras.append("**Sources**\n" + "\n".join(citation(h) for h in hits if h.id in cited))
        note = safety.disclaimer_for(turn.request.kind, cannabis=turn.cannabis,
                                     legal_required=self.settings.legal_disclaimer_required)
        if note and turn.cannabis:
            extras.append(note)
        if turn.cannabis and await self.prefs.reminder_due(turn.prefs):
            extras.append(safety.SAFETY_REMINDER)
        if extras:
            text = text.rstrip() + "\n\n" + "\n\n".join(extras)
        return text, cited

    async def _failed(self, turn: PreparedTurn, relay: StreamRelay,
                      exc: UpstreamError) -> TurnResult:
        await self._audit(turn.request, turn.feature, "error", reason=exc.kind)
        await relay.fail(f"⚠️ {exc.message}")
        return TurnResult("error", exc.message)

    async def _refused(self, turn: PreparedTurn, relay: StreamRelay, reason: str,
                       conversation: LLMConversation | None) -> TurnResult:
        await relay.abort()
        completion = Completion(safety.REFUSAL, 0, len(relay.text) // 4, False, False, None)
        await self._persist(turn, conversation, completion, refused=True)
        await self._audit(turn.request, turn.feature, "refused", reason=reason,
                          completion=completion)
        await relay.finish(safety.REFUSAL)
        return TurnResult("refused", safety.REFUSAL)

    async def _persist(self, turn: PreparedTurn, conversation: LLMConversation | None,
                       completion: Completion, *, refused: bool) -> int:
        """Store the reply and its usage; returns the member's requests today."""
        request = turn.request
        tokens = completion.prompt_tokens + completion.completion_tokens
        requests_today = await self.ledger.record(
            request.guild_id, request.user_id, completion.prompt_tokens,
            completion.completion_tokens, estimated=not completion.usage_reported)
        if conversation is None:
            return requests_today
        await LLMMessage.create(
            conversation=conversation, user_id=None, role="assistant",
            content=completion.text if turn.prefs.history_enabled and not refused else "",
            tokens=completion.completion_tokens, incomplete=completion.incomplete,
            refused=refused,
        )
        await LLMConversation.filter(id=conversation.id).update(
            message_count=F("message_count") + 2, total_tokens=F("total_tokens") + tokens)
        return requests_today

    async def _audit(self, request: ChatRequest, feature: str, outcome: str, *,
                     reason: str | None = None, completion: Completion | None = None) -> None:
        details: dict[str, Any] = {"feature": feature, "outcome": outcome,
                                   "allowed": outcome in ("answered", "incomplete")}
        if reason:
            details["reason"] = reason
        if completion is not None:
            details.update(prompt_tokens=completion.prompt_tokens,
                           completion_tokens=completion.completion_tokens,
                           estimated=not completion.usage_reported)
        await self.services.audit.record("llm.request", guild_id=request.guild_id,
                                         actor_id=request.user_id, target=feature,
                                         details=details)

    async def _award_xp(self, request: ChatRequest, requests_today: int) -> None:
        if requests_today <= XP_ANSWERS_PER_DAY:
            await self.services.xp.award(request.guild_id, request.user_id, XP_PER_ANSWER,
                                         "llm.answer")

