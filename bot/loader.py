"""Plugin discovery through the `growmies.plugins` entry-point group, and the registry of them.

Built-in and third-party plugins load through the same path. A plugin that fails to import,
is misnamed, or raises in setup is logged with its error and skipped; the rest still start.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING

import structlog

from bot.contract import HOOKS, NAME_OK, RATINGS, Plugin
from bot.settings import conflicting_settings, settings_model_problem

if TYPE_CHECKING:
    from nextcord.ext import commands
    from pydantic_settings import BaseSettings

ENTRY_POINT_GROUP = "growmies.plugins"

log = structlog.get_logger("bot.loader")


@dataclass
class DiscoveredPlugin:
    entry_name: str
    distribution: str | None
    version: str
    plugin: Plugin | None = None
    error: str | None = None


@dataclass
class PluginRegistry:
    """Plugins this bot instance owns: discovered, loaded, and those that failed."""

    discovered: dict[str, DiscoveredPlugin] = field(default_factory=dict)
    plugins: dict[str, Plugin] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    cogs: dict[str, list[commands.Cog]] = field(default_factory=dict)
    # Each loaded plugin's settings (its settings_model read at start-up), see bot.settings.
    settings: dict[str, BaseSettings] = field(default_factory=dict)

    def defaults(self) -> dict[str, bool]:
        return {name: p.default_enabled for name, p in self.plugins.items()}

    def model_modules(self) -> dict[str, str]:
        return {name: p.models for name, p in self.plugins.items() if p.models}

    def migration_packages(self) -> dict[str, str | None]:
        """Each plugin app's declared migrations package (None: the default next to its models,
        see `Plugin.migrations`), for `bot.database.apply_migrations`."""
        return {name: p.migrations for name, p in self.plugins.items() if p.models}

    def owner_of_cog(self, cog: object) -> str | None:
        for name, cogs in self.cogs.items():
            if any(c is cog for c in cogs):
                return name
        return None


def discover(allowlist: list[str] | None = None) -> PluginRegistry:
    """Import every entry point in the group (honouring the allowlist) and validate it."""
    registry = PluginRegistry()
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if allowlist is not None and ep.name not in allowlist:
            log.info("plugin.not_allowed", plugin=ep.name)
            continue
        dist = ep.dist
        found = DiscoveredPlugin(
            entry_name=ep.name,
            distribution=dist.name if dist else None,
            version=dist.version if dist else "unknown",
        )
        registry.discovered[ep.name] = found
        if ep.name in registry.plugins:
            found.error = "another installed package already uses this plugin name"
        else:
            found.error = _load_one(ep, found)
        if found.error:
            registry.failed[ep.name] = found.error
            log.error("plugin.skipped", plugin=ep.name, reason=found.error)
        else:
            assert found.plugin is not None
            registry.plugins[ep.name] = found.plugin
    _refuse_shared_settings(registry)
    if allowlist:
        for name in allowlist:
            if name not in registry.discovered:
                registry.failed[name] = "listed in GROWMIES_PLUGINS but not installed"
                log.error("plugin.missing", plugin=name)
    return registry


def _load_one(ep: metadata.EntryPoint, found: DiscoveredPlugin) -> str | None:
    try:
        obj = ep.load()
    except Exception as exc:
        return f"import failed: {type(exc).__name__}: {exc}"
    plugin = obj() if isinstance(obj, type) and issubclass(obj, Plugin) else obj
    if not isinstance(plugin, Plugin):
        return f"entry point {ep.value!r} is not a growmies Plugin"
    if plugin.name != ep.name:
        return (
            f"entry point name {ep.name!r} does not match the plugin's name {plugin.name!r}; "
            "refusing to load it"
        )
    if not NAME_OK(plugin.name):
        return f"invalid plugin name {plugin.name!r} (lowercase letters, digits, _; not reserved)"
    unknown = unknown_hooks(plugin)
    if unknown:
        return unknown
    if plugin.rating not in RATINGS:
        return f"unknown content rating {plugin.rating!r} (expected one of {', '.join(RATINGS)})"
    if plugin.settings_model is not None:
        problem = settings_model_problem(plugin.name, plugin.settings_model)
        if problem:
            return problem
    if plugin.models:
        try:
            importlib.import_module(plugin.models)
        except Exception as exc:
            return f"models module {plugin.models!r} failed to import: {type(exc).__name__}: {exc}"
    found.plugin = plugin
    return None


def _refuse_shared_settings(registry: PluginRegistry) -> None:
    """Two plugins declaring one environment name are both refused (bot.settings)."""
    models = {name: p.settings_model for name, p in registry.plugins.items()
              if p.settings_model is not None}
    for name, reason in conflicting_settings(models).items():
        registry.plugins.pop(name, None)
        registry.discovered[name].plugin = None
        registry.discovered[name].error = reason
        registry.failed[name] = reason
        log.error("plugin.skipped", plugin=name, reason=reason)


def unknown_hooks(plugin: Plugin) -> str | None:
    """Public methods that are not hooks, as pluggy refuses them: a misspelled hook would
    otherwise be silently ignored. Helpers belong in private (`_name`) methods."""
    extra = sorted(
        name for name, value in inspect.getmembers(type(plugin))
        if not name.startswith("_") and callable(value) and name not in HOOKS
        and not hasattr(Plugin, name)
    )
    if not extra:
        return None
    hints = []
    for name in extra:
        close = difflib.get_close_matches(name, HOOKS, n=1)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return (f"public methods that are not hooks: {', '.join(hints)}; hooks are "
            f"{', '.join(HOOKS)} (name helpers with a leading underscore)")
