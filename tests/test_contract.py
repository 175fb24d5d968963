"""The plugin contract: every installed plugin honours it, and README.md documents it."""

from __future__ import annotations

import inspect
from importlib import metadata
from pathlib import Path

import pytest

from bot import contract
from bot.loader import ENTRY_POINT_GROUP, DiscoveredPlugin, _load_one, discover

ROOT = Path(__file__).resolve().parent.parent
INSTALLED = sorted(discover().plugins)


def test_builtin_plugins_load_through_entry_points_like_any_other():
    assert {"compliance", "music", "llm", "ui"} <= set(INSTALLED)
    names = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert {"compliance", "music", "llm", "ui"} <= names


@pytest.mark.parametrize("name", INSTALLED)
def test_installed_plugin_honours_the_contract(name):
    plugin = discover().plugins[name]
    assert plugin.name == name and contract.NAME_OK(name)
    assert plugin.description and plugin.version and plugin.data_statement
    for hook in contract.HOOKS:
        assert callable(getattr(plugin, hook))
    for hook in ("setup", "teardown", "delete_user_data", "export_user_data"):
        assert inspect.iscoroutinefunction(getattr(plugin, hook)), hook


def test_every_hook_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for hook in contract.HOOKS:
        assert f"`{hook}" in readme, f"README.md does not document the {hook} hook"
        assert getattr(contract.Plugin, hook).__doc__, hook
    for attr in ("name", "version", "description", "data_statement", "default_enabled",
                 "models"):
        assert f"`{attr}`" in readme


def test_entry_point_whose_name_differs_is_refused(caplog):
    ep = metadata.EntryPoint(name="wrongname", value="plugins.music:plugin",
                             group=ENTRY_POINT_GROUP)
    found = DiscoveredPlugin("wrongname", None, "0")
    error = _load_one(ep, found)
    assert error is not None and "does not match" in error and found.plugin is None


def test_entry_point_that_fails_to_import_is_reported():
    ep = metadata.EntryPoint(name="ghost", value="no_such_module_xyz:plugin",
                             group=ENTRY_POINT_GROUP)
    error = _load_one(ep, DiscoveredPlugin("ghost", None, "0"))
    assert error is not None and error.startswith("import failed: ModuleNotFoundError")


def test_allowlist_limits_what_loads():
    registry = discover(["music"])
    assert set(registry.plugins) == {"music"}
    registry = discover(["music", "nosuch"])
    assert "nosuch" in registry.failed


class _Misspelled(contract.Plugin):
    name = "misspelled"
    description = "A plugin whose author typed setpu"

    async def setpu(self, ctx: contract.PluginContext) -> None:  # meant: setup
        raise AssertionError("never called")


misspelled = _Misspelled()


class _BadRating(contract.Plugin):
    name = "badrating"
    rating = "teens"


badrating = _BadRating()


def test_a_misspelled_hook_is_refused_with_the_hook_it_meant():
    ep = metadata.EntryPoint(name="misspelled", value=f"{__name__}:misspelled",
                             group=ENTRY_POINT_GROUP)
    found = DiscoveredPlugin("misspelled", None, "0")
    error = _load_one(ep, found)
    assert error is not None and found.plugin is None
    assert "setpu (did you mean setup?)" in error


def test_an_unknown_content_rating_is_refused():
    ep = metadata.EntryPoint(name="badrating", value=f"{__name__}:badrating",
                             group=ENTRY_POINT_GROUP)
    error = _load_one(ep, DiscoveredPlugin("badrating", None, "0"))
    assert error is not None and "unknown content rating 'teens'" in error


def test_a_plugin_that_says_nothing_is_rated_adults_only():
    assert contract.Plugin.rating == contract.ADULTS_ONLY
    ratings = {p.name: p.rating for p in discover().plugins.values()}
    assert {"llm": "adults_only", "ui": "adults_only", "music": "mixed",
            "compliance": "mixed"}.items() <= ratings.items()
