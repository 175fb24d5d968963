"""The core's component handlers (custom_id prefix `core`), one table for the router."""

from __future__ import annotations

from bot.components import confirm, forms, paginator, select
from bot.contract import ComponentHandler, uses_state

# Each block's actions accept only rows of that block's kind (a paginator row can't drive a
# confirmation); the router then gates them by the rating of the plugin that owns the row.
_BLOCKS: dict[str, tuple[str, dict[str, ComponentHandler]]] = {
    "paginator": ("pg", {
        "first": paginator.on_first, "prev": paginator.on_prev, "next": paginator.on_next,
        "last": paginator.on_last, "jump": paginator.on_jump, "goto": paginator.on_goto,
        "pick": paginator.on_pick,
    }),
    "confirm": ("cf", {"yes": confirm.on_yes, "no": confirm.on_no}),
    "form": ("fm", {"submit": forms.on_submit, "open": forms.on_open, "back": forms.on_back}),
    "select": ("sl", {
        "pick": select.on_pick, "prev": select.on_prev, "next": select.on_next,
        "find": select.on_find, "filter": select.on_filter,
    }),
}


def core_handlers() -> dict[str, ComponentHandler]:
    return {
        f"{prefix}.{verb}": uses_state(kind)(handler)
        for kind, (prefix, verbs) in _BLOCKS.items()
        for verb, handler in verbs.items()
    }
