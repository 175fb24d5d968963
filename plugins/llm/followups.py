"""Going on with a conversation outside its thread: attachments read from Discord, the
"Follow up" button under /ask answers (a modal, restart-proof state), reply chains (replying
to one of the bot's answers continues its conversation, as llmcord does) and the notice when
an idle conversation closed. Discord → service calls only; the rules live in
conversations.py, attachments.py and service.py."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import nextcord
import structlog

from bot.api import (
    ADULT_NOTE,
    ComponentHandler,
    DatabaseUnavailable,
    PeriodicTask,
    UserError,
    button,
    controls,
    is_database_unreachable,
    modal,
    text_input,
    uses_state,
)
from plugins.llm.attachments import AttachmentLimits, Intake, Upload, accepts_images, take
from plugins.llm.model_cog import where_of
from plugins.llm.models import LLMConversation
from plugins.llm.relay import MessageSink
from plugins.llm.service import ChatRequest, ChatService, TurnResult
from plugins.llm.sinks import NO_PINGS, InteractionSink, NotedSink

if TYPE_CHECKING:
    from bot.api import ComponentContext, PluginContext
    from plugins.llm.plugin import LLMPlugin

log = structlog.get_logger("plugins.llm.followups")

FOLLOWUP_TTL = timedelta(days=1)
# The sweep's period: a conversation closes at most a minute after its idle time.
IDLE_SWEEP_SECONDS = 60.0
FOLLOWUP_CHARS = 4000
# Discord archives our threads a day after their last message (auto_archive_duration 1440);
# a conversation idle longer closes without a notice (posting would unarchive the thread),
# and at most this many notices go out per sweep (the first sweep after an upgrade may close
# many conversations at once).
NOTICE_WITHIN = timedelta(days=1)
MAX_NOTICES_PER_SWEEP = 50
NOT_YOURS = ("That answer belongs to another member's conversation, so I won't continue it "
             "for you. Ask your own with /ask; reply to my answer to you to go on with it.")
NOT_HERE = ("Only verified 21+ members can read this channel's replies, and I can't be sure "
            "of that here. Use the Follow up button under my answer instead.")


def idle_restarted(minutes: int) -> str:
    return (f"💤 Your earlier conversation closed after {minutes} minutes without messages, "
            "so this starts a new one (it doesn't remember the old one).")


def idle_closed(minutes: int) -> str:
    return (f"💤 This conversation closed after {minutes} minutes without messages. Send a "
            "message here to start a new one.")


class RecordingSink:
    """A sink that remembers the Discord messages an answer ended up in and, for a public
    answer, links each to its conversation as soon as it is posted: a member may reply to the
    first part while the rest is still streaming."""

    def __init__(self, inner: MessageSink,
                 link: Callable[[list[int]], Awaitable[None]] | None = None) -> None:
        self.inner = inner
        self.link = link
        self.handles: list[Any] = []

    async def send(self, content: str) -> Any:
        handle = await self.inner.send(content)
        self.handles.append(handle)
        if self.link is not None:
            await self.link(await self._ids([handle]))
        return handle

    async def edit(self, handle: Any, content: str) -> None:
        await self.inner.edit(handle, content)

    async def delete(self, handle: Any) -> None:
        await self.inner.delete(handle)
        self.handles.remove(handle)

    @staticmethod
    async def _ids(handles: list[Any]) -> list[int]:
        ids = []
        for handle in handles:
            if getattr(handle, "id", None) is None and hasattr(handle, "fetch"):
                # An interaction's first response carries no id until fetched.
                handle = await handle.fetch()
            ids.append(int(handle.id))
        return ids


class ReplySink(NotedSink):
    """The answer to a reply: its first message replies to the member's (without a ping)."""

    def __init__(self, message: nextcord.Message, *, note: str = "") -> None:
        super().__init__(note)
        self.message = message

    async def send(self, content: str) -> Any:
        if self._first is None:
            # A member may delete their message while the answer is coming: post anyway.
            self._first = handle = await self.message.channel.send(
                self.note + content, mention_author=False, allowed_mentions=NO_PINGS,
                reference=self.message.to_reference(fail_if_not_exists=False))
            return handle
        return await self.message.channel.send(content, allowed_mentions=NO_PINGS)


class Followups:
    """What the cog and the follow-up controls share: reading attachments, running a turn in
    an existing conversation, linking its messages and offering the Follow up button."""

    def __init__(self, plugin: LLMPlugin) -> None:
        self.plugin = plugin
        # Weak: a lock lives while a turn holds or waits for it, not for every conversation
        # ever answered.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    @property
    def ctx(self) -> PluginContext:
        assert self.plugin.ctx is not None
        return self.plugin.ctx

    @property
    def service(self) -> ChatService:
        assert self.plugin.chat is not None
        return self.plugin.chat

    @property
    def idle_minutes(self) -> int:
        return self.service.settings.conversation_idle_minutes

    def lock(self, conversation_id: int) -> asyncio.Lock:
        # One turn at a time per conversation, so replies never interleave.
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    async def intake(self, attachments: Sequence[nextcord.Attachment], guild_id: int | None,
                     user_id: int) -> Intake | None:
        """The attachments read for this member's turn. Images go to the model only if the
        model this turn runs on (the member's /model choice, else the default) sees them."""
        if not attachments:
            return None
        settings = self.service.settings
        model = await self.service.models.resolve(guild_id, user_id)
        limits = AttachmentLimits(
            vision=accepts_images(settings.vision_models, model.name if model else None),
            image_max_bytes=settings.attachment_image_max_mb * 1_000_000,
            text_max_bytes=settings.attachment_text_max_kb * 1_000)
        return await take([Upload(a.filename, a.size, a.content_type, a.read)
                           for a in attachments], limits)

    async def reopen(self, conversation: LLMConversation) -> tuple[LLMConversation, str]:
        """The /ask conversation a follow-up continues: a new one when it closed for being
        idle (the sweep may not have run yet), with the note saying so."""
        store = self.plugin.conversations
        if conversation.active and store.is_idle(conversation, self.idle_minutes):
            await store.end(conversation, "idle")
        if conversation.active:
            await store.touch(conversation)
            return conversation, ""
        return await store.restart(conversation), idle_restarted(self.idle_minutes) + "\n"

    async def continue_ask(self, conversation: LLMConversation, user_id: int, text: str,
                           sink: MessageSink, *, public: bool, where: dict[str, Any],
                           attachments: Intake | None = None) -> TurnResult:
        # `where` (where_of): the channel and the member's roles, for the admins' allow-lists;
        # required, so no path can forget it.
        request = ChatRequest(conversation.guild_id, user_id, text, conversation.kind,
                              conversation, attachments=attachments, **where)
        recording = self.recording(sink, conversation, public=public)
        async with self.lock(conversation.id):
            turn = await self.service.prepare(request)
            result = await self.service.respond(turn, recording)
        await self.after_answer(conversation, recording)
        return result

    def recording(self, sink: MessageSink, conversation: LLMConversation, *,
                  public: bool) -> RecordingSink:
        """Only a public answer can be replied to, so only its messages are linked."""
        async def link(ids: list[int]) -> None:
            await self.plugin.conversations.link(conversation, ids)

        return RecordingSink(sink, link if public else None)

    async def after_answer(self, conversation: LLMConversation, sink: RecordingSink) -> None:
        """Put the Follow up button under the answer (the only way on from an ephemeral
        answer, which nobody can reply to)."""
        if not sink.handles:
            return
        state = await self.ctx.components.create(
            "ask_followup", {"conversation_id": conversation.id}, owner=conversation.user_id,
            guild_id=conversation.guild_id, ttl=FOLLOWUP_TTL)
        view = controls(button("Follow up", self.ctx.components.custom_id(
            "followup.open", state), emoji="💬"))
        try:
            await sink.handles[-1].edit(view=view)
        except nextcord.HTTPException as exc:
            log.warning("llm.followup_button_failed", error=type(exc).__name__)

    # ----- reply chains ------------------------------------------------------------------------
    async def on_reply(self, message: nextcord.Message) -> bool:
        """A member replied to one of the bot's /ask answers: continue that conversation.
        Returns False when the reply is not to such an answer (the thread listener goes on).
        A reply to another member's conversation is refused and reveals nothing of it."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return False
        try:
            conversation = await self.plugin.conversations.by_message(reference.message_id)
        except Exception as exc:
            if not is_database_unreachable(exc) or not self._to_me(message):
                raise
            # Whose conversation it is can't be read: nothing reaches the model, and the
            # member learns why rather than hearing nothing.
            await self._down(message)
            return True
        if conversation is None or conversation.via != "ask":
            return False  # not ours, or a thread conversation: the thread listener has it
        guild_id = message.guild.id if message.guild else None
        decision = await self.ctx.services.age_gate.check(guild_id, message.author.id,
                                                          "llm.chat", quiet=True)
        if not decision.allowed:
            return True  # never reaches the model; the answer's readers are 21+
        if conversation.user_id != message.author.id:
            await self._audit_refusal(guild_id, message.author.id, "not_your_conversation")
            await message.reply(NOT_YOURS, mention_author=False, allowed_mentions=NO_PINGS)
            return True
        if not await self.ctx.services.age_gate.is_adults_only_place(message.channel):
            await message.reply(NOT_HERE, mention_author=False, allowed_mentions=NO_PINGS)
            return True
        try:
            where = where_of(message.channel, message.author)
            await self.check_where(conversation, message.author.id, where)
            intake = await self.intake(message.attachments, guild_id, message.author.id)
            conversation, note = await self.reopen(conversation)
            await self.continue_ask(conversation, message.author.id, self._text(message),
                                    ReplySink(message, note=note), public=True,
                                    attachments=intake, where=where)
        except UserError as exc:
            await message.reply(exc.message, mention_author=False, allowed_mentions=NO_PINGS,
                                view=exc.view)
        except Exception as exc:
            if is_database_unreachable(exc):
                await self._down(message)
                return True
            log.exception("llm.reply_chain_failed")
            await message.channel.send("Something went wrong answering that; try again.",
                                       allowed_mentions=NO_PINGS)
        return True

    def _to_me(self, message: nextcord.Message) -> bool:
        """Whether `message` replies to one of the bot's messages, as far as Discord's payload
        or the message cache says (no database needed)."""
        reference = message.reference
        replied = reference.resolved or reference.cached_message if reference else None
        bot_user = self.ctx.bot.user
        return (isinstance(replied, nextcord.Message) and bot_user is not None
                and replied.author.id == bot_user.id)

    async def _down(self, message: nextcord.Message) -> None:
        log.warning("llm.reply_chain_database_unreachable")
        await message.reply(DatabaseUnavailable().message, mention_author=False,
                            allowed_mentions=NO_PINGS)

    async def check_where(self, conversation: LLMConversation, user_id: int,
                          where: dict[str, Any]) -> None:
        """The admins' allow-lists, before anything else happens (attachments downloaded, an
        idle conversation restarted); `prepare` checks them again."""
        await self.service.check_access(ChatRequest(
            conversation.guild_id, user_id, "", conversation.kind, **where))

    def _text(self, message: nextcord.Message) -> str:
        text = message.content
        bot_user = self.ctx.bot.user
        if bot_user is not None:
            for form in (f"<@{bot_user.id}>", f"<@!{bot_user.id}>"):
                text = text.replace(form, "")
        return text

    async def _audit_refusal(self, guild_id: int | None, user_id: int, reason: str) -> None:
        await self.ctx.services.audit.record(
            "llm.request", guild_id=guild_id, actor_id=user_id, target="llm.chat",
            details={"feature": "llm.chat", "outcome": "refused", "allowed": False,
                     "reason": reason})

    # ----- the Follow up button ----------------------------------------------------------------
    def handlers(self) -> Mapping[str, ComponentHandler]:
        return {"followup.open": self.on_open, "followup.send": self.on_send}

    @uses_state("ask_followup")
    async def on_open(self, ctx: ComponentContext) -> None:
        assert ctx.state is not None
        await ctx.interaction.response.send_modal(modal(
            "Follow up", self.ctx.components.custom_id("followup.send", ctx.state.id),
            [text_input("Your follow-up question", "question", long=True,
                        max_length=FOLLOWUP_CHARS)]))

    @uses_state("ask_followup")
    async def on_send(self, ctx: ComponentContext) -> None:
        conversation = await LLMConversation.get_or_none(id=int(ctx.data["conversation_id"]))
        # The state's owner check already refused other members; this refuses a state whose
        # conversation was deleted (the member deleted their data) or is not theirs.
        if conversation is None or conversation.user_id != ctx.user_id:
            raise UserError("That conversation is gone; start a new one with /ask.")
        channel = ctx.interaction.channel
        where = where_of(channel, ctx.interaction.user)
        await self.check_where(conversation, ctx.user_id, where)
        public = await self.ctx.services.age_gate.is_adults_only_place(channel)
        conversation, note = await self.reopen(conversation)
        sink = InteractionSink(ctx.interaction, ephemeral=not public,
                               note=("" if public else ADULT_NOTE + "\n") + note)
        await self.continue_ask(conversation, ctx.user_id, ctx.fields.get("question", ""),
                                sink, public=public, where=where)


class IdleSweeper:
    """Closes conversations idle for LLM_CONVERSATION_IDLE_MINUTES every minute and says so in
    their threads (an /ask conversation says so on its next follow-up instead)."""

    def __init__(self, plugin: LLMPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx
        self.task = PeriodicTask("llm-idle", IDLE_SWEEP_SECONDS, self.sweep, run_first=True)

    async def sweep(self) -> int:
        assert self.plugin.chat is not None
        minutes = self.plugin.chat.settings.conversation_idle_minutes
        now = datetime.now(UTC)
        closed = await self.plugin.conversations.close_idle(minutes, now)
        recent = [c for c, last_active in closed
                  if c.via == "thread" and last_active >= now - NOTICE_WITHIN]
        for conversation in recent[:MAX_NOTICES_PER_SWEEP]:
            await self._notify(conversation.channel_id, minutes)
        if closed:
            log.info("llm.idle_closed", conversations=len(closed))
        return len(closed)

    async def _notify(self, channel_id: int, minutes: int) -> None:
        channel = self.ctx.bot.get_channel(channel_id)
        try:
            if channel is None:
                channel = await self.ctx.bot.fetch_channel(channel_id)
            # Posting in an archived thread would unarchive it: let it rest.
            if isinstance(channel, nextcord.Thread) and not channel.archived:
                await channel.send(idle_closed(minutes), allowed_mentions=NO_PINGS)
        except nextcord.HTTPException as exc:
            log.warning("llm.idle_notice_failed", error=type(exc).__name__)
