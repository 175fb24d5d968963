"""Slash commands and the thread listener: translate Discord into ChatService calls."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import nextcord
import structlog
from nextcord.ext import commands

from bot.contract import PluginContext, age_restricted, member_has, requires_permissions
from bot.errors import UserError
from plugins.llm.budget import guild_config
from plugins.llm.models import FILTER_LEVELS, RESPONSE_STYLES, LLMGuildConfig
from plugins.llm.preferences import describe
from plugins.llm.service import ChatRequest, ChatService
from plugins.llm.sinks import NO_PINGS, ChannelSink, InteractionSink

if TYPE_CHECKING:
    from plugins.llm.plugin import LLMPlugin

log = structlog.get_logger("plugins.llm.cog")
GUILD_ONLY = [nextcord.InteractionContextType.guild]
# Discord thread names hold 100 characters.
THREAD_NAME_CHARS = 90


def _uid(interaction: nextcord.Interaction) -> int:
    assert interaction.user is not None
    return interaction.user.id


def thread_title(text: str) -> str:
    first_line = " ".join(text.split())
    return (first_line[:THREAD_NAME_CHARS - 1] + "…") if len(first_line) > THREAD_NAME_CHARS \
        else first_line or "Chat"


class LLMCog(commands.Cog, name="llm"):
    def __init__(self, plugin: LLMPlugin, ctx: PluginContext) -> None:
        self.plugin = plugin
        self.ctx = ctx
        # One turn at a time per conversation, so replies never interleave.
        self._locks: dict[int, asyncio.Lock] = {}

    @property
    def chat_service(self) -> ChatService:
        assert self.plugin.chat is not None
        return self.plugin.chat

    def _lock(self, channel_id: int) -> asyncio.Lock:
        return self._locks.setdefault(channel_id, asyncio.Lock())

    # ----- /chat -----------------------------------------------------------------------------
    @nextcord.slash_command(name="chat", description="Chat with the AI assistant",
                            contexts=GUILD_ONLY)
    async def chat(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @chat.subcommand(name="new", description="Start a conversation in a new thread "
                     "(or continue this one)")
    async def chat_new(self, interaction: nextcord.Interaction,
                       message: str = nextcord.SlashOption(
                           description="What you want to ask", max_length=6000)) -> None:
        channel = interaction.channel
        conversations = self.plugin.conversations
        current = await conversations.in_channel(channel.id) if channel else None
        request = ChatRequest(interaction.guild_id, _uid(interaction), message, "chat", current)
        turn = await self.chat_service.prepare(request)
        if current is not None:
            async with self._lock(current.channel_id):
                await self.chat_service.respond(turn, InteractionSink(interaction))
            return
        if not isinstance(channel, nextcord.TextChannel):
            raise UserError("Start a conversation from a text channel, or inside its thread.")
        thread = await channel.create_thread(
            name=thread_title(turn.request.text), type=nextcord.ChannelType.public_thread,
            auto_archive_duration=1440)
        turn.request.conversation = await conversations.start(
            guild_id=interaction.guild_id, user_id=_uid(interaction), channel_id=thread.id,
            title=thread_title(turn.request.text))
        await interaction.send(f"Started a conversation in {thread.mention}. Reply there to "
                               "continue; /chat end closes it.", ephemeral=True)
        await thread.send(f"**<@{_uid(interaction)}> asked:** {turn.request.text[:1800]}",
                          allowed_mentions=NO_PINGS)
        async with self._lock(thread.id):
            await self.chat_service.respond(turn, ChannelSink(thread))

    @chat.subcommand(name="end", description="End the conversation in this thread")
    async def chat_end(self, interaction: nextcord.Interaction) -> None:
        channel_id = interaction.channel_id or 0
        conversation = await self.plugin.conversations.in_channel(channel_id)
        if conversation is None:
            raise UserError("There is no open conversation here; run /chat end inside its "
                            "thread.")
        if conversation.user_id != _uid(interaction) and not member_has(
                interaction.user, {"manage_threads"}):
            raise UserError("Only the member who started this conversation can end it.")
        await self.plugin.conversations.end(conversation)
        await interaction.send("Conversation ended. Start a new one with /chat new.")

    @chat.subcommand(name="settings", description="How the assistant answers you "
                     "(no options: show them)")
    async def chat_settings(
        self, interaction: nextcord.Interaction,
        style: str | None = nextcord.SlashOption(description="Response style", required=False,
                                                 choices=list(RESPONSE_STYLES)),
        max_length: int | None = nextcord.SlashOption(
            description="Maximum reply length in tokens", required=False, min_value=50,
            max_value=4000),
        history: bool | None = nextcord.SlashOption(
            description="Remember conversations (off deletes stored text)", required=False),
        cannabis_assistance: bool | None = nextcord.SlashOption(
            description="Allow cannabis topics (21+)", required=False),
        strain_recommendations: bool | None = nextcord.SlashOption(
            description="Allow /ask strain", required=False),
        legal_information: bool | None = nextcord.SlashOption(
            description="Allow /ask legal", required=False),
        filter_level: str | None = nextcord.SlashOption(
            description="Content filter", required=False, choices=list(FILTER_LEVELS)),
    ) -> None:
        prefs = await self.chat_service.prefs.update(
            _uid(interaction), response_style=style, max_length=max_length,
            history_enabled=history, cannabis_assistance=cannabis_assistance,
            strain_recommendations=strain_recommendations,
            legal_information=legal_information, filter_level=filter_level)
        await interaction.send(describe(prefs), ephemeral=True)

    @chat.subcommand(name="usage", description="Your AI usage (and the server's, for admins)")
    async def chat_usage(self, interaction: nextcord.Interaction) -> None:
        is_admin = member_has(interaction.user, {"manage_guild"})
        usage = await self.chat_service.ledger.summary(interaction.guild_id, _uid(interaction),
                                                       include_guild=is_admin)
        lines = [
            "**Your AI usage**",
            f"Today: {usage.user_today:,} / {usage.user_daily_limit:,} tokens "
            f"({usage.user_requests_today} requests)",
            f"This month: {usage.user_month:,} tokens",
        ]
        if usage.guild_month is not None:
            lines.append(f"**Server this month:** {usage.guild_month:,} / "
                         f"{usage.guild_monthly_limit:,} tokens")
        await interaction.send("\n".join(lines), ephemeral=True)

    # ----- /ask --------------------------------------------------------------------------------
    @nextcord.slash_command(name="ask", description="Cannabis assistants (21+)",
                            contexts=GUILD_ONLY)
    async def ask(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    async def _ask(self, interaction: nextcord.Interaction, kind: str, text: str) -> None:
        # The router already asked the age gate (@age_restricted) and audited its decision.
        request = ChatRequest(interaction.guild_id, _uid(interaction), text, kind,
                              gate_checked=True)
        turn = await self.chat_service.prepare(request)
        await self.chat_service.respond(turn, InteractionSink(interaction))

    @ask.subcommand(name="strain", description="About a strain: effects, terpenes, genetics")
    @age_restricted("llm.strain")
    async def ask_strain(self, interaction: nextcord.Interaction,
                         name: str = nextcord.SlashOption(description="Strain name",
                                                          max_length=100)) -> None:
        await self._ask(interaction, "strain", f"Tell me about the strain {name}.")

    @ask.subcommand(name="grow", description="A cultivation question (educational)")
    @age_restricted("llm.grow")
    async def ask_grow(self, interaction: nextcord.Interaction,
                       question: str = nextcord.SlashOption(max_length=6000)) -> None:
        await self._ask(interaction, "grow", question)

    @ask.subcommand(name="legal", description="New Jersey cannabis law (not legal advice)")
    @age_restricted("llm.legal")
    async def ask_legal(self, interaction: nextcord.Interaction,
                        question: str = nextcord.SlashOption(max_length=6000)) -> None:
        await self._ask(interaction, "legal", question)

    # ----- /llm config -------------------------------------------------------------------------
    @nextcord.slash_command(name="llm", description="AI assistant administration",
                            contexts=GUILD_ONLY)
    async def llm(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @llm.subcommand(name="config", description="Budgets, rate, retention and the knowledge role")
    @requires_permissions(manage_guild=True)
    async def llm_config(
        self, interaction: nextcord.Interaction,
        kb_role: nextcord.Role | None = nextcord.SlashOption(
            description="Role allowed to submit knowledge entries", required=False),
        user_daily_tokens: int | None = nextcord.SlashOption(
            required=False, min_value=0, max_value=10_000_000),
        guild_monthly_tokens: int | None = nextcord.SlashOption(
            required=False, min_value=0, max_value=1_000_000_000),
        requests_per_minute: int | None = nextcord.SlashOption(
            required=False, min_value=1, max_value=60),
        retention_days: int | None = nextcord.SlashOption(
            required=False, min_value=1, max_value=365),
    ) -> None:
        guild_id = interaction.guild_id or 0
        config = await guild_config(guild_id)
        changes = {"kb_contributor_role_id": kb_role.id if kb_role else None,
                   "user_daily_tokens": user_daily_tokens,
                   "guild_monthly_tokens": guild_monthly_tokens,
                   "requests_per_minute": requests_per_minute, "retention_days": retention_days}
        changes = {k: v for k, v in changes.items() if v is not None}
        if changes:
            for key, value in changes.items():
                setattr(config, key, value)
            await LLMGuildConfig.update_or_create(
                defaults={k: getattr(config, k) for k in (
                    "kb_contributor_role_id", "user_daily_tokens", "guild_monthly_tokens",
                    "requests_per_minute", "retention_days")},
                guild_id=guild_id)
            await self.ctx.services.audit.record("llm.config_changed", guild_id=guild_id,
                                                 actor_id=_uid(interaction), target="llm",
                                                 details=changes)
        role = f"<@&{config.kb_contributor_role_id}>" if config.kb_contributor_role_id \
            else "admins only"
        await interaction.send(
            f"**AI assistant settings**\nKnowledge contributors: {role}\n"
            f"Per member per day: {config.user_daily_tokens:,} tokens\n"
            f"Server per month: {config.guild_monthly_tokens:,} tokens\n"
            f"Requests per member per minute: {config.requests_per_minute}\n"
            f"Message retention: {config.retention_days} days", ephemeral=True)

    # ----- thread replies --------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: nextcord.Message) -> None:
        if message.author.bot or not isinstance(message.channel, nextcord.Thread):
            return
        if message.channel.id not in self.plugin.conversations.open_channels:
            return
        conversation = await self.plugin.conversations.in_channel(message.channel.id)
        if conversation is None:
            return
        text = message.content
        bot_user = self.ctx.bot.user
        if bot_user is not None:
            # Mentioning the bot in its own thread is just a reply.
            for form in (f"<@{bot_user.id}>", f"<@!{bot_user.id}>"):
                text = text.replace(form, "")
        request = ChatRequest(message.guild.id if message.guild else None, message.author.id,
                              text, "chat", conversation)
        sink = ChannelSink(message.channel)
        try:
            async with self._lock(message.channel.id):
                turn = await self.chat_service.prepare(request)
                await self.chat_service.respond(turn, sink)
        except UserError as exc:
            # No interaction to answer ephemerally: a short reply in the thread instead.
            extra = {"view": exc.view} if exc.view is not None else {}
            await message.channel.send(exc.message, allowed_mentions=NO_PINGS, **extra)
        except Exception:
            log.exception("llm.thread_reply_failed")
            await message.channel.send("Something went wrong answering that; try again.",
                                       allowed_mentions=NO_PINGS)
