"""What a component handler receives: the interaction, its parsed custom_id and loaded state."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nextcord

from bot.components.ids import CustomId
from bot.errors import AlreadyHandled
from bot.models import ComponentState
from bot.respond import claim_defer

if TYPE_CHECKING:
    from bot.client import GrowmiesBot
    from bot.services import CoreServices


def _walk_inputs(components: Any) -> Iterator[dict[str, Any]]:
    if isinstance(components, list):
        for item in components:
            yield from _walk_inputs(item)
    elif isinstance(components, dict):
        if "custom_id" in components and ("value" in components or "values" in components):
            yield components
        for key in ("components", "component"):
            if key in components:
                yield from _walk_inputs(components[key])


@dataclass
class ComponentContext:
    interaction: nextcord.Interaction
    bot: GrowmiesBot
    custom_id: CustomId
    state: ComponentState | None
    advanced: bool = field(default=False)

    @property
    def services(self) -> CoreServices:
        return self.bot.services

    @property
    def user_id(self) -> int:
        assert self.interaction.user is not None
        return self.interaction.user.id

    @property
    def guild_id(self) -> int | None:
        return self.interaction.guild_id

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.state.data) if self.state is not None else {}

    @property
    def values(self) -> list[str]:
        """Values picked in a select menu."""
        raw: dict[str, Any] = dict(self.interaction.data or {})
        return [str(v) for v in raw.get("values", [])]

    @property
    def fields(self) -> dict[str, str]:
        """Text inputs of a submitted modal, by their custom_id."""
        raw: dict[str, Any] = dict(self.interaction.data or {})
        out: dict[str, str] = {}
        for item in _walk_inputs(raw.get("components", [])):
            value = item.get("value")
            if value is None and isinstance(item.get("values"), list):
                value = ",".join(map(str, item["values"]))
            out[str(item["custom_id"])] = "" if value is None else str(value)
        return out

    async def advance(self, data: dict[str, Any], *, extend: timedelta | None = None) -> None:
        """Store new state; raises AlreadyHandled if a concurrent click advanced it first."""
        assert self.state is not None
        if not await self.services.components.advance(self.state, data, extend=extend):
            raise AlreadyHandled()
        self.advanced = True

    async def defer_update(self) -> None:
        await claim_defer(self.interaction)

    async def send(self, content: str | None = None, *, ephemeral: bool = True,
                   **kwargs: Any) -> None:
        """Answer the click (or follow up if it was already answered)."""
        await self.interaction.send(content, ephemeral=ephemeral, **kwargs)

    async def edit(self, **kwargs: Any) -> None:
        """Update the message the control sits on."""
        if self.interaction.response.is_done():
            await self.interaction.edit_original_message(**kwargs)
        else:
            await self.interaction.response.edit_message(**kwargs)
