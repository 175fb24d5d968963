"""The public API for plugin authors: import from here and nothing else in `bot`.

Everything else under `bot/` is the core's own and may change between releases. Built-in
plugins follow the same rule (tests/test_public_api.py checks it from the import graph).

    from bot.api import Plugin, PluginContext, ComponentContext, all_ages, adults_only
"""

from __future__ import annotations

from bot.audit import AuditEntry
from bot.background import PeriodicTask, when_database_answers
from bot.client import GrowmiesBot as Bot  # the type of ctx.bot, for annotations
from bot.components.autocomplete import answer_autocomplete, clean_query, clip_choices
from bot.components.context import ComponentContext
from bot.components.forms import FormField, FormSpec, FormStep
from bot.components.registry import Page, PageSource
from bot.components.select import Option
from bot.components.ui import button, controls, link, modal, text_input
from bot.contract import (
    ADULTS_ONLY,
    HOOKS,
    MIXED,
    ComponentHandler,
    Plugin,
    PluginComponents,
    PluginContext,
    adults_only,
    age_restricted,
    all_ages,
    member_has,
    open_to_all_when,
    public_response,
    requires_permissions,
    stateless,
    uses_state,
)
from bot.errors import (
    AlreadyHandled,
    ControlExpired,
    DatabaseUnavailable,
    LavalinkUnavailable,
    MissingPermissions,
    ModelUnavailable,
    NotYours,
    PluginDisabled,
    ServiceUnavailable,
    Throttled,
    UserError,
    is_database_unreachable,
    new_ref,
)
from bot.guild_config import ConfigChange, GuildCache, GuildConfig, PluginGuildConfig
from bot.invoker import GUILD_ONLY, guild_of, user_of
from bot.paid_usage import PaidRefusal, PaidReservation, PaidUsage, PaidUsageProvider
from bot.respond import ADULT_NOTE
from bot.services import (
    NOT_VERIFIED,
    AgeGateProvider,
    CoreServices,
    GateDecision,
    KnowledgeHit,
    KnowledgeProvider,
    XpProvider,
)
from bot.settings import PluginSettings

__all__ = [
    "ADULTS_ONLY",
    "ADULT_NOTE",
    "GUILD_ONLY",
    "HOOKS",
    "MIXED",
    "NOT_VERIFIED",
    "AgeGateProvider",
    "AlreadyHandled",
    "AuditEntry",
    "Bot",
    "ComponentContext",
    "ComponentHandler",
    "ConfigChange",
    "ControlExpired",
    "CoreServices",
    "DatabaseUnavailable",
    "FormField",
    "FormSpec",
    "FormStep",
    "GateDecision",
    "GuildCache",
    "GuildConfig",
    "KnowledgeHit",
    "KnowledgeProvider",
    "LavalinkUnavailable",
    "MissingPermissions",
    "ModelUnavailable",
    "NotYours",
    "Option",
    "Page",
    "PageSource",
    "PaidRefusal",
    "PaidReservation",
    "PaidUsage",
    "PaidUsageProvider",
    "PeriodicTask",
    "Plugin",
    "PluginComponents",
    "PluginContext",
    "PluginDisabled",
    "PluginGuildConfig",
    "PluginSettings",
    "ServiceUnavailable",
    "Throttled",
    "UserError",
    "XpProvider",
    "adults_only",
    "age_restricted",
    "all_ages",
    "answer_autocomplete",
    "button",
    "clean_query",
    "clip_choices",
    "controls",
    "guild_of",
    "is_database_unreachable",
    "link",
    "member_has",
    "modal",
    "new_ref",
    "open_to_all_when",
    "public_response",
    "requires_permissions",
    "stateless",
    "text_input",
    "user_of",
    "uses_state",
    "when_database_answers",
]
