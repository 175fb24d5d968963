"""Strain explorer, grow wizard, NJ compliance checker and quizzes."""

from plugins.ui.plugin import UIPlugin

# The class, not an instance: the loader builds the plugin object when it loads it, so
# importing this package wires nothing and each bot gets its own (its handlers hold its context).
plugin = UIPlugin
__all__ = ["plugin"]
