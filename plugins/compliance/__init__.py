"""Compliance: 21+ age verification, the age gate, audit tools, privacy rights, XP/levels."""

from plugins.compliance.plugin import CompliancePlugin

# The class, not an instance: the loader builds the plugin object when it loads it, so
# importing this package wires nothing and each bot gets its own.
plugin = CompliancePlugin
__all__ = ["plugin"]
