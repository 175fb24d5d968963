"""Growmies: a plugin-based Discord bot for an adult (21+) cannabis community.

Plugin authors import from `bot.api` only; every other module of this package is the core's
own and may change between releases (tests/test_public_api.py holds the built-in plugins to
the same rule).
"""

__version__ = "0.1.0"
