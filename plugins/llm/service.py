"""One assistant turn, free of Discord types: checks (input, endpoint, topic for a classified
audience, safety, rate, budget reservation), retrieval, context, the streamed reply through a
MessageSink, output compliance, persistence, usage settlement, audit and XP."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot.api import KnowledgeHit, UserError, is_database_unreachable
from plugins.llm import classifier, safety
from plugins.llm.budget import (
    XP_ANSWERS_PER_DAY,
    XP_PER_ANSWER,
    BudgetExceeded,
    RequestRateLimiter,
    Reservation,
    UsageLedger,
    guild_config,
)
from plugins.llm.classifier import (
    CLASSIFIER_MAX_TOKENS,
    classifier_messages,
    classify_with_model,
)
from plugins.llm.client import (
    NOT_CONFIGURED,
    ChatClient,
    Completion,
    ContextTooLong,
    UpstreamError,
    estimate_prompt_tokens,
    estimate_tokens,
)
from plugins.llm.context import build_context, knowledge_block, system_prompt
from plugins.llm.conversation_types import type_of
from plugins.llm.freshness import fresh_citation, freshness_of
from plugins.llm.knowledge import KnowledgeBase
from plugins.llm.model_catalog import ModelCatalog, ModelChoice
from plugins.llm.models import LLMConversation, LLMGuildConfig, LLMMessage
from plugins.llm.policy import AssistantPolicy, persona_block
from plugins.llm.preferences import PreferenceStore
from plugins.llm.relay import MessageSink, StreamRelay
from plugins.llm.tool_loop import answer, model_name

if TYPE_CHECKING:
    from bot.api import CoreServices
    from plugins.llm.attachments import Intake
    from plugins.llm.env import LlmSettings
    from plugins.llm.models import LLMUserPreferences

log = structlog.get_logger("plugins.llm.service")

MAX_INPUT_CHARS = 4000
KNOWLEDGE_HITS = 3
# Only the tail of the reply is re-checked per sentence: constant work however long it grows.
_CHECK_WINDOW = 600
_SENTENCE_END = re.compile(r"[.!?\n]")
CANNABIS_TOPIC_REFUSAL = (
    "General chat is open to every member here, but cannabis topics are for verified 21+ "
    "members. Verify your age with /verify to ask about them. If your question isn't about "
    "cannabis, try rephrasing it."
)
REPLY_REFUSAL = (
    "I can't show that answer here: it turned to cannabis, which is for verified 21+ members. "
    "Try asking in a different way."
)
FEATURES = {"chat": "llm.chat", "strain": "llm.strain", "grow": "llm.grow", "legal": "llm.legal",
            "education": "llm.education"}
NO_IMAGES_HERE = ("Images can't be checked for cannabis content, so they are only read in "
                  "verified 21+ members' conversations. Describe it in words instead.")


class UnsafeOutput(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ChatRequest:
    guild_id: int | None
    user_id: int
    text: str
    kind: str = "chat"  # see conversation_types.py
    conversation: LLMConversation | None = None
    # The audience includes members who are not verified 21+ (general chat an admin opened):
    # the request and the reply are classified, and cannabis topics are refused. The 21+ gate
    # itself is the core's (the plugin is adults_only); this service never widens it.
    classify: bool = False
    # Where and by whom, for the admins' allow-lists (the channel a thread belongs to; the
    # member's role ids): every Discord path passes `where_of(channel, member)`. None: the
    # caller did not say; refused where an admin set that list (fails closed), unchecked
    # where none is set (policy.check_access).
    channel_id: int | None = None
    role_ids: tuple[int, ...] | None = None
    # Files attached to the message (attachments.take): inlined text and image parts.
    attachments: Intake | None = None

    @property
    def full_text(self) -> str:
        """The message with its inlined files: what every text check reads."""
        inlined = self.attachments.inlined if self.attachments else ""
        return "\n\n".join(p for p in (self.text, inlined) if p)

    @property
    def images(self) -> list[str]:
        return self.attachments.images if self.attachments else []


@dataclass
class PreparedTurn:
    request: ChatRequest
    prefs: LLMUserPreferences
    config: LLMGuildConfig
    cannabis: bool
    feature: str
    hits: list[KnowledgeHit] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    max_tokens: int = 0
    reservation: Reservation | None = None
    # Tokens the classifier spent on this turn, settled with the reply's.
    extra_prompt: int = 0
    extra_completion: int = 0
    extra_estimated: bool = False
    # What the admins chose: the model (the member's /model pick among those allowed),
    # whether it searches the knowledge base through tool calls, the server's persona.
    model: ModelChoice | None = None
    use_tools: bool = False
    persona: str = ""

    def add_usage(self, completion: Completion | None) -> None:
        if completion is not None:
            self.extra_prompt += completion.prompt_tokens
            self.extra_completion += completion.completion_tokens
            self.extra_estimated |= not completion.usage_reported


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
        settings: LlmSettings,
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
        self.policy = AssistantPolicy()
        self.models = ModelCatalog(settings.model, default_tools=settings.tools)

    # ------------------------------------------------------------------ checks
    async def prepare(self, request: ChatRequest) -> PreparedTurn:
        """Every check before the reply, ending with the budget reservation (and, for a
        classified audience, the model's verdict on the topic). Raises UserError with the
        member's message. A returned turn holds tokens: pass it to `respond` or `cancel`."""
        text = request.text.strip()
        intake = request.attachments
        if not text and not (intake and (intake.texts or intake.images)):
            if intake and intake.notes:
                raise UserError(" ".join(intake.notes) + " Add a question in words.")
            raise UserError("Your message is empty — tell me what you'd like to know.")
        if len(text) > MAX_INPUT_CHARS:
            raise UserError(f"Your message is {len(text):,} characters; the limit is "
                            f"{MAX_INPUT_CHARS:,}. Please shorten it.")
        request.text = text
        # Inlined files are checked like the message itself, everywhere below.
        text = request.full_text
        if self.client is None:
            raise UserError(NOT_CONFIGURED)
        feature = FEATURES.get(request.kind, "llm.chat")
        policy = await self.check_access(request)
        prefs = await self.prefs.get(request.user_id)
        if request.classify:
            if type_of(request.kind).cannabis:
                raise UserError(CANNABIS_TOPIC_REFUSAL, view=self.verify_view())
            if request.images:
                raise UserError(NO_IMAGES_HERE)
            if classifier.is_cannabis_topic(text):
                await self._audit(request, feature, "refused", reason="cannabis_topic",
                                  layer="keywords")
                raise UserError(CANNABIS_TOPIC_REFUSAL, view=self.verify_view())
            cannabis = False
        else:
            # Verified members: the topic only decides knowledge retrieval and disclaimers.
            cannabis = type_of(request.kind).cannabis or classifier.is_cannabis_topic(text)
            if cannabis:
                self._check_opt_ins(request.kind, prefs)
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
        turn = PreparedTurn(request, prefs, config, cannabis, feature, persona=policy.persona)
        turn.model = await self.models.resolve(request.guild_id, request.user_id)
        # The knowledge base is 21+ content: never offered to a classified audience.
        turn.use_tools = bool(turn.model and turn.model.tools) and not request.classify
        await self._build(turn)
        try:
            turn.reservation = await self.ledger.reserve(
                request.guild_id, request.user_id, self._maximum(turn), config, turn.model)
        except BudgetExceeded as exc:
            await self._audit(request, feature, "refused", reason=f"budget_{exc.scope}")
            raise
        if request.classify:
            label, completion = await classify_with_model(self.client, text)
            turn.add_usage(completion)
            if label != classifier.GENERAL:
                await self._settle(turn, None)
                await self._audit(request, feature, "refused", reason="cannabis_topic",
                                  layer="model")
                raise UserError(CANNABIS_TOPIC_REFUSAL, view=self.verify_view())
        return turn

    async def _build(self, turn: PreparedTurn) -> None:
        """Knowledge, history and the reply cap: what the reservation is sized from."""
        request, prefs = turn.request, turn.prefs
        # Only cannabis topics consult the knowledge base: a recipe question gains nothing
        # from citations of New Jersey law.
        turn.hits = await self.retrieve(request) if turn.cannabis and not turn.use_tools else []
        conversation = request.conversation
        history = prefs.history_enabled and conversation is not None
        context = await build_context(
            system=system_prompt(request.kind, prefs,
                                 strict=self.settings.cannabis_content_strict_mode),
            knowledge=knowledge_block(turn.hits), user_text=request.full_text,
            conversation_id=conversation.id if history and conversation else None,
            images=request.images,
        )
        turn.messages = context.messages
        turn.messages[0]["content"] += persona_block(turn.persona)  # after the fixed rules
        turn.max_tokens = max(16, min(prefs.max_length, self.settings.max_tokens))

    async def retrieve(self, request: ChatRequest) -> list[KnowledgeHit]:
        """The entries put in the prompt (without tools). Each conversation type searches
        its own scope, as the search tool does (tool_loop)."""
        query = f"{request.kind} {request.text}" if request.kind == "strain" else request.text
        return await self.kb.search(request.guild_id, query, KNOWLEDGE_HITS,
                                    type_of(request.kind).categories)

    @staticmethod
    def _maximum(turn: PreparedTurn) -> int:
        """The most this turn can cost: the prompt (estimated generously: ~4 characters a
        token plus 4 per message) and the reply cap, plus the classifier's two calls."""
        total = estimate_prompt_tokens(turn.messages) + turn.max_tokens
        if turn.request.classify:
            request_check = estimate_prompt_tokens(classifier_messages(turn.request.full_text))
            reply_check = estimate_prompt_tokens(classifier_messages("x" * (
                turn.max_tokens * 4)))
            total += request_check + reply_check + 2 * CLASSIFIER_MAX_TOKENS
        return total

    async def cancel(self, turn: PreparedTurn) -> None:
        """The turn will not run (e.g. its thread could not be created): release its tokens."""
        if turn.reservation is not None:
            await self.ledger.release(turn.reservation)

    async def _settle(self, turn: PreparedTurn, completion: Completion | None) -> int:
        """Charge what the turn really used (reply and classifier); returns requests today."""
        if turn.reservation is None:
            return 0
        prompt = turn.extra_prompt + (completion.prompt_tokens if completion else 0)
        reply = turn.extra_completion + (completion.completion_tokens if completion else 0)
        estimated = turn.extra_estimated or (completion is not None and
                                             not completion.usage_reported)
        return await self.ledger.settle(turn.reservation, prompt, reply, estimated=estimated)

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
        try:
            if request.conversation is not None:
                # History keeps inlined files but only the names of images.
                kept = "\n\n".join(p for p in (request.text, request.attachments.remembered()
                                                if request.attachments else "") if p)
                await LLMMessage.create(
                    conversation=request.conversation, user_id=request.user_id, role="user",
                    content=kept if prefs.history_enabled else "",
                )
            relay = StreamRelay(sink, render=safety.neutralise_mentions)
            await relay.start()
            try:
                return await self._run(turn, relay)
            except Exception:
                # Never leave "Thinking…" behind: the router logs the error with a reference.
                with contextlib.suppress(Exception):
                    await relay.fail("⚠️ Something went wrong answering that; try again.")
                raise
        finally:
            # Whatever happened, no tokens stay held: an unsettled reservation is released.
            await self.cancel(turn)

    async def _run(self, turn: PreparedTurn, relay: StreamRelay) -> TurnResult:
        request, conversation = turn.request, turn.request.conversation
        # A classified audience sees nothing until the whole reply has passed the check.
        show = not request.classify
        try:
            completion = await answer(self, turn, relay, show=show)
        except ContextTooLong:
            # Retry once with only the new message: the history is what overflowed.
            relay.text = ""
            # The system prompt and the new message (with its files), nothing else.
            retry = [turn.messages[0], turn.messages[-1]]
            try:
                completion = await self._stream(relay, retry, turn.max_tokens,
                                                 show=show, model=model_name(turn))
            except UpstreamError as exc:
                return await self._failed(turn, relay, exc)
        except UpstreamError as exc:
            return await self._failed(turn, relay, exc)
        except UnsafeOutput as exc:
            return await self._refused(turn, relay, exc.reason, conversation)
        reason = safety.unsafe_reason(completion.text)
        if reason is not None:
            return await self._refused(turn, relay, reason, conversation, completion)
        if request.classify:
            layer = await self._reply_check(turn, completion.text)
            if layer is not None:
                return await self._refused(turn, relay, "cannabis_topic", conversation,
                                           completion, layer=layer, text=REPLY_REFUSAL)
        final, cited = await self._decorate(turn, completion, turn.hits)
        outcome = "incomplete" if completion.incomplete else "answered"
        # Bookkeeping first, the final edit last: once a member sees the whole answer, its
        # rows, usage and audit entry exist.
        requests_today = await self._persist(turn, conversation, completion, refused=False)
        await self.ledger.deferred.run("knowledge use", lambda: self.kb.count_use(cited))
        await self._audit(request, turn.feature, outcome, completion=completion)
        await self._award_xp(request, requests_today)
        shown = await relay.finish(final, cut_off=completion.incomplete)
        return TurnResult(outcome, shown, completion.prompt_tokens, completion.completion_tokens,
                          cited)

    async def _reply_check(self, turn: PreparedTurn, text: str) -> str | None:
        """Which layer finds the reply to be about cannabis (None: it may be shown)."""
        if classifier.is_cannabis_topic(text):
            return "reply_keywords"
        assert self.client is not None
        label, completion = await classify_with_model(self.client, text)
        turn.add_usage(completion)
        return None if label == classifier.GENERAL else "reply_model"

    async def _stream(self, relay: StreamRelay, messages: list[dict[str, Any]],
                      max_tokens: int, *, show: bool = True, model: str | None = None,
                      tools: list[dict[str, Any]] | None = None,
                      tool_choice: str | None = None) -> Completion:
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
            if show:
                relay.feed(delta)

        return await self.client.stream(messages, max_tokens=max_tokens, on_delta=on_delta,
                                        model=model, tools=tools, tool_choice=tool_choice)

    async def _decorate(self, turn: PreparedTurn, completion: Completion,
                        hits: list[KnowledgeHit]) -> tuple[str, list[int]]:
        text = completion.text
        cited = [h.id for h in hits if f"[KB {h.id}]" in text] or [h.id for h in hits]
        extras: list[str] = list(turn.request.attachments.notes
                                 if turn.request.attachments else [])
        if hits:
            # A stale entry is cited with its date, so the reader can judge it.
            fresh, days = await _unless_down(freshness_of(cited), {}), self.settings.kb_stale_days
            extras.append("**Sources**\n" + "\n".join(
                fresh_citation(h, fresh.get(h.id), days) for h in hits if h.id in cited))
        note = safety.disclaimer_for(turn.request.kind, cannabis=turn.cannabis,
                                     legal_required=self.settings.legal_disclaimer_required)
        if note and turn.cannabis:
            extras.append(note)
        # Past the model call nothing may lose the answer: when the database is down the
        # entries' dates are left out and the safety reminder is shown rather than skipped.
        if turn.cannabis and await _unless_down(self.prefs.reminder_due(turn.prefs), True):
            extras.append(safety.SAFETY_REMINDER)
        if extras:
            text = text.rstrip() + "\n\n" + "\n\n".join(extras)
        return text, cited

    async def _failed(self, turn: PreparedTurn, relay: StreamRelay,
                      exc: UpstreamError) -> TurnResult:
        # Nothing arrived: the reservation is released whole (respond's finally), except
        # what the classifier already spent.
        if turn.extra_prompt or turn.extra_completion:
            await self._settle(turn, None)
        await self._audit(turn.request, turn.feature, "error", reason=exc.kind)
        await relay.fail(f"⚠️ {exc.message}")
        return TurnResult("error", exc.message)

    async def _refused(self, turn: PreparedTurn, relay: StreamRelay, reason: str,
                       conversation: LLMConversation | None,
                       completion: Completion | None = None, *, layer: str | None = None,
                       text: str = safety.REFUSAL) -> TurnResult:
        await relay.abort()
        if completion is None:  # stopped mid-stream: what streamed so far was spent
            completion = Completion("", estimate_prompt_tokens(turn.messages),
                                    estimate_tokens(relay.text), False, False, None)
        spent = Completion(text, completion.prompt_tokens, completion.completion_tokens,
                           completion.usage_reported, False, None)
        await self._persist(turn, conversation, spent, refused=True)
        await self._audit(turn.request, turn.feature, "refused", reason=reason, layer=layer,
                          completion=spent)
        await relay.finish(text)
        return TurnResult("refused", text)

    async def _persist(self, turn: PreparedTurn, conversation: LLMConversation | None,
                       completion: Completion, *, refused: bool) -> int:
        """Store the reply and settle its usage; returns the member's requests today."""
        tokens = completion.prompt_tokens + completion.completion_tokens
        requests_today = await self._settle(turn, completion)
        if conversation is None:
            return requests_today

        async def store() -> None:
            async with in_transaction("default"):
                await LLMMessage.create(
                    conversation=conversation, user_id=None, role="assistant",
                    content=completion.text if turn.prefs.history_enabled and not refused
                    else "", tokens=completion.completion_tokens,
                    incomplete=completion.incomplete, refused=refused,
                )
                # updated_at is set by hand: an UPDATE query skips auto_now, and idle
                # closing reads it.
                await LLMConversation.filter(id=conversation.id).update(
                    message_count=F("message_count") + 2,
                    total_tokens=F("total_tokens") + tokens, updated_at=datetime.now(UTC))

        # The answer was paid for and is on its way: a database drop delays storing it.
        await self.ledger.deferred.run("reply", store)
        return requests_today

    async def _audit(self, request: ChatRequest, feature: str, outcome: str, *,
                     reason: str | None = None, completion: Completion | None = None,
                     layer: str | None = None) -> None:
        details: dict[str, Any] = {"feature": feature, "outcome": outcome,
                                   "allowed": outcome in ("answered", "incomplete"),
                                   "classified": request.classify}
        if reason:
            details["reason"] = reason
        if layer:
            details["layer"] = layer
        if completion is not None:
            details.update(prompt_tokens=completion.prompt_tokens,
                           completion_tokens=completion.completion_tokens,
                           estimated=not completion.usage_reported)
        await self.services.audit.record("llm.request", guild_id=request.guild_id,
                                         actor_id=request.user_id, target=feature,
                                         details=details)

    async def check_access(self, request: ChatRequest) -> Any:
        """The admins' channel and role allow-lists (the server's policy row, returned).
        `prepare` checks them; callers may check earlier, before reading attachments."""
        feature = FEATURES.get(request.kind, "llm.chat")
        try:
            return await self.policy.check_access(request.guild_id, request.channel_id,
                                                  request.role_ids)
        except UserError:
            await self._audit(request, feature, "refused", reason="not_allowed_here")
            raise

    async def _award_xp(self, request: ChatRequest, requests_today: int) -> None:
        if requests_today <= XP_ANSWERS_PER_DAY:
            await self.services.xp.award(request.guild_id, request.user_id, XP_PER_ANSWER,
                                         "llm.answer")


async def _unless_down[T](read: Awaitable[T], fallback: T) -> T:
    """`read`, or `fallback` when the database is unreachable."""
    try:
        return await read
    except Exception as exc:
        if not is_database_unreachable(exc):
            raise
        log.warning("llm.read_skipped_database_unreachable")
        return fallback
