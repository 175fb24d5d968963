from __future__ import annotations

from bot.contract import Plugin


class LLMPlugin(Plugin):
    name = "llm"
    version = "0.1.0"
    description = "OpenAI-compatible chat with a cannabis knowledge base."
    models = "plugins.llm.models"
