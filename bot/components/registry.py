"""Named page sources, callbacks and forms, so a control can find its code after a restart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import nextcord

    from bot.components.context import ComponentContext


@dataclass
class Page:
    content: str | None = None
    embed: nextcord.Embed | None = None


class PageSource(Protocol):
    """Pages rendered on demand: only the requested page is ever loaded."""

    async def page_count(self, params: dict[str, Any]) -> int: ...

    async def render(self, params: dict[str, Any], page: int) -> Page: ...


# Called with the click's context and the result (a confirmation, a picked value, form answers).
BlockCallback = Callable[["ComponentContext", Any], Awaitable[None]]


@dataclass
class BlockRegistry:
    pages: dict[str, PageSource] = field(default_factory=dict)
    callbacks: dict[str, BlockCallback] = field(default_factory=dict)
    forms: dict[str, Any] = field(default_factory=dict)

    def page_source(self, name: str, source: PageSource) -> None:
        self.pages[name] = source

    def callback(self, name: str, func: BlockCallback) -> None:
        self.callbacks[name] = func

    def form(self, spec: Any) -> None:
        self.forms[spec.name] = spec
