"""Compliance: 21+ age verification, the age gate, audit tools, privacy rights, XP/levels."""

from plugins.compliance.plugin import CompliancePlugin

plugin = CompliancePlugin()
__all__ = ["plugin"]
