"""OpenAI-compatible chat with a cannabis knowledge base."""

from plugins.llm.plugin import LLMPlugin

plugin = LLMPlugin()
__all__ = ["plugin"]
