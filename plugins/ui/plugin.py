from __future__ import annotations

from bot.contract import Plugin


class UIPlugin(Plugin):
    name = "ui"
    version = "0.1.0"
    description = "Strain explorer, grow wizard, NJ compliance checker and quizzes."
