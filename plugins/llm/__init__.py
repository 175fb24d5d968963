"""OpenAI-compatible chat with a cannabis knowledge base."""

from plugins.llm.plugin import LLMPlugin

# The class, not an instance: the loader builds the plugin object when it loads it, so
# importing this package wires nothing (setup binds the guild settings and the context).
plugin = LLMPlugin
__all__ = ["plugin"]
