"""Stale knowledge told to reviewers without their asking: once a day, each server that chose a
review channel (`/kb notices`) gets one message naming the approved entries that went past
LLM_KB_STALE_DAYS since the last notice. Each entry is named once per staleness period (a
verification starts a new one); at most MAX_PER_NOTICE a day, the rest on the next days (so a
first run over a long-neglected base is not a wall of messages). Titles are 21+ content:
they are shown only where the core says only verified members read; elsewhere the notice
gives the entry numbers and points to /kb stale. Nothing pings anyone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import nextcord
import structlog

from bot.api import PeriodicTask, is_database_unreachable
from plugins.llm.freshness import mark_announced, stale_line, unannounced_stale
from plugins.llm.models import CannabisKnowledgeBase, LLMGuildConfig
from plugins.llm.sinks import NO_PINGS

if TYPE_CHECKING:
    from bot.api import PluginContext
    from plugins.llm.plugin import LLMPlugin

log = structlog.get_logger("plugins.llm.stale_notices")

NOTICE_INTERVAL = 24 * 3600.0
# A round the database cut short is run again this soon, not the next day.
NOTICE_RETRY = 300.0
# Fifteen lines of at most ~130 characters stay well inside Discord's 2,000.
MAX_PER_NOTICE = 15


def notice_text(entries: Sequence[CannabisKnowledgeBase], total: int, days: int, *,
                titles: bool) -> str:
    more = total - len(entries)
    head = (f"🗓️ **{total} knowledge entr{'y' if total == 1 else 'ies'} went unverified "
            f"for {days} days** (answers now cite {'it' if total == 1 else 'them'} with the "
            "date).")
    if titles:
        body = "\n".join(stale_line(e) for e in entries)
    else:
        # Not a 21+ place: numbers only, no cannabis content.
        body = "Entries " + ", ".join(f"[KB {e.id}]" for e in entries) + (
            " (titles are only shown in a channel only verified 21+ members can read).")
    tail = f"\n…and {more} more in the next notices." if more > 0 else ""
    return (f"{head}\n{body}{tail}\nConfirm one with `/kb verify entry_id:<id>`, retire it "
            "with `/kb review entry_id:<id>`; `/kb stale` lists every overdue entry.")[:2000]


class StaleNotices:
    def __init__(self, plugin: LLMPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx
        # Run at start-up too: a bot restarted more often than daily still sends its notice,
        # and an entry is never named twice in one staleness period.
        self.task = PeriodicTask("llm-kb-stale", NOTICE_INTERVAL, self.run, run_first=True,
                                 retry=NOTICE_RETRY)

    async def run(self, now: datetime | None = None) -> int:
        """One round over the servers with a review channel; returns the entries named."""
        assert self.plugin.chat is not None
        days = self.plugin.chat.settings.kb_stale_days
        now = now or datetime.now(UTC)
        named = 0
        configs = await LLMGuildConfig.filter(kb_review_channel_id__isnull=False)
        for config in configs:
            try:
                named += await self._notify(config.guild_id, config.kb_review_channel_id,
                                            days, now)
            except Exception as exc:  # one server's trouble must not stop the others
                if is_database_unreachable(exc):
                    raise  # everyone's trouble: the round is tried again soon
                log.warning("llm.stale_notice_failed", guild_id=config.guild_id,
                            error=type(exc).__name__)
        return named

    async def _notify(self, guild_id: int, channel_id: int, days: int, now: datetime) -> int:
        entries, total = await unannounced_stale(guild_id, days, now=now, limit=MAX_PER_NOTICE)
        if not entries:
            return 0
        channel = await self._channel(channel_id)
        if channel is None or getattr(getattr(channel, "guild", None), "id", None) != guild_id:
            log.info("llm.stale_notice_no_channel", guild_id=guild_id)
            return 0
        titles = await self.ctx.services.age_gate.is_adults_only_place(channel)
        await channel.send(notice_text(entries, total, days, titles=titles),
                           allowed_mentions=NO_PINGS)
        # Marked only once posted: a failed post is tried again the next day.
        await mark_announced([e.id for e in entries], now)
        return len(entries)

    async def _channel(self, channel_id: int) -> Any:
        channel = self.ctx.bot.get_channel(channel_id)
        if channel is not None:
            return channel
        try:
            return await self.ctx.bot.fetch_channel(channel_id)
        except nextcord.HTTPException:  # deleted, or the bot can no longer see it
            return None
