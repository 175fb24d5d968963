"""Growmies: a plugin-based Discord bot for an adult (21+) cannabis community."""

__version__ = "0.1.0"
