"""Lavalink music: queue, meditation sessions, podcasts."""

from plugins.music.plugin import MusicPlugin

# The class, not an instance: the loader builds the plugin object when it loads it, so
# importing this package wires nothing and each bot gets its own.
plugin = MusicPlugin
__all__ = ["plugin"]
