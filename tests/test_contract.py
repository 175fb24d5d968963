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
