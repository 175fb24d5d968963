"""Lavalink music: queue, meditation sessions, podcasts."""

from plugins.music.plugin import MusicPlugin

plugin = MusicPlugin()
__all__ = ["plugin"]
