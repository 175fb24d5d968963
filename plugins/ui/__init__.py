"""Strain explorer, grow wizard, NJ compliance checker and quizzes."""

from plugins.ui.plugin import UIPlugin

plugin = UIPlugin()
__all__ = ["plugin"]
