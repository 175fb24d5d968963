"""Tables of the llm plugin: conversations, their messages, member preferences, token usage,
per-guild configuration and the admin-approved cannabis knowledge base."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

KB_CATEGORIES = ("strains", "cultivation", "legal", "medical", "consumption", "safety")
KB_STATUSES = ("pending", "approved", "rejected", "retired")
RESPONSE_STYLES = ("casual", "educational", "technical")
FILTER_LEVELS = ("strict", "moderate", "relaxed")


class LLMConversation(Model):
    """One chat with the assistant, usually living in its own Discord thread."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField(null=True, db_index=True)
    user_id = fields.BigIntField(db_index=True)
    # The thread (or channel) replies arrive in; one open conversation per thread.
    channel_id = fields.BigIntField(db_index=True)
    title = fields.CharField(max_length=100, default="")
    # chat (general) | education | strain | legal | grow: see conversation_types.py
    kind = fields.CharField(max_length=16, default="chat")
    # Who may read it, fixed when it starts: "adults" (a private thread with a verified 21+
    # member; only verified authors are answered) or "general" (general chat an admin opened to
    # everyone; every turn is classified and cannabis topics are refused).
    audience = fields.CharField(max_length=16, default="adults")
    active = fields.BooleanField(default=True)
    message_count = fields.IntField(default=0)
    total_tokens = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    ended_at = fields.DatetimeField(null=True)
    # Where it lives: "thread" (its own thread: every message there continues it) or "ask"
    # (an /ask answer: continued by replying to the bot's message or its Follow up button).
    via = fields.CharField(max_length=8, default="thread")
    # Why it closed: "ended" (/chat end) or "idle" (no message for LLM_CONVERSATION_IDLE_MINUTES;
    # the next message in its thread starts a new one).
    closed_reason = fields.CharField(max_length=8, null=True)

    class Meta:
        table = "llm_conversation"


class LLMMessage(Model):
    """A turn of a conversation. `content` is emptied by retention cleanup or history off."""

    id = fields.BigIntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[LLMConversation] = fields.ForeignKeyField(
        "llm.LLMConversation", related_name="messages", on_delete=fields.CASCADE
    )
    user_id = fields.BigIntField(null=True, db_index=True)
    role = fields.CharField(max_length=16)  # user | assistant
    content = fields.TextField(default="")
    tokens = fields.IntField(default=0)
    # A reply whose stream broke mid-way: kept, but marked so it is never mistaken for whole.
    incomplete = fields.BooleanField(default=False)
    refused = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "llm_message"
        # Context building reads "newest N of one conversation": this index makes it N rows.
        indexes = (("conversation_id", "id"),)


class LLMReplyLink(Model):
    """A Discord message the bot posted as part of an answer, and the conversation it belongs
    to: replying to that message continues the conversation (reply chains). Holds no text;
    deleted with its conversation."""

    message_id = fields.BigIntField(primary_key=True, generated=False)
    conversation: fields.ForeignKeyRelation[LLMConversation] = fields.ForeignKeyField(
        "llm.LLMConversation", related_name="reply_links", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "llm_reply_link"


class LLMUserPreferences(Model):
    """How a member wants the assistant to answer them."""

    user_id = fields.BigIntField(primary_key=True, generated=False)
    response_style = fields.CharField(max_length=16, default="educational")
    max_length = fields.IntField(default=800)  # reply tokens, capped by OPENAI_MAX_TOKENS
    history_enabled = fields.BooleanField(default=True)
    cannabis_assistance = fields.BooleanField(default=True)
    strain_recommendations = fields.BooleanField(default=True)
    legal_information = fields.BooleanField(default=True)
    filter_level = fields.CharField(max_length=16, default="moderate")
    # Counts answers so safety reminders come at a cadence, not on every message.
    answers_since_reminder = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "llm_user_preferences"


class LLMUsage(Model):
    """Tokens one member used in one guild on one UTC day; sums give monthly guild totals."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField(null=True)
    user_id = fields.BigIntField()
    day = fields.DateField()
    requests = fields.IntField(default=0)
    prompt_tokens = fields.IntField(default=0)
    completion_tokens = fields.IntField(default=0)
    # Tokens held by requests still running: a request reserves its maximum before the model
    # is called, so concurrent requests can never spend more than the budget together.
    reserved_tokens = fields.IntField(default=0)
    # True when at least one count was estimated because the API reported no usage.
    estimated = fields.BooleanField(default=False)

    class Meta:
        table = "llm_usage"
        unique_together = (("guild_id", "user_id", "day"),)
        indexes = (("guild_id", "day"),)


class LLMGuildConfig(Model):
    """What admins set per guild; defaults apply while no row exists."""

    guild_id = fields.BigIntField(primary_key=True, generated=False)
    kb_contributor_role_id = fields.BigIntField(null=True)
    user_daily_tokens = fields.IntField(default=20_000)
    guild_monthly_tokens = fields.IntField(default=2_000_000)
    requests_per_minute = fields.IntField(default=5)
    retention_days = fields.IntField(default=30)
    # Off: /chat is for verified 21+ members like everything else here. On: every member may
    # chat about general topics; cannabis topics are still refused to unverified members.
    general_chat_open = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)
    # Where the daily notice of stale knowledge entries goes (/kb notices); NULL: none.
    kb_review_channel_id = fields.BigIntField(null=True)

    class Meta:
        table = "llm_guild_config"


class LLMGuildUsage(Model):
    """A guild's tokens in one calendar month (UTC): the counter its monthly budget is reserved
    against. Kept when members delete their data, so a deletion never refunds a budget."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    month = fields.DateField()  # the 1st of the month
    used_tokens = fields.BigIntField(default=0)
    reserved_tokens = fields.BigIntField(default=0)

    class Meta:
        table = "llm_guild_usage"
        unique_together = (("guild_id", "month"),)


class CannabisKnowledgeBase(Model):
    """An entry of the community knowledge base; only approved, active ones are retrieved."""

    id = fields.BigIntField(primary_key=True)
    # NULL: a starter entry shared by every guild.
    guild_id = fields.BigIntField(null=True, db_index=True)
    category = fields.CharField(max_length=16)
    title = fields.CharField(max_length=120)
    content = fields.TextField()
    tags = fields.CharField(max_length=200, default="")
    source_url = fields.CharField(max_length=300, null=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    active = fields.BooleanField(default=True)
    author_id = fields.BigIntField(null=True)
    reviewer_id = fields.BigIntField(null=True)
    usage_count = fields.IntField(default=0)
    # Stable key of a starter entry, so seeding twice never duplicates it.
    seed_key = fields.CharField(max_length=64, null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Freshness: when a reviewer last confirmed the content (approval counts; NULL: never,
    # read as its creation date) and how accurate they judged it (1-5, NULL: not rated).
    last_verified_at = fields.DatetimeField(null=True)
    accuracy_rating = fields.SmallIntField(null=True)
    # When the daily notice last named it as stale (stale_notices.py); earlier than
    # last_verified_at: a new staleness period, to be named again once it is overdue.
    stale_noticed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "llm_knowledge"

    def cite(self) -> str:
        source = f" — {self.source_url}" if self.source_url else ""
        return f"[KB {self.id}] {self.title}{source}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "category": self.category, "title": self.title,
            "content": self.content, "tags": self.tags, "source_url": self.source_url,
            "status": self.status, "active": self.active,
        }


class LLMGuildPolicy(Model):
    """What admins decide about the assistant beyond budgets: the server's persona (appended
    after the fixed safety and 21+ rules, never replacing them), where it answers and for
    whom (empty lists: everywhere, everyone)."""

    guild_id = fields.BigIntField(primary_key=True, generated=False)
    persona = fields.TextField(default="")
    allowed_channel_ids: Any = fields.JSONField(default=list)
    allowed_role_ids: Any = fields.JSONField(default=list)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "llm_guild_policy"


class LLMAllowedModel(Model):
    """A model an admin offers members in /model, with its own daily token budget for the
    whole server and whether it supports tool calls (knowledge search as a tool)."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField(db_index=True)
    name = fields.CharField(max_length=100)
    daily_tokens = fields.IntField(default=100_000)
    tools = fields.BooleanField(default=False)
    added_by = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "llm_allowed_model"
        unique_together = (("guild_id", "name"),)


class LLMModelDay(Model):
    """A server's tokens on one model on one UTC day: what the model's daily budget is
    reserved against (same reserve/settle scheme as llm_usage)."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    model = fields.CharField(max_length=100)
    day = fields.DateField()
    used_tokens = fields.BigIntField(default=0)
    reserved_tokens = fields.BigIntField(default=0)

    class Meta:
        table = "llm_model_day"
        unique_together = (("guild_id", "model", "day"),)


class LLMModelChoice(Model):
    """The model a member chose with /model in one server (absent: the default model)."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField(db_index=True)
    model = fields.CharField(max_length=100)

    class Meta:
        table = "llm_model_choice"
        unique_together = (("guild_id", "user_id"),)


class LLMMemberModelUsage(Model):
    """A member's tokens on one model on one UTC day, for /llm usage. Counts only; deleted
    with the member's data (budgets are reserved against llm_usage and llm_model_day)."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField(db_index=True)
    model = fields.CharField(max_length=100)
    day = fields.DateField()
    requests = fields.IntField(default=0)
    tokens = fields.BigIntField(default=0)

    class Meta:
        table = "llm_member_model_usage"
        unique_together = (("guild_id", "user_id", "model", "day"),)
        indexes = (("guild_id", "day"),)


class LLMPaidWork(Model):
    """Paid work other plugins counted against this budget through the core's paid-usage
    service (`what`: "podcast transcripts"), per member (0: the server's own work, such as
    automatic transcription) and UTC day: its own line in /llm usage. Counts only; deleted with
    the member's data (the budget itself is reserved against llm_usage and llm_guild_usage)."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField(db_index=True)
    what = fields.CharField(max_length=50)
    day = fields.DateField()
    uses = fields.IntField(default=0)
    tokens = fields.BigIntField(default=0)

    class Meta:
        table = "llm_paid_work"
        unique_together = (("guild_id", "user_id", "what", "day"),)
        indexes = (("guild_id", "day"),)
