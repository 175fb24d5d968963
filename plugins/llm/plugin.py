from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import structlog

from bot.api import ADULTS_ONLY, ComponentHandler, PeriodicTask, Plugin, PluginContext
from plugins.llm.budget import guild_settings
from plugins.llm.client import ChatClient
from plugins.llm.conversations import (
    ConversationStore,
    cleanup_expired_content,
    delete_user_data,
    export_user_data,
)
from plugins.llm.env import LlmSettings
from plugins.llm.followups import Followups, IdleSweeper
from plugins.llm.knowledge import KnowledgeProvider
from plugins.llm.model_catalog import delete_member_models, export_member_models
from plugins.llm.models import LLMGuildConfig, LLMGuildPolicy
from plugins.llm.paid_work import (
    PaidWorkBudget,
    delete_member_paid_work,
    export_member_paid_work,
)
from plugins.llm.policy import AssistantPolicy
from plugins.llm.seed_data import seed_starter_entries
from plugins.llm.service import ChatService
from plugins.llm.stale_notices import StaleNotices

if TYPE_CHECKING:
    from nextcord.ext import commands

log = structlog.get_logger("plugins.llm")

# Retention is measured in days; checking hourly deletes content at most an hour late.
CLEANUP_INTERVAL = 3600.0


class LLMPlugin(Plugin):
    name = "llm"
    version = "0.1.0"
    description = "OpenAI-compatible chat with a cannabis knowledge base."
    data_statement = (
        "Stores your assistant conversations (message text only while your history setting is "
        "on, and for the server's retention period, 30 days by default), your /chat settings, "
        "daily token usage (podcast transcripts you had made included), and the knowledge "
        "entries you contribute. Deleting your data "
        "keeps the token counters (not the text), so a deletion never resets a budget. "
        "Attached text files are kept like message text; attached images are never stored, "
        "only their names."
    )
    models = "plugins.llm.models"
    # Every surface is 21+ unless declared otherwise (/llm usage, config, access and models are
    # @all_ages; /chat opens to everyone only where an admin turned general chat on).
    rating = ADULTS_ONLY
    # LLM_* settings (the OpenAI-compatible endpoint, content rules); see env.py.
    settings_model = LlmSettings

    def __init__(self) -> None:
        self.ctx: PluginContext | None = None
        self.client: ChatClient | None = None
        self.chat: ChatService | None = None
        self.conversations = ConversationStore()
        self._retention: PeriodicTask | None = None
        # Follow-ups, reply chains and idle closing (shared by the cog and the controls).
        self.followups = Followups(self)
        self.idle: IdleSweeper | None = None
        # The daily notice of stale knowledge entries to each server's review channel.
        self.stale_notices: StaleNotices | None = None

    async def setup(self, ctx: PluginContext) -> None:
        self.ctx = ctx
        guild_settings.bind(ctx.guild_config.table(LLMGuildConfig))
        settings = cast("LlmSettings", ctx.settings)
        self.client = ChatClient.from_settings(settings)
        if self.client is None:
            ctx.log.warning("llm.no_endpoint",
                            hint="set OPENAI_BASE_URL and OPENAI_MODEL to enable the assistant")
        self.chat = ChatService(settings=settings, services=ctx.services, client=self.client,
                                verify_view=ctx.verify_prompt)
        ctx.services.knowledge.provide(self.name, KnowledgeProvider(self.chat.kb))
        # Other plugins' paid work (podcast transcripts) spends this plugin's token budgets.
        ctx.services.paid_usage.provide(self.name, PaidWorkBudget(self.chat.ledger,
                                                                  ctx.services))
        # Admin control: the persona and allow-lists through the core's guild config cache;
        # /llm usage's pages for admins.
        self.chat.policy = AssistantPolicy(ctx.guild_config.table(LLMGuildPolicy))
        from plugins.llm.usage_report import USAGE_PAGES, UsagePages

        ctx.services.blocks.page_source(USAGE_PAGES, UsagePages(self.chat.models))
        try:
            await self.seed()
        except Exception as exc:
            # Missing starter entries are not worth losing the whole assistant over.
            ctx.log.warning("llm.seed_failed", error=type(exc).__name__)
        await self.conversations.load_open()
        self._retention = PeriodicTask("llm-retention", CLEANUP_INTERVAL, self._clean_expired,
                                       run_first=True)
        self._retention.start()
        self.idle = IdleSweeper(self, ctx)
        self.idle.task.start()
        self.stale_notices = StaleNotices(self, ctx)
        self.stale_notices.task.start()

    async def seed(self) -> int:
        """Starter knowledge entries (idempotent); `growmies seed` calls this too."""
        return await seed_starter_entries()

    async def teardown(self) -> None:
        if self.ctx is not None:
            self.ctx.services.paid_usage.withdraw(self.name)
        if self.stale_notices is not None:
            await self.stale_notices.task.stop()
            self.stale_notices = None
        if self.idle is not None:
            await self.idle.task.stop()
            self.idle = None
        if self._retention is not None:
            await self._retention.stop()
            self._retention = None
        if self.chat is not None:
            await self.chat.ledger.deferred.close()
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _clean_expired(self) -> None:
        emptied = await cleanup_expired_content()
        if emptied:
            log.info("llm.retention_cleanup", messages=emptied)

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        from plugins.llm.cog import LLMCog
        from plugins.llm.kb_cog import KnowledgeCog
        from plugins.llm.model_cog import ModelCog

        return [LLMCog(self, ctx), KnowledgeCog(self, ctx), ModelCog(self, ctx)]

    def component_handlers(self) -> Mapping[str, ComponentHandler]:
        from plugins.llm.components import LLMComponents

        return {**LLMComponents(self).handlers(), **self.followups.handlers()}

    async def delete_user_data(self, user_id: int) -> int:
        return (await delete_user_data(user_id) + await delete_member_models(user_id)
                + await delete_member_paid_work(user_id))

    async def export_user_data(self, user_id: int) -> dict[str, Any]:
        return (await export_user_data(user_id) | await export_member_models(user_id)
                | await export_member_paid_work(user_id))
