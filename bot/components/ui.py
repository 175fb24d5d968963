"""Building message components whose clicks the core router handles (not nextcord's ViewStore)."""

from __future__ import annotations

from collections.abc import Iterable

import nextcord
from nextcord.ui import Button, Item, View

from bot.components import ids


def controls(*items: Item[View] | Iterable[Item[View]]) -> View:
    """A View that only describes components: nextcord never stores or auto-defers it, so
    after a restart the router, loading state from the database, is the only thing that acts."""
    view = View(timeout=None, prevent_update=False, auto_defer=False)
    for item in items:
        if isinstance(item, Item):
            view.add_item(item)
        else:
            for sub in item:
                view.add_item(sub)
    return view


def button(
    label: str,
    custom_id: str,
    *,
    style: nextcord.ButtonStyle = nextcord.ButtonStyle.secondary,
    emoji: str | None = None,
    disabled: bool = False,
    row: int | None = None,
) -> Button[View]:
    ids.parse(custom_id)  # fail at build time, not when Discord rejects the message
    return Button(label=label[:80], custom_id=custom_id, style=style, emoji=emoji,
                  disabled=disabled, row=row)


def link(label: str, url: str, *, row: int | None = None) -> Button[View]:
    return Button(label=label[:80], url=url, style=nextcord.ButtonStyle.link, row=row)


# Discord limits: modal title 45 characters, at most 5 text inputs, labels 45 characters.
MAX_MODAL_TITLE = 45
MAX_MODAL_INPUTS = 5


def modal(title: str, custom_id: str, inputs: Iterable[nextcord.ui.TextInput]) -> nextcord.ui.Modal:
    """A modal the router handles on submit. It is stopped before sending, so nextcord's
    ModalStore neither dispatches nor keeps it."""
    ids.parse(custom_id)
    built = nextcord.ui.Modal(title[:MAX_MODAL_TITLE], custom_id=custom_id, auto_defer=False,
                              timeout=None)
    for item in list(inputs)[:MAX_MODAL_INPUTS]:
        built.add_item(item)
    built.stop()
    return built


def text_input(
    label: str,
    custom_id: str,
    *,
    long: bool = False,
    required: bool = True,
    min_length: int | None = None,
    max_length: int | None = None,
    placeholder: str | None = None,
    default: str | None = None,
) -> nextcord.ui.TextInput:
    return nextcord.ui.TextInput(
        label=label[:45], custom_id=custom_id, required=required,
        style=nextcord.TextInputStyle.paragraph if long else nextcord.TextInputStyle.short,
        min_length=min_length, max_length=max_length,
        placeholder=placeholder[:100] if placeholder else None,
        default_value=default[:4000] if default else None,
    )
