"""Slash commands and the thread listener: translate Discord into ChatService calls."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import nextcord
import structlog
from nextcord.ext import commands

from bot.api import (
    ADULT_NOTE,
    GUILD_ONLY,
    NOT_VERIFIED,
    DatabaseUnavailable,
    PluginContext,
    UserError,
    adults_only,
    all_ages,
    guild_of,
    is_database_unreachable,
    member_has,
    open_to_all_when,
    requires_permissions,
    user_of,
)
from plugins.llm.budget import general_chat_open, guild_config, guild_settings
from plugins.llm.conversation_types import DEFAULT_TYPE, TYPE_CHOICES
from plugins.llm.followups import idle_restarted
from plugins.llm.model_cog import where_of
from plugins.llm.models import FILTER_LEVELS, RESPONSE_STYLES, LLMConversation
from plugins.llm.policy import MAX_PERSONA_CHARS, describe_access
from plugins.llm.preferences import describe
from plugins.llm.service import ChatRequest, ChatService, PreparedTurn
from plugins.llm.sinks import NO_PINGS, ChannelSink, InteractionSink
from plugins.llm.usage_report import USAGE_PAGES, member_usage

if TYPE_CHECKING:
    from plugins.llm.plugin import LLMPlugin

log = structlog.get_logger("plugins.llm.cog")
# Discord thread names hold 100 characters.
THREAD_NAME_CHARS = 90
ADULTS_CONVERSATION = ("This conversation is for verified 21+ members. Verify your age with "
                       "/verify, or start your own with /chat new.")
NO_PRIVATE_THREAD = ("I couldn't open a private thread here. An admin should give me the "
                     "Create Private Threads and Send Messages in Threads permissions in this "
                     "channel.")


def general_chat_line(open_: bool) -> str:
    if open_:
        return ("open to every member (cannabis topics are refused to members who are not "
                "verified 21+)")
    return "verified 21+ members only"


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
    @open_to_all_when(general_chat_open)
    async def chat_new(self, interaction: nextcord.Interaction,
                       message: str = nextcord.SlashOption(
                           description="What you want to ask", max_length=6000),
                       type: str = nextcord.SlashOption(
                           description="What kind of conversation (a new one only)",
                           choices=TYPE_CHOICES, required=False, default=DEFAULT_TYPE),
                       ) -> None:
        # The core lets everyone in only where an admin opened general chat; otherwise only
        # verified members get here. Which one this member is decides the audience.
        channel = interaction.channel
        guild_id, user_id = guild_of(interaction), user_of(interaction)
        verified = await self._verified(guild_id, user_id)
        conversations = self.plugin.conversations
        current, restarted = await conversations.resume_thread(
            channel.id, self.plugin.followups.idle_minutes) if channel else (None, False)
        if current is not None:
            classify = self._audience_check(current, verified)
            turn = await self.chat_service.prepare(
                ChatRequest(guild_id, user_id, message, current.kind, current,
                            classify=classify, **where_of(channel, interaction.user)))
            sink = InteractionSink(interaction)
            async with self._lock(current.channel_id):
                if restarted:
                    await sink.send(idle_restarted(self.plugin.followups.idle_minutes))
                await self.chat_service.respond(turn, sink)
            return
        if not isinstance(channel, nextcord.TextChannel):
            raise UserError("Start a conversation from a text channel, or inside its thread.")
        if not verified and not await general_chat_open(guild_id):
            raise UserError(NOT_VERIFIED, view=self.chat_service.verify_view())
        turn = await self.chat_service.prepare(
            ChatRequest(guild_id, user_id, message, type, classify=not verified,
                        **where_of(channel, interaction.user)))
        try:
            thread = await self._open_thread(channel, interaction, turn, verified=verified)
        except BaseException:
            await self.chat_service.cancel(turn)
            raise
        await interaction.send(f"Started a conversation in {thread.mention}. Reply there to "
                               "continue; /chat end closes it.", ephemeral=True)
        await thread.send(f"**<@{user_id}> asked:** {turn.request.text[:1800]}",
                          allowed_mentions=NO_PINGS)
        async with self._lock(thread.id):
            await self.chat_service.respond(turn, ChannelSink(thread))

    async def _verified(self, guild_id: int | None, user_id: int) -> bool:
        return (await self.ctx.services.age_gate.decide(guild_id, user_id)).allowed

    def _audience_check(self, conversation: LLMConversation, verified: bool) -> bool:
        """Whether this member's turn in `conversation` is classified; refuses an unverified
        member in a 21+ conversation (its history is 21+ content)."""
        if conversation.audience == "general":
            # Unverified members read this thread: every turn is classified, whoever asks.
            return True
        if not verified:
            raise UserError(ADULTS_CONVERSATION, view=self.chat_service.verify_view())
        return False

    async def _open_thread(self, channel: nextcord.TextChannel,
                           interaction: nextcord.Interaction, turn: PreparedTurn, *,
                           verified: bool) -> nextcord.Thread:
        """A private thread with a verified member (only its members and moderators read it,
        and the core removes unverified members added to it), or, for general chat, a public
        thread whose every turn is classified."""
        title = thread_title(turn.request.text)
        try:
            if verified:
                thread = await channel.create_thread(
                    name=title, type=nextcord.ChannelType.private_thread, invitable=False,
                    auto_archive_duration=1440)
                assert interaction.user is not None
                await thread.add_user(interaction.user)
            else:
                thread = await channel.create_thread(
                    name=title, type=nextcord.ChannelType.public_thread,
                    auto_archive_duration=1440)
        except nextcord.Forbidden:
            raise UserError(NO_PRIVATE_THREAD if verified else
                            "I couldn't open a thread here; an admin should give me the "
                            "Create Public Threads permission.") from None
        turn.request.conversation = await self.plugin.conversations.start(
            guild_id=guild_of(interaction), user_id=user_of(interaction), channel_id=thread.id,
            title=title, audience="adults" if verified else "general", kind=turn.request.kind)
        return thread

    @chat.subcommand(name="end", description="End the conversation in this thread")
    @open_to_all_when(general_chat_open)
    async def chat_end(self, interaction: nextcord.Interaction) -> None:
        channel_id = interaction.channel_id or 0
        conversation = await self.plugin.conversations.in_channel(channel_id)
        if conversation is None:
            raise UserError("There is no open conversation here; run /chat end inside its "
                            "thread.")
        if conversation.user_id != user_of(interaction) and not member_has(
                interaction.user, {"manage_threads"}):
            raise UserError("Only the member who started this conversation can end it.")
        await self.plugin.conversations.end(conversation)
        await interaction.send("Conversation ended. Start a new one with /chat new.")

    @chat.subcommand(name="settings", description="How the assistant answers you "
                     "(no options: show them)")
    @open_to_all_when(general_chat_open)
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
            user_of(interaction), response_style=style, max_length=max_length,
            history_enabled=history, cannabis_assistance=cannabis_assistance,
            strain_recommendations=strain_recommendations,
            legal_information=legal_information, filter_level=filter_level)
        await interaction.send(describe(prefs), ephemeral=True)

    # ----- /ask --------------------------------------------------------------------------------
    @nextcord.slash_command(name="ask", description="Cannabis assistants (21+)",
                            contexts=GUILD_ONLY)
    async def ask(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    async def _ask(self, interaction: nextcord.Interaction, kind: str, text: str,
                   file: nextcord.Attachment | None = None) -> None:
        # The core already asked the age gate (the plugin is adults_only) and audited it. The
        # answer is public only where every reader is verified 21+; elsewhere only the asker
        # sees it. It is kept as a conversation: replies to it (where public) and its Follow
        # up button continue it.
        guild_id, user_id = guild_of(interaction), user_of(interaction)
        request = ChatRequest(guild_id, user_id, text, kind,
                              **where_of(interaction.channel, interaction.user))
        # The allow-lists before the file is downloaded (prepare checks them again).
        await self.chat_service.check_access(request)
        request.attachments = await self.plugin.followups.intake([file] if file else [],
                                                                 guild_id, user_id)
        turn = await self.chat_service.prepare(request)
        public = await self.ctx.services.age_gate.is_adults_only_place(interaction.channel)
        try:
            request.conversation = await self.plugin.conversations.start(
                guild_id=guild_id, user_id=user_id, channel_id=interaction.channel_id or 0,
                title=thread_title(turn.request.text), kind=kind, via="ask")
        except BaseException:
            await self.chat_service.cancel(turn)
            raise
        sink = self.plugin.followups.recording(
            InteractionSink(interaction, ephemeral=not public,
                            note="" if public else ADULT_NOTE + "\n"),
            request.conversation, public=public)
        await self.chat_service.respond(turn, sink)
        await self.plugin.followups.after_answer(request.conversation, sink)

    @ask.subcommand(name="question", description="Ask anything, with a conversation type and "
                    "an optional image or text file")
    async def ask_question(
        self, interaction: nextcord.Interaction,
        question: str = nextcord.SlashOption(max_length=6000),
        type: str = nextcord.SlashOption(
            description="What kind of conversation", choices=TYPE_CHOICES, required=False,
            default=DEFAULT_TYPE),
        file: nextcord.Attachment | None = nextcord.SlashOption(
            description="An image or a text file (txt, md, csv, json, py, ...)",
            required=False),
    ) -> None:
        await self._ask(interaction, type, question, file)

    @ask.subcommand(name="strain", description="About a strain: effects, terpenes, genetics")
    @adults_only("llm.strain")
    async def ask_strain(self, interaction: nextcord.Interaction,
                         name: str = nextcord.SlashOption(description="Strain name",
                                                          max_length=100)) -> None:
        await self._ask(interaction, "strain", f"Tell me about the strain {name}.")

    @ask.subcommand(name="grow", description="A cultivation question (educational)")
    @adults_only("llm.grow")
    async def ask_grow(self, interaction: nextcord.Interaction,
                       question: str = nextcord.SlashOption(max_length=6000),
                       file: nextcord.Attachment | None = nextcord.SlashOption(
                           description="A photo of your plant, or a text file",
                           required=False)) -> None:
        await self._ask(interaction, "grow", question, file)

    @ask.subcommand(name="legal", description="New Jersey cannabis law (not legal advice)")
    @adults_only("llm.legal")
    async def ask_legal(self, interaction: nextcord.Interaction,
                        question: str = nextcord.SlashOption(max_length=6000)) -> None:
        await self._ask(interaction, "legal", question)

    # ----- /llm config -------------------------------------------------------------------------
    @nextcord.slash_command(name="llm", description="AI assistant administration",
                            contexts=GUILD_ONLY)
    async def llm(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @llm.subcommand(name="config", description="Budgets, rate, retention, general chat and the "
                    "knowledge role")
    @requires_permissions(manage_guild=True)
    # Settings only (budgets, retention, a role, an on/off switch): nothing about cannabis, and
    # an admin must be able to run the server whether or not they verified their own age.
    @all_ages
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
        general_chat: bool | None = nextcord.SlashOption(
            description="Let every member use /chat for general topics (cannabis topics stay "
                        "21+)", required=False),
    ) -> None:
        guild_id = guild_of(interaction)
        config = await guild_config(guild_id)
        changes = {"kb_contributor_role_id": kb_role.id if kb_role else None,
                   "user_daily_tokens": user_daily_tokens,
                   "guild_monthly_tokens": guild_monthly_tokens,
                   "requests_per_minute": requests_per_minute, "retention_days": retention_days,
                   "general_chat_open": general_chat}
        changes = {k: v for k, v in changes.items() if v is not None}
        if changes:
            config = await guild_settings.update(guild_id, **changes)
            await self.ctx.services.audit.record("llm.config_changed", guild_id=guild_id,
                                                 actor_id=user_of(interaction), target="llm",
                                                 details=changes)
        role = f"<@&{config.kb_contributor_role_id}>" if config.kb_contributor_role_id \
            else "admins only"
        await interaction.send(
            f"**AI assistant settings**\nKnowledge contributors: {role}\n"
            f"Per member per day: {config.user_daily_tokens:,} tokens\n"
            f"Server per month: {config.guild_monthly_tokens:,} tokens\n"
            f"Requests per member per minute: {config.requests_per_minute}\n"
            f"Message retention: {config.retention_days} days\n"
            f"General chat: {general_chat_line(config.general_chat_open)}", ephemeral=True)

    # ----- /llm persona, access, models, usage: admin control -------------------------------
    @llm.subcommand(name="persona", description="Extra instructions for the assistant here "
                    "(no options: show them)")
    @requires_permissions(manage_guild=True)
    async def llm_persona(
        self, interaction: nextcord.Interaction,
        text: str | None = nextcord.SlashOption(
            description=f"Tone and focus, up to {MAX_PERSONA_CHARS:,} characters; cannot "
                        "change the safety or 21+ rules", required=False, max_length=6000),
        clear: bool | None = nextcord.SlashOption(description="Remove the persona",
                                                  required=False),
    ) -> None:
        guild_id, policy = guild_of(interaction), self.chat_service.policy
        assert guild_id is not None
        if clear or text is not None:
            await policy.set_persona(guild_id, user_of(interaction), "" if clear else text or "",
                                     self.ctx.services)
        persona = (await policy.get(guild_id)).persona
        shown = f">>> {persona}" if persona else "None: the assistant's own voice."
        await interaction.send(f"**Persona** (added after the safety and 21+ rules, which it "
                               f"cannot change)\n{shown}"[:2000], ephemeral=True,
                               allowed_mentions=NO_PINGS)

    @llm.subcommand(name="access", description="Channels and roles the assistant answers "
                    "(none set: everywhere, everyone)")
    @requires_permissions(manage_guild=True)
    @all_ages  # settings only, like /llm config
    async def llm_access(
        self, interaction: nextcord.Interaction,
        allow_channel: nextcord.abc.GuildChannel | None = nextcord.SlashOption(
            required=False, channel_types=[nextcord.ChannelType.text]),
        remove_channel: nextcord.abc.GuildChannel | None = nextcord.SlashOption(
            required=False, channel_types=[nextcord.ChannelType.text]),
        allow_role: nextcord.Role | None = nextcord.SlashOption(required=False),
        remove_role: nextcord.Role | None = nextcord.SlashOption(required=False),
        clear: str | None = nextcord.SlashOption(required=False,
                                                 choices=["channels", "roles", "all"]),
    ) -> None:
        guild_id = guild_of(interaction)
        assert guild_id is not None
        policy = await self.chat_service.policy.change_access(
            guild_id, user_of(interaction), self.ctx.services,
            add_channels=[allow_channel.id] if allow_channel else [],
            remove_channels=[remove_channel.id] if remove_channel else [],
            add_roles=[allow_role.id] if allow_role else [],
            remove_roles=[remove_role.id] if remove_role else [], clear=clear)
        await interaction.send(describe_access(policy), ephemeral=True,
                               allowed_mentions=NO_PINGS)

    @llm.subcommand(name="models", description="Models members may choose with /model")
    async def llm_models(self, interaction: nextcord.Interaction) -> None:
        """Group: never run bare."""

    @llm_models.subcommand(name="add", description="Allow a model (or change its budget)")
    @requires_permissions(manage_guild=True)
    @all_ages  # settings only, like /llm config
    async def llm_models_add(
        self, interaction: nextcord.Interaction,
        name: str = nextcord.SlashOption(description="As the endpoint names it",
                                         max_length=100),
        daily_tokens: int = nextcord.SlashOption(
            description="Tokens the whole server may use on it per day", min_value=1_000,
            max_value=100_000_000),
        tools: bool | None = nextcord.SlashOption(
            description="It supports tool calls (knowledge search); default: unchanged, or "
                        "no if new", required=False),
    ) -> None:
        guild_id = guild_of(interaction)
        assert guild_id is not None
        client = self.plugin.client
        if client is not None and await client.has_model(name.strip()) is False:
            raise UserError(f"The AI endpoint has no model named `{name.strip()[:100]}`; "
                            "check the spelling.")
        catalog = self.chat_service.models
        await catalog.add(guild_id, user_of(interaction), name, daily_tokens, tools,
                          self.ctx.services)
        await interaction.send(await self._models_text(guild_id), ephemeral=True,
                               allowed_mentions=NO_PINGS)

    @llm_models.subcommand(name="remove", description="Stop offering a model")
    @requires_permissions(manage_guild=True)
    @all_ages  # settings only, like /llm config
    async def llm_models_remove(
        self, interaction: nextcord.Interaction,
        name: str = nextcord.SlashOption(max_length=100)) -> None:
        guild_id = guild_of(interaction)
        assert guild_id is not None
        await self.chat_service.models.remove(guild_id, user_of(interaction), name,
                                              self.ctx.services)
        await interaction.send(await self._models_text(guild_id), ephemeral=True,
                               allowed_mentions=NO_PINGS)

    async def _models_text(self, guild_id: int) -> str:
        catalog = self.chat_service.models
        rows = [f"• `{m.name}`: {m.daily_tokens:,} tokens a day"
                + (", tools" if m.tools else "") for m in await catalog.allowed(guild_id)]
        default = f"Default (always offered): `{catalog.default}`\n" if catalog.default else ""
        return (f"**Models members may choose with /model**\n{default}"
                + ("\n".join(rows) or "No others."))[:2000]

    @llm.subcommand(name="usage", description="Your AI usage (admins: the server's, per "
                    "model and member)")
    @all_ages  # token counts only: nothing about cannabis
    async def llm_usage(self, interaction: nextcord.Interaction) -> None:
        guild_id = guild_of(interaction)
        assert guild_id is not None
        if member_has(interaction.user, {"manage_guild"}):
            await self.ctx.paginate(interaction, USAGE_PAGES, {"guild_id": guild_id},
                                    ephemeral=True)
            return
        await interaction.send(await member_usage(self.chat_service.ledger, guild_id,
                                                  user_of(interaction)), ephemeral=True)

    # ----- thread replies --------------------------------------------------------------------
    # Not @all_ages: the core runs this only for verified 21+ authors, or for everyone where an
    # admin opened general chat; then the audience check below decides.
    @commands.Cog.listener()
    @open_to_all_when(general_chat_open)
    async def on_message(self, message: nextcord.Message) -> None:
        if message.author.bot:
            return
        # Replies to an /ask answer continue that conversation, wherever they are.
        if message.reference is not None and await self.plugin.followups.on_reply(message):
            return
        if not isinstance(message.channel, nextcord.Thread):
            return
        conversations = self.plugin.conversations
        if message.channel.id not in conversations.open_channels | conversations.idle_channels:
            return
        try:
            conversation, restarted = await conversations.resume_thread(
                message.channel.id, self.plugin.followups.idle_minutes)
        except Exception as exc:
            if not is_database_unreachable(exc):
                raise
            # The thread is ours (an open conversation's): say why nobody answers.
            await message.channel.send(DatabaseUnavailable().message, allowed_mentions=NO_PINGS)
            return
        if conversation is None:
            return
        guild_id = message.guild.id if message.guild else None
        if conversation.audience == "general":
            classify = True
        else:
            # A 21+ conversation: an unverified author is not answered, and their message
            # never reaches the model (the core already drops it unless general chat is open).
            decision = await self.ctx.services.age_gate.check(guild_id, message.author.id,
                                                              "llm.chat")
            if not decision.allowed:
                return
            classify = False
        text = message.content
        bot_user = self.ctx.bot.user
        if bot_user is not None:
            # Mentioning the bot in its own thread is just a reply.
            for form in (f"<@{bot_user.id}>", f"<@!{bot_user.id}>"):
                text = text.replace(form, "")
        sink = ChannelSink(message.channel)
        try:
            request = ChatRequest(guild_id, message.author.id, text, conversation.kind,
                                  conversation, classify=classify,
                                  **where_of(message.channel, message.author))
            # The allow-lists before attachments are downloaded (prepare checks them again).
            await self.chat_service.check_access(request)
            request.attachments = await self.plugin.followups.intake(
                message.attachments, guild_id, message.author.id)
            async with self._lock(message.channel.id):
                turn = await self.chat_service.prepare(request)
                if restarted:
                    await sink.send(idle_restarted(self.plugin.followups.idle_minutes))
                await self.chat_service.respond(turn, sink)
        except UserError as exc:
            # No interaction to answer ephemerally: a short reply in the thread instead.
            await message.channel.send(exc.message, allowed_mentions=NO_PINGS, view=exc.view)
        except Exception as exc:
            if is_database_unreachable(exc):
                await message.channel.send(DatabaseUnavailable().message,
                                           allowed_mentions=NO_PINGS)
                return
            log.exception("llm.thread_reply_failed")
            await message.channel.send("Something went wrong answering that; try again.",
                                       allowed_mentions=NO_PINGS)
