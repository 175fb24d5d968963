"""A paginator over any named page source: first/previous/next/last and jump-to-page, and
optionally a select of named sections ("jumps": label → page) that opens a section's page.

State holds the source name, its parameters and the current page; each click renders only
the requested page, so a 100,000-row leaderboard never loads whole.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nextcord

from bot.components import ids
from bot.components.registry import Page
from bot.components.ui import button, controls, modal, text_input
from bot.errors import ControlExpired, UserError

if TYPE_CHECKING:
    from bot.client import GrowmiesBot
    from bot.components.context import ComponentContext

PAGINATOR_TTL = timedelta(hours=24)


# Discord allows at most 25 options in a select.
MAX_JUMPS = 25


def _view(state_id: str, page: int, pages: int,
          jumps: list[list[Any]] | None = None) -> nextcord.ui.View:
    def cid(action: str) -> str:
        return ids.build("core", action, state_id)

    first, last = page <= 0, page >= pages - 1
    items: list[Any] = [
        button("⏮", cid("pg.first"), disabled=first, row=0),
        button("◀", cid("pg.prev"), disabled=first, row=0),
        button(f"{page + 1}/{max(pages, 1)}", cid("pg.jump"), disabled=pages <= 1, row=0),
        button("▶", cid("pg.next"), disabled=last, row=0),
        button("⏭", cid("pg.last"), disabled=last, row=0),
    ]
    if jumps and len(jumps) > 1:
        # The section holding the current page is shown as the default choice.
        current = max((i for i, (_, start) in enumerate(jumps) if int(start) <= page), default=0)
        items.append(nextcord.ui.StringSelect(
            custom_id=cid("pg.pick"), placeholder="Go to…", row=1,
            options=[nextcord.SelectOption(label=str(label)[:100], value=str(int(start)),
                                           default=i == current)
                     for i, (label, start) in enumerate(jumps[:MAX_JUMPS])],
        ))
    return controls(*items)


def _with_footer(page: Page, index: int, pages: int) -> Page:
    if page.embed is not None and not page.embed.footer.text:
        page.embed.set_footer(text=f"Page {index + 1} of {max(pages, 1)}")
    return page


async def send_paginator(
    bot: GrowmiesBot,
    interaction: nextcord.Interaction,
    *,
    plugin: str,
    source: str,
    params: dict[str, Any] | None = None,
    owner_only: bool = True,
    ephemeral: bool = False,
    age_feature: str | None = None,
    jumps: list[tuple[str, int]] | None = None,
) -> None:
    """Answer `interaction` with page 1 of `source` and paging buttons bound to the invoker;
    `jumps` (label, page index) adds a select that opens the chosen section's page."""
    params = params or {}
    jump_rows = [[label, int(start)] for label, start in (jumps or [])][:MAX_JUMPS]
    page_source = bot.services.blocks.pages[source]
    pages = await page_source.page_count(params)
    page = _with_footer(await page_source.render(params, 0), 0, pages)
    assert interaction.user is not None
    state = await bot.services.components.create(
        plugin, "paginator", {"source": source, "params": params, "page": 0, "jumps": jump_rows},
        owner_id=interaction.user.id if owner_only else None,
        guild_id=interaction.guild_id, ttl=PAGINATOR_TTL, age_feature=age_feature,
    )
    kwargs: dict[str, Any] = {"view": _view(state.id, 0, pages, jump_rows), "ephemeral": ephemeral}
    if page.embed is not None:
        kwargs["embed"] = page.embed
    await interaction.send(page.content, **kwargs)


async def _show(ctx: ComponentContext, target: int | str) -> None:
    data = ctx.data
    source = ctx.bot.services.blocks.pages.get(data.get("source", ""))
    if source is None:
        raise ControlExpired()
    params = data.get("params", {})
    pages = await source.page_count(params)
    current = int(data.get("page", 0))
    if target == "first":
        index = 0
    elif target == "last":
        index = pages - 1
    elif target == "prev":
        index = current - 1
    elif target == "next":
        index = current + 1
    else:
        index = int(target)
    index = max(0, min(index, max(pages - 1, 0)))
    page = _with_footer(await source.render(params, index), index, pages)
    if index != current:
        await ctx.advance({**data, "page": index}, extend=PAGINATOR_TTL)
    assert ctx.state is not None
    await ctx.edit(content=page.content, embed=page.embed, view=_view(ctx.state.id, index, pages,
                                                                     data.get("jumps")))


async def on_first(ctx: ComponentContext) -> None:
    await _show(ctx, "first")


async def on_prev(ctx: ComponentContext) -> None:
    await _show(ctx, "prev")


async def on_next(ctx: ComponentContext) -> None:
    await _show(ctx, "next")


async def on_last(ctx: ComponentContext) -> None:
    await _show(ctx, "last")


async def on_jump(ctx: ComponentContext) -> None:
    assert ctx.state is not None
    await ctx.interaction.response.send_modal(
        modal("Go to page", ids.build("core", "pg.goto", ctx.state.id),
              [text_input("Page number", "page", min_length=1, max_length=7, placeholder="12")])
    )


async def on_goto(ctx: ComponentContext) -> None:
    raw = ctx.fields.get("page", "").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise UserError("Type a page number like 3.")
    await _show(ctx, int(raw) - 1)


async def on_pick(ctx: ComponentContext) -> None:
    # Only the pages the select offered: a forged value is answered like a stale control.
    offered = {str(int(start)) for _, start in ctx.data.get("jumps") or []}
    values = ctx.values
    if not values or values[0] not in offered:
        raise ControlExpired()
    await _show(ctx, int(values[0]))
