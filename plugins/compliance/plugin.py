from __future__ import annotations

from bot.contract import Plugin


class CompliancePlugin(Plugin):
    name = "compliance"
    version = "0.1.0"
    description = "21+ age verification, the age gate, audit tools, privacy and XP/levels."
    data_statement = "Verification outcome (never the date of birth), XP and levels per server."
