"""Plugins reach the core through one module: `bot.api`. Checked from the import graph, so a
built-in plugin that reaches past the contract fails here before a plugin author copies it."""

from __future__ import annotations

import ast
from pathlib import Path

import bot.api

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_TREES = [ROOT / "plugins", ROOT / "examples"]
# What a plugin's own tests may import from the core besides bot.api: the rows they assert.
TEST_ALLOWED = {"bot.api", "bot.models"}


def _bot_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(n for n in names if n == "bot" or n.startswith("bot."))
    return found


def _modules(tests: bool) -> list[Path]:
    out = []
    for tree in PLUGIN_TREES:
        for path in tree.rglob("*.py"):
            parts = set(path.relative_to(tree).parts)
            if "migrations" in parts or "build" in parts:
                continue
            if ("tests" in parts) == tests:
                out.append(path)
    return out


def test_plugins_import_nothing_of_the_core_but_bot_api():
    offenders = {
        str(path.relative_to(ROOT)): sorted(bad)
        for path in _modules(tests=False)
        if (bad := _bot_imports(path) - {"bot.api"})
    }
    assert offenders == {}
    assert len(_modules(tests=False)) > 40


def test_plugin_tests_use_the_public_api_and_the_test_kit():
    offenders = {
        str(path.relative_to(ROOT)): sorted(bad)
        for path in _modules(tests=True)
        if (bad := _bot_imports(path) - TEST_ALLOWED)
    }
    assert offenders == {}


def test_everything_bot_api_names_exists():
    missing = [name for name in bot.api.__all__ if not hasattr(bot.api, name)]
    assert missing == []
    assert len(bot.api.__all__) == len(set(bot.api.__all__))
