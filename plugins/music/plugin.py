from __future__ import annotations

from bot.contract import Plugin


class MusicPlugin(Plugin):
    name = "music"
    version = "0.1.0"
    description = "Lavalink music: queue, meditation sessions, podcasts."
    models = "plugins.music.models"
