"""The core's component handlers (custom_id prefix `core`), one table for the router."""

from __future__ import annotations

from bot.components import confirm, forms, paginator, select
from bot.contract import ComponentHandler


def core_handlers() -> dict[str, ComponentHandler]:
    return {
        "pg.first": paginator.on_first,
        "pg.prev": paginator.on_prev,
        "pg.next": paginator.on_next,
        "pg.last": paginator.on_last,
        "pg.jump": paginator.on_jump,
        "pg.goto": paginator.on_goto,
        "cf.yes": confirm.on_yes,
        "cf.no": confirm.on_no,
        "fm.submit": forms.on_submit,
        "fm.open": forms.on_open,
        "fm.back": forms.on_back,
        "sl.pick": select.on_pick,
        "sl.prev": select.on_prev,
        "sl.next": select.on_next,
        "sl.find": select.on_find,
        "sl.filter": select.on_filter,
    }
