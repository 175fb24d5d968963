"""Conversations: which thread holds which chat, ending them, retention cleanup, and the
member-data hooks (export/delete)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from tortoise.expressions import Q

from plugins.llm.models import (
    CannabisKnowledgeBase,
    LLMConversation,
    LLMGuildConfig,
    LLMMessage,
    LLMReplyLink,
    LLMUsage,
    LLMUserPreferences,
)

DEFAULT_RETENTION_DAYS = 30
IDLE_THREAD_MEMORY_DAYS = 30
CLEANUP_BATCH = 1000


class ConversationStore:
    def __init__(self) -> None:
        # Thread ids with an open conversation: the message listener sees every message in
        # the guild, and most are not for us; this answers "is it ours?" without a query.
        self.open_channels: set[int] = set()
        # Threads whose conversation closed for being idle: their next message starts a new
        # one (a thread ended with /chat end stays closed).
        self.idle_channels: set[int] = set()

    async def load_open(self) -> None:
        # flat=True yields the ids themselves; Tortoise's stubs type the rows as tuples.
        ids = await LLMConversation.filter(active=True, via="thread").values_list(
            "channel_id", flat=True)
        self.open_channels = set(cast("list[int]", ids))
        # Discord archives our threads after a day without messages; a month covers them.
        since = datetime.now(UTC) - timedelta(days=IDLE_THREAD_MEMORY_DAYS)
        idle = await LLMConversation.filter(
            active=False, via="thread", closed_reason="idle", ended_at__gte=since,
        ).values_list("channel_id", flat=True)
        self.idle_channels = set(cast("list[int]", idle)) - self.open_channels

    async def start(self, *, guild_id: int | None, user_id: int, channel_id: int, title: str,
                    kind: str = "chat", audience: str = "adults",
                    via: str = "thread") -> LLMConversation:
        conversation = await LLMConversation.create(
            guild_id=guild_id, user_id=user_id, channel_id=channel_id, title=title[:100],
            kind=kind, audience=audience, via=via)
        if via == "thread":
            self.open_channels.add(channel_id)
            self.idle_channels.discard(channel_id)
        return conversation

    async def in_channel(self, channel_id: int) -> LLMConversation | None:
        if channel_id not in self.open_channels:
            return None
        conversation = await LLMConversation.filter(
            channel_id=channel_id, active=True, via="thread").order_by("-id").first()
        if conversation is None:
            self.open_channels.discard(channel_id)
        return conversation

    async def end(self, conversation: LLMConversation, reason: str = "ended") -> None:
        conversation.active = False
        conversation.ended_at = datetime.now(UTC)
        conversation.closed_reason = reason
        await conversation.save(update_fields=["active", "ended_at", "closed_reason",
                                               "updated_at"])
        if conversation.via == "thread":
            self.open_channels.discard(conversation.channel_id)
            if reason == "idle":
                self.idle_channels.add(conversation.channel_id)

    @staticmethod
    def is_idle(conversation: LLMConversation, idle_minutes: int,
                now: datetime | None = None) -> bool:
        """Whether no message came for `idle_minutes` (0: conversations never idle out). The
        sweep closes such conversations every minute; a message arriving before it runs
        asks this instead."""
        if idle_minutes <= 0 or conversation.updated_at is None:
            return False
        now = now or datetime.now(UTC)
        return conversation.updated_at < now - timedelta(minutes=idle_minutes)

    async def close_idle(self, idle_minutes: int, now: datetime | None = None,
                         ) -> list[tuple[LLMConversation, datetime]]:
        """Close every open conversation idle for `idle_minutes`; returns each with its last
        activity (the caller says so in their threads)."""
        if idle_minutes <= 0:
            return []
        cutoff = (now or datetime.now(UTC)) - timedelta(minutes=idle_minutes)
        idle = await LLMConversation.filter(active=True, updated_at__lt=cutoff).order_by("id")
        closed = []
        for conversation in idle:
            last_active = conversation.updated_at  # end() stamps updated_at with now
            await self.end(conversation, "idle")
            closed.append((conversation, last_active))
        return closed

    async def resume_thread(self, channel_id: int,
                            idle_minutes: int) -> tuple[LLMConversation | None, bool]:
        """The conversation a message in this thread continues, and whether it is a new one
        started because the last closed for being idle (None: the thread is not ours, or
        its conversation was ended)."""
        if channel_id in self.open_channels:
            conversation = await self.in_channel(channel_id)
            if conversation is None:
                return None, False
            if not self.is_idle(conversation, idle_minutes):
                await self.touch(conversation)
                return conversation, False
            await self.end(conversation, "idle")
        elif channel_id not in self.idle_channels:
            return None, False
        last = await LLMConversation.filter(channel_id=channel_id, via="thread").order_by(
            "-id").first()
        if last is None or last.active or last.closed_reason != "idle":
            self.idle_channels.discard(channel_id)
            return last if last is not None and last.active else None, False
        return await self.restart(last), True

    @staticmethod
    async def touch(conversation: LLMConversation) -> None:
        """A message arrived: the idle clock restarts now, not when the answer is stored, so
        the sweep never closes a conversation while it is answering."""
        conversation.updated_at = datetime.now(UTC)
        await LLMConversation.filter(id=conversation.id).update(
            updated_at=conversation.updated_at)

    async def restart(self, old: LLMConversation) -> LLMConversation:
        """A new conversation in place of one that closed: same member, place, kind and
        audience, none of its history."""
        return await self.start(guild_id=old.guild_id, user_id=old.user_id,
                                channel_id=old.channel_id, title=old.title, kind=old.kind,
                                audience=old.audience, via=old.via)

    @staticmethod
    async def link(conversation: LLMConversation, message_ids: list[int]) -> None:
        """Remember which Discord messages hold its answers, for reply chains."""
        if message_ids:
            await LLMReplyLink.bulk_create(
                [LLMReplyLink(message_id=mid, conversation=conversation) for mid in message_ids],
                ignore_conflicts=True)

    @staticmethod
    async def by_message(message_id: int) -> LLMConversation | None:
        link = await LLMReplyLink.get_or_none(message_id=message_id).prefetch_related(
            "conversation")
        return None if link is None else link.conversation


async def cleanup_expired_content(now: datetime | None = None) -> int:
    """Delete message content older than each guild's retention period; returns rows emptied.

    Rows stay (counts and token totals survive) but what was said is gone.
    """
    now = now or datetime.now(UTC)
    custom = {c.guild_id: c.retention_days for c in await LLMGuildConfig.all()}
    emptied = 0
    for guild_id, days in custom.items():
        emptied += await _empty(now - timedelta(days=days), conversation__guild_id=guild_id)
    cutoff = now - timedelta(days=DEFAULT_RETENTION_DAYS)
    emptied += await _empty(cutoff, exclude_guilds=list(custom))
    return emptied


async def _empty(cutoff: datetime, *, exclude_guilds: list[int] | None = None,
                 **filters: Any) -> int:
    emptied = 0
    while True:
        query = LLMMessage.filter(created_at__lt=cutoff, **filters).exclude(content="")
        if exclude_guilds:
            query = query.exclude(conversation__guild_id__in=exclude_guilds)
        ids = await query.limit(CLEANUP_BATCH).values_list("id", flat=True)
        if not ids:
            return emptied
        emptied += await LLMMessage.filter(id__in=list(ids)).update(content="")


async def delete_user_data(user_id: int) -> int:
    """Everything the member wrote or started, wherever it is; the token counters stay."""
    removed = 0
    conversations = await LLMConversation.filter(user_id=user_id).values_list("id", flat=True)
    if conversations:
        await LLMReplyLink.filter(conversation_id__in=list(conversations)).delete()
        removed += await LLMMessage.filter(conversation_id__in=list(conversations)).delete()
        removed += await LLMConversation.filter(id__in=list(conversations)).delete()
    # Their posts in other members' conversations, and the text of the answers to them
    # (an answer can quote what it answers); the rows of those answers keep the counts.
    theirs = await LLMMessage.filter(user_id=user_id, role="user").values_list(
        "id", "conversation_id")
    for message_id, conversation_id in theirs:
        answer = await LLMMessage.filter(conversation_id=conversation_id, id__gt=message_id,
                                         role="assistant").order_by("id").first()
        if answer is not None and answer.content:
            await LLMMessage.filter(id=answer.id).update(content="")
    removed += await LLMMessage.filter(user_id=user_id).delete()
    removed += await LLMUserPreferences.filter(user_id=user_id).delete()
    # llm_usage rows stay: they are what the daily budget is reserved against, and deleting
    # them would hand the member a fresh budget. They hold counts only, no text.
    # Approved entries belong to the community; only the link to the author is removed.
    removed += await CannabisKnowledgeBase.filter(author_id=user_id).update(author_id=None)
    return removed


def _own_messages(rows: list[dict[str, Any]], user_id: int) -> list[dict[str, Any]]:
    """The member's messages and the answers to them, never another member's words."""
    mine: list[dict[str, Any]] = []
    asker: int | None = None
    for row in rows:
        if row["role"] == "user":
            asker = row["user_id"]
        if asker != user_id:
            continue
        mine.append({k: v for k, v in row.items() if k != "user_id"}
                    | {"created_at": row["created_at"].isoformat()})
    return mine


async def export_user_data(user_id: int) -> dict[str, Any]:
    prefs = await LLMUserPreferences.get_or_none(user_id=user_id)
    joined = await LLMMessage.filter(user_id=user_id).distinct().values_list(
        "conversation_id", flat=True)
    conversations = []
    for conv in await LLMConversation.filter(
            Q(user_id=user_id) | Q(id__in=list(joined))).order_by("id"):
        messages = await LLMMessage.filter(conversation_id=conv.id).order_by("id").values(
            "user_id", "role", "content", "tokens", "incomplete", "refused", "created_at")
        conversations.append({
            "id": conv.id, "title": conv.title if conv.user_id == user_id else "",
            "kind": conv.kind, "via": conv.via, "active": conv.active,
            "started_by_you": conv.user_id == user_id,
            "created_at": conv.created_at.isoformat(),
            "messages": _own_messages(messages, user_id),
        })
    usage = await LLMUsage.filter(user_id=user_id).order_by("day").values(
        "guild_id", "day", "requests", "prompt_tokens", "completion_tokens")
    return {
        "preferences": None if prefs is None else {
            "response_style": prefs.response_style, "max_length": prefs.max_length,
            "history_enabled": prefs.history_enabled,
            "cannabis_assistance": prefs.cannabis_assistance,
            "strain_recommendations": prefs.strain_recommendations,
            "legal_information": prefs.legal_information, "filter_level": prefs.filter_level,
        },
        "conversations": conversations,
        "usage": [{**u, "day": u["day"].isoformat()} for u in usage],
        "knowledge_entries": await CannabisKnowledgeBase.filter(author_id=user_id).values_list(
            "id", flat=True),
    }
