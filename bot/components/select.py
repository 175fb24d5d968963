"""A select menu over any number of options: 25 per page (Discord's limit), Prev/Next, and a
type-to-filter modal. Picking an option calls a named callback with its value."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nextcord
from nextcord.ui import Select

from bot.components import ids
from bot.components.autocomplete import clean_query
from bot.components.ui import button, controls, modal, text_input
from bot.errors import ControlExpired, UserError

if TYPE_CHECKING:
    from bot.client import GrowmiesBot
    from bot.components.context import ComponentContext

PER_PAGE = 25
# Options live in the state row; past this a plugin should use autocomplete instead.
MAX_OPTIONS = 5000
SELECT_TTL = timedelta(hours=2)


@dataclass(frozen=True)
class Option:
    label: str
    value: str
    description: str | None = None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).casefold()


def _visible(data: dict[str, Any]) -> list[list[str | None]]:
    options: list[list[str | None]] = data["options"]
    needle = _fold(data.get("filter") or "")
    if not needle:
        return options
    return [o for o in options if needle in _fold(str(o[0])) or needle in _fold(str(o[2] or ""))]


def _render(state_id: str, data: dict[str, Any]) -> tuple[str, nextcord.ui.View]:
    visible = _visible(data)
    pages = max(1, -(-len(visible) // PER_PAGE))
    page = max(0, min(int(data.get("page", 0)), pages - 1))
    chunk = visible[page * PER_PAGE:(page + 1) * PER_PAGE]
    items: list[Any] = []
    if chunk:
        select: Select[Any] = Select(
            custom_id=ids.build("core", "sl.pick", state_id),
            placeholder=str(data.get("placeholder") or "Choose…")[:150],
            options=[
                nextcord.SelectOption(label=str(label)[:100], value=str(value)[:100],
                                      description=str(desc)[:100] if desc else None)  # type: ignore[arg-type]  # nextcord's stub says str, its code takes None
                for label, value, desc in chunk
            ],
            row=0,
        )
        items.append(select)
    items += [
        button("◀", ids.build("core", "sl.prev", state_id), disabled=page == 0, row=1),
        button(f"{page + 1}/{pages}", ids.build("core", "sl.page", state_id), disabled=True,
               row=1),
        button("▶", ids.build("core", "sl.next", state_id), disabled=page >= pages - 1, row=1),
        button("🔎 Filter", ids.build("core", "sl.find", state_id), row=1),
    ]
    filt = data.get("filter")
    text = str(data.get("prompt") or "Pick one:")
    text += f"\nShowing {len(visible)} of {len(data['options'])}"
    text += f" matching “{filt}”." if filt else "."
    if not chunk:
        text += "\nNothing matches; try another filter."
    return text[:2000], controls(*items)


async def send_large_select(
    bot: GrowmiesBot,
    interaction: nextcord.Interaction,
    *,
    plugin: str,
    options: list[Option],
    callback: str,
    prompt: str = "Pick one:",
    placeholder: str = "Choose…",
    payload: dict[str, Any] | None = None,
    ephemeral: bool = True,
    age_feature: str | None = None,
) -> None:
    if not options:
        raise UserError("There is nothing to choose from yet.")
    if len(options) > MAX_OPTIONS:
        raise ValueError(f"at most {MAX_OPTIONS} options; use autocomplete for more")
    assert interaction.user is not None
    data = {
        "options": [[o.label, o.value, o.description] for o in options], "page": 0,
        "filter": None, "callback": callback, "prompt": prompt, "placeholder": placeholder,
        "payload": payload or {},
    }
    state = await bot.services.components.create(
        plugin, "select", data, owner_id=interaction.user.id, guild_id=interaction.guild_id,
        ttl=SELECT_TTL, age_feature=age_feature,
    )
    text, view = _render(state.id, data)
    await interaction.send(text, view=view, ephemeral=ephemeral)


async def _move(ctx: ComponentContext, delta: int) -> None:
    assert ctx.state is not None
    data = {**ctx.data, "page": int(ctx.data.get("page", 0)) + delta}
    await ctx.advance(data, extend=SELECT_TTL)
    text, view = _render(ctx.state.id, data)
    await ctx.edit(content=text, view=view)


async def on_prev(ctx: ComponentContext) -> None:
    await _move(ctx, -1)


async def on_next(ctx: ComponentContext) -> None:
    await _move(ctx, 1)


async def on_find(ctx: ComponentContext) -> None:
    assert ctx.state is not None
    await ctx.interaction.response.send_modal(modal(
        "Filter options", ids.build("core", "sl.filter", ctx.state.id),
        [text_input("Contains", "q", required=False, max_length=100,
                    default=ctx.data.get("filter"))],
    ))


async def on_filter(ctx: ComponentContext) -> None:
    assert ctx.state is not None
    query = clean_query(ctx.fields.get("q", ""))
    data = {**ctx.data, "filter": query or None, "page": 0}
    await ctx.advance(data, extend=SELECT_TTL)
    text, view = _render(ctx.state.id, data)
    await ctx.edit(content=text, view=view)


async def on_pick(ctx: ComponentContext) -> None:
    data = ctx.data
    values = ctx.values
    known = {str(o[1]) for o in data.get("options", [])}
    if not values or values[0] not in known:
        raise ControlExpired()
    func = ctx.bot.services.blocks.callbacks.get(data.get("callback", ""))
    if func is None:
        raise ControlExpired()
    await func(ctx, {"value": values[0], "payload": data.get("payload", {})})
