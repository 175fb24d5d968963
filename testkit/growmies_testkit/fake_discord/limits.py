"""The payload limits real Discord enforces, reproduced as ``400 Invalid Form Body`` errors.

Each ``check_*`` function adds every violation it finds to a :class:`FormErrors` under the
field path Discord uses, so a test sees the same error tree a production bot would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from .errors import FormErrors

__all__ = [
    "MAX_CONTENT",
    "check_allowed_mentions",
    "check_autocomplete",
    "check_command",
    "check_components",
    "check_embeds",
    "check_message",
    "check_modal",
]

Path = tuple[str | int, ...]

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER_TEXT = 2048
MAX_AUTHOR_NAME = 256
MAX_EMBED_TOTAL = 6000
MAX_ACTION_ROWS = 5
MAX_ROW_WIDTH = 5
MAX_SELECT_OPTIONS = 25
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_MODAL_TITLE = 45
MAX_MODAL_COMPONENTS = 5
MAX_TEXT_INPUT_LABEL = 45
MAX_CHOICES = 25
MAX_V2_COMPONENTS = 40
MAX_V2_TEXT = 4000

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
MESSAGE_FLAG_COMPONENTS_V2 = 1 << 15

_SELECT_TYPES = {3, 5, 6, 7, 8}
_V2_TOP_LEVEL = {1, 9, 10, 12, 13, 14, 17}
_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _length(errors: FormErrors, path: Path, value: Any, high: int, *, low: int = 0) -> int:
    """Check a string's length; returns the length (0 for missing/non-strings)."""
    if value is None:
        if low:
            errors.required(path)
        return 0
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Could not interpret value as string.")
        return 0
    n = len(value)
    if low and n < low:
        if low == 1 and n == 0:
            errors.required(path)
        else:
            errors.bad_length(path, low, high)
    elif n > high:
        if low:
            errors.bad_length(path, low, high)
        else:
            errors.max_length(path, high)
    return n


def _check_url(errors: FormErrors, path: Path, url: Any, *, attachment_ok: bool = False) -> None:
    if url is None:
        return
    if not isinstance(url, str):
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        return
    scheme = urlsplit(url).scheme
    allowed = ("http", "https", "attachment") if attachment_ok else ("http", "https")
    if scheme not in allowed:
        errors.add(
            path,
            "URL_TYPE_INVALID_SCHEME",
            f'Scheme "{scheme}" is not supported. Scheme must be one of {allowed}.',
        )


def check_embeds(errors: FormErrors, embeds: Any, path: Path = ("embeds",)) -> None:
    """Embed count, per-field lengths, the 25-field cap and the 6,000-character total."""
    if embeds is None:
        return
    if not isinstance(embeds, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if len(embeds) > MAX_EMBEDS:
        errors.max_length(path, MAX_EMBEDS)
    total = 0
    for i, embed in enumerate(embeds):
        p = (*path, i)
        if not isinstance(embed, dict):
            errors.add(p, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        total += _length(errors, (*p, "title"), embed.get("title"), MAX_EMBED_TITLE)
        total += _length(
            errors, (*p, "description"), embed.get("description"), MAX_EMBED_DESCRIPTION
        )
        _check_url(errors, (*p, "url"), embed.get("url"))
        color = embed.get("color")
        if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
            errors.add(
                (*p, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215 and >= 0."
            )
        fields = embed.get("fields") or []
        if len(fields) > MAX_EMBED_FIELDS:
            errors.max_length((*p, "fields"), MAX_EMBED_FIELDS)
        for j, fld in enumerate(fields):
            fp = (*p, "fields", j)
            total += _length(errors, (*fp, "name"), fld.get("name"), MAX_FIELD_NAME, low=1)
            total += _length(errors, (*fp, "value"), fld.get("value"), MAX_FIELD_VALUE, low=1)
        footer = embed.get("footer")
        if isinstance(footer, dict):
            total += _length(
                errors, (*p, "footer", "text"), footer.get("text"), MAX_FOOTER_TEXT, low=1
            )
            _check_url(
                errors, (*p, "footer", "icon_url"), footer.get("icon_url"), attachment_ok=True
            )
        author = embed.get("author")
        if isinstance(author, dict):
            total += _length(
                errors, (*p, "author", "name"), author.get("name"), MAX_AUTHOR_NAME, low=1
            )
            _check_url(errors, (*p, "author", "url"), author.get("url"))
            _check_url(
                errors, (*p, "author", "icon_url"), author.get("icon_url"), attachment_ok=True
            )
        for key in ("image", "thumbnail"):
            media = embed.get(key)
            if isinstance(media, dict):
                _check_url(errors, (*p, key, "url"), media.get("url"), attachment_ok=True)
    if total > MAX_EMBED_TOTAL:
        errors.add(
            path, "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
        )


def _check_custom_id(errors: FormErrors, path: Path, custom_id: Any, seen: set[str]) -> None:
    _length(errors, path, custom_id, MAX_CUSTOM_ID, low=1)
    if isinstance(custom_id, str):
        if custom_id in seen:
            errors.add(
                path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
            )
        seen.add(custom_id)


def _check_button(errors: FormErrors, path: Path, comp: dict[str, Any], seen: set[str]) -> None:
    style = comp.get("style")
    if style not in (1, 2, 3, 4, 5, 6):
        errors.add(
            (*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}."
        )
        return
    _length(errors, (*path, "label"), comp.get("label"), MAX_BUTTON_LABEL)
    if style == 5:
        if not comp.get("url"):
            errors.required((*path, "url"))
        else:
            _check_url(errors, (*path, "url"), comp.get("url"))
        if comp.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_INVALID",
                "A custom id cannot be specified for a link button",
            )
    elif style == 6:
        if not comp.get("sku_id"):
            errors.required((*path, "sku_id"))
    else:
        _check_custom_id(errors, (*path, "custom_id"), comp.get("custom_id"), seen)
        if comp.get("url") is not None:
            errors.add(
                (*path, "url"),
                "BUTTON_COMPONENT_URL_INVALID",
                "A URL can only be specified for link buttons",
            )
    if style != 6 and not comp.get("label") and not comp.get("emoji"):
        errors.add(
            path,
            "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
            "A button must have a label or an emoji",
        )


def _check_select(errors: FormErrors, path: Path, comp: dict[str, Any], seen: set[str]) -> None:
    _check_custom_id(errors, (*path, "custom_id"), comp.get("custom_id"), seen)
    _length(errors, (*path, "placeholder"), comp.get("placeholder"), 150)
    lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
    if not isinstance(lo, int) or not 0 <= lo <= 25:
        errors.add((*path, "min_values"), "NUMBER_TYPE_MAX", "int value should be <= 25 and >= 0.")
    if not isinstance(hi, int) or not 1 <= hi <= 25:
        errors.add((*path, "max_values"), "NUMBER_TYPE_MAX", "int value should be <= 25 and >= 1.")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        errors.add(
            (*path, "min_values"),
            "SELECT_COMPONENT_MIN_VALUES_EXCEEDS_MAX",
            "min_values must be less than or equal to max_values",
        )
    if comp.get("type") == 3:
        options = comp.get("options") or []
        if not options:
            errors.bad_length((*path, "options"), 1, MAX_SELECT_OPTIONS)
        elif len(options) > MAX_SELECT_OPTIONS:
            errors.bad_length((*path, "options"), 1, MAX_SELECT_OPTIONS)
        values: set[str] = set()
        for k, opt in enumerate(options):
            op = (*path, "options", k)
            _length(errors, (*op, "label"), opt.get("label"), 100, low=1)
            _length(errors, (*op, "value"), opt.get("value"), 100, low=1)
            _length(errors, (*op, "description"), opt.get("description"), 100)
            value = opt.get("value")
            if isinstance(value, str):
                if value in values:
                    errors.add(
                        (*op, "value"),
                        "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                        "Select component option values must be unique",
                    )
                values.add(value)
        if isinstance(hi, int) and options and hi > len(options):
            errors.add(
                (*path, "max_values"),
                "SELECT_COMPONENT_MAX_VALUES_EXCEEDS_OPTIONS",
                "max_values must be less than or equal to the number of options",
            )


def _check_row(
    errors: FormErrors, path: Path, row: dict[str, Any], seen: set[str], *, in_modal: bool
) -> None:
    children = row.get("components")
    if not isinstance(children, list) or not children:
        errors.bad_length((*path, "components"), 1, MAX_ROW_WIDTH)
        return
    if len(children) > MAX_ROW_WIDTH:
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    has_select = any(isinstance(c, dict) and c.get("type") in _SELECT_TYPES for c in children)
    if has_select and len(children) > 1:
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    for k, comp in enumerate(children):
        cp = (*path, "components", k)
        ctype = comp.get("type") if isinstance(comp, dict) else None
        if ctype == 2 and not in_modal:
            _check_button(errors, cp, comp, seen)
        elif ctype in _SELECT_TYPES:
            _check_select(errors, cp, comp, seen)
        elif ctype == 4 and in_modal:
            _check_text_input(errors, cp, comp, seen, label_required=True)
        else:
            errors.add(
                (*cp, "type"),
                "UNION_TYPE_CHOICES",
                f'Value of field "type" must be one of {(4,) if in_modal else (2, 3, 5, 6, 7, 8)}.',
            )


def _count_components(components: Sequence[Any]) -> int:
    n = 0
    for comp in components:
        if not isinstance(comp, dict):
            continue
        n += 1
        n += _count_components(comp.get("components") or [])
        if isinstance(comp.get("accessory"), dict):
            n += 1
        if isinstance(comp.get("component"), dict):
            n += 1
    return n


def _text_display_chars(components: Sequence[Any]) -> int:
    n = 0
    for comp in components:
        if not isinstance(comp, dict):
            continue
        if comp.get("type") == 10 and isinstance(comp.get("content"), str):
            n += len(comp["content"])
        n += _text_display_chars(comp.get("components") or [])
    return n


def _check_v2(errors: FormErrors, path: Path, comp: dict[str, Any], seen: set[str]) -> None:
    ctype = comp.get("type")
    if ctype == 1:
        _check_row(errors, path, comp, seen, in_modal=False)
    elif ctype == 9:  # section: 1-3 text displays + an accessory (button or thumbnail)
        children = comp.get("components") or []
        if not 1 <= len(children) <= 3:
            errors.bad_length((*path, "components"), 1, 3)
        for k, child in enumerate(children):
            if child.get("type") != 10:
                errors.add(
                    (*path, "components", k, "type"),
                    "UNION_TYPE_CHOICES",
                    'Value of field "type" must be one of (10,).',
                )
        accessory = comp.get("accessory")
        if not isinstance(accessory, dict):
            errors.required((*path, "accessory"))
        elif accessory.get("type") == 2:
            _check_button(errors, (*path, "accessory"), accessory, seen)
        elif accessory.get("type") != 11:
            errors.add(
                (*path, "accessory", "type"),
                "UNION_TYPE_CHOICES",
                'Value of field "type" must be one of (2, 11).',
            )
    elif ctype == 10:
        _length(errors, (*path, "content"), comp.get("content"), MAX_V2_TEXT, low=1)
    elif ctype == 12:
        items = comp.get("items") or []
        if not 1 <= len(items) <= 10:
            errors.bad_length((*path, "items"), 1, 10)
    elif ctype == 17:
        for k, child in enumerate(comp.get("components") or []):
            if isinstance(child, dict) and child.get("type") in {1, 9, 10, 12, 13, 14}:
                _check_v2(errors, (*path, "components", k), child, seen)
            else:
                errors.add(
                    (*path, "components", k, "type"),
                    "UNION_TYPE_CHOICES",
                    'Value of field "type" must be one of (1, 9, 10, 12, 13, 14).',
                )


def check_components(errors: FormErrors, components: Any, flags: int = 0) -> None:
    """Message components: ≤ 5 action rows, ≤ 5 buttons per row, a select alone in its row,
    unique custom ids ≤ 100 chars, labels ≤ 80 chars; Components V2 layouts (flag 1 << 15)
    are accepted with their 40-component and 4,000-character caps."""
    if components is None:
        return
    path: Path = ("components",)
    if not isinstance(components, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    seen: set[str] = set()
    if flags & MESSAGE_FLAG_COMPONENTS_V2:
        if _count_components(components) > MAX_V2_COMPONENTS:
            errors.max_length(path, MAX_V2_COMPONENTS)
        if _text_display_chars(components) > MAX_V2_TEXT:
            errors.add(
                path,
                "COMPONENT_TEXT_DISPLAY_TOTAL_LENGTH_EXCEEDED",
                f"Text display content must be {MAX_V2_TEXT} or fewer characters in total",
            )
        for i, comp in enumerate(components):
            if not isinstance(comp, dict) or comp.get("type") not in _V2_TOP_LEVEL:
                errors.add(
                    (*path, i, "type"),
                    "UNION_TYPE_CHOICES",
                    f'Value of field "type" must be one of {tuple(sorted(_V2_TOP_LEVEL))}.',
                )
                continue
            _check_v2(errors, (*path, i), comp, seen)
        return
    if len(components) > MAX_ACTION_ROWS:
        errors.max_length(path, MAX_ACTION_ROWS)
    for i, row in enumerate(components):
        if not isinstance(row, dict) or row.get("type") != 1:
            errors.add(
                (*path, i, "type"),
                "UNION_TYPE_CHOICES",
                'Value of field "type" must be one of (1,).',
            )
            continue
        _check_row(errors, (*path, i), row, seen, in_modal=False)


def check_allowed_mentions(errors: FormErrors, allowed: Any) -> None:
    """``parse`` values, and ``parse: ["users"]`` together with ``users: [...]`` is an error."""
    if allowed is None:
        return
    path: Path = ("allowed_mentions",)
    if not isinstance(allowed, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    parse = allowed.get("parse") or []
    for i, item in enumerate(parse):
        if item not in ("users", "roles", "everyone"):
            errors.add(
                (*path, "parse", i),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('roles', 'users', 'everyone').",
            )
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            errors.add(
                (*path, "parse"),
                "SET_TYPE_ALREADY_CONTAINS_VALUE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        if len(allowed.get(kind) or []) > 100:
            errors.max_length((*path, kind), 100)


def check_message(
    errors: FormErrors,
    payload: dict[str, Any],
    *,
    file_count: int = 0,
    require_body: bool = True,
) -> bool:
    """Validate a create/edit message payload (content, embeds, components, mentions).

    Returns ``True`` when the message would be empty (no content, embeds, components, stickers,
    poll or files); the caller raises ``50006 Cannot send an empty message`` for creates.
    """
    flags = payload.get("flags") or 0
    content = payload.get("content")
    if content is not None:
        if not isinstance(content, str):
            errors.add(("content",), "BASE_TYPE_STRING", "Could not interpret value as string.")
        elif len(content) > MAX_CONTENT:
            errors.max_length(("content",), MAX_CONTENT)
    check_embeds(errors, payload.get("embeds"))
    check_components(errors, payload.get("components"), flags)
    check_allowed_mentions(errors, payload.get("allowed_mentions"))
    if flags & MESSAGE_FLAG_COMPONENTS_V2 and (content or payload.get("embeds")):
        errors.add(
            ("content",) if content else ("embeds",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using "
            "MessageFlags.IS_COMPONENTS_V2",
        )
    stickers = payload.get("sticker_ids") or []
    if len(stickers) > 3:
        errors.max_length(("sticker_ids",), 3)
    if len(payload.get("attachments") or []) > 10 or file_count > 10:
        errors.max_length(("attachments",), 10)
    if not require_body:
        return False
    return not (
        content
        or payload.get("embeds")
        or payload.get("components")
        or stickers
        or payload.get("poll")
        or file_count
        or payload.get("attachments")
    )


def _check_text_input(
    errors: FormErrors,
    path: Path,
    comp: dict[str, Any],
    seen: set[str],
    *,
    label_required: bool,
) -> None:
    _check_custom_id(errors, (*path, "custom_id"), comp.get("custom_id"), seen)
    if comp.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    if label_required:
        _length(errors, (*path, "label"), comp.get("label"), MAX_TEXT_INPUT_LABEL, low=1)
    elif comp.get("label") is not None:
        errors.add(
            (*path, "label"),
            "TEXT_INPUT_LABEL_NOT_ALLOWED",
            "A text input inside a label component cannot have its own label",
        )
    _length(errors, (*path, "placeholder"), comp.get("placeholder"), 100)
    _length(errors, (*path, "value"), comp.get("value"), 4000)
    lo, hi = comp.get("min_length"), comp.get("max_length")
    if lo is not None and (not isinstance(lo, int) or not 0 <= lo <= 4000):
        errors.add(
            (*path, "min_length"), "NUMBER_TYPE_MAX", "int value should be <= 4000 and >= 0."
        )
    if hi is not None and (not isinstance(hi, int) or not 1 <= hi <= 4000):
        errors.add(
            (*path, "max_length"), "NUMBER_TYPE_MAX", "int value should be <= 4000 and >= 1."
        )


def check_modal(errors: FormErrors, data: Any) -> None:
    """Modal (callback type 9): title ≤ 45, custom id ≤ 100, 1–5 components, each an action row
    holding exactly one text input (label ≤ 45), a label component (type 18) or a text display."""
    if not isinstance(data, dict):
        errors.required(("data",))
        return
    _length(errors, ("data", "title"), data.get("title"), MAX_MODAL_TITLE, low=1)
    _length(errors, ("data", "custom_id"), data.get("custom_id"), MAX_CUSTOM_ID, low=1)
    components = data.get("components")
    path: Path = ("data", "components")
    if not isinstance(components, list) or not 1 <= len(components) <= MAX_MODAL_COMPONENTS:
        errors.bad_length(path, 1, MAX_MODAL_COMPONENTS)
        if not isinstance(components, list):
            return
    seen: set[str] = set()
    for i, comp in enumerate(components):
        cp = (*path, i)
        ctype = comp.get("type") if isinstance(comp, dict) else None
        if ctype == 1:
            children = comp.get("components") or []
            if len(children) != 1:
                errors.add(
                    (*cp, "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            _check_row(errors, cp, comp, seen, in_modal=True)
        elif ctype == 18:
            _length(errors, (*cp, "label"), comp.get("label"), MAX_TEXT_INPUT_LABEL, low=1)
            _length(errors, (*cp, "description"), comp.get("description"), 100)
            inner = comp.get("component")
            if not isinstance(inner, dict):
                errors.required((*cp, "component"))
            elif inner.get("type") == 4:
                _check_text_input(errors, (*cp, "component"), inner, seen, label_required=False)
            elif inner.get("type") in _SELECT_TYPES:
                _check_select(errors, (*cp, "component"), inner, seen)
            else:
                errors.add(
                    (*cp, "component", "type"),
                    "UNION_TYPE_CHOICES",
                    'Value of field "type" must be one of (3, 4, 5, 6, 7, 8).',
                )
        elif ctype == 10:
            _length(errors, (*cp, "content"), comp.get("content"), MAX_V2_TEXT, low=1)
        else:
            errors.add(
                (*cp, "type"),
                "UNION_TYPE_CHOICES",
                'Value of field "type" must be one of (1, 10, 18).',
            )


def check_autocomplete(errors: FormErrors, data: Any) -> None:
    """Autocomplete result (callback type 8): at most 25 choices, names 1–100 chars."""
    choices = data.get("choices") if isinstance(data, dict) else None
    path: Path = ("data", "choices")
    if not isinstance(choices, list):
        errors.required(path)
        return
    if len(choices) > MAX_CHOICES:
        errors.max_length(path, MAX_CHOICES)
    for i, choice in enumerate(choices):
        if not isinstance(choice, dict):
            errors.add(
                (*path, i), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
            )
            continue
        _length(errors, (*path, i, "name"), choice.get("name"), 100, low=1)
        value = choice.get("value")
        if isinstance(value, str):
            _length(errors, (*path, i, "value"), value, 100)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            errors.required((*path, i, "value"))


def _check_command_name(errors: FormErrors, path: Path, name: Any, *, lowercase: bool) -> None:
    if not isinstance(name, str) or not _COMMAND_NAME.match(name):
        errors.add(
            path,
            "APPLICATION_COMMAND_INVALID_NAME",
            f"Command name is invalid: {name!r}",
        )
    elif lowercase and name != name.lower():
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name must be lowercase")


def _check_options(errors: FormErrors, path: Path, options: Any, depth: int) -> None:
    if options is None:
        return
    if not isinstance(options, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if len(options) > 25:
        errors.max_length(path, 25)
    names: set[str] = set()
    seen_optional = False
    kinds = {o.get("type") for o in options if isinstance(o, dict)}
    if kinds & {1, 2} and kinds - {1, 2}:
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive "
            "to all other types",
        )
    for i, opt in enumerate(options):
        op = (*path, i)
        if not isinstance(opt, dict):
            errors.add(op, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        otype = opt.get("type")
        if otype not in range(1, 12):
            errors.add((*op, "type"), "BASE_TYPE_CHOICES", "Value must be one of 1..11.")
            continue
        name = opt.get("name")
        _check_command_name(errors, (*op, "name"), name, lowercase=True)
        if name in names:
            errors.add(
                (*op, "name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(str(name))
        _length(errors, (*op, "description"), opt.get("description"), 100, low=1)
        if otype in (1, 2):
            if (otype == 2 and depth > 0) or (otype == 1 and depth > 1):
                errors.add(
                    (*op, "type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-commands can only be nested one group deep",
                )
            sub = opt.get("options") or []
            if otype == 2 and any(s.get("type") != 1 for s in sub if isinstance(s, dict)):
                errors.add(
                    (*op, "options"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "A sub-command group may only contain sub-commands",
                )
            _check_options(errors, (*op, "options"), sub, depth + 1)
            continue
        if opt.get("required"):
            if seen_optional:
                errors.add(
                    (*op, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices:
            if opt.get("autocomplete"):
                errors.add(
                    (*op, "autocomplete"),
                    "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_WITH_CHOICES",
                    "Autocomplete cannot be set on an option that has choices",
                )
            if len(choices) > MAX_CHOICES:
                errors.max_length((*op, "choices"), MAX_CHOICES)
            for k, choice in enumerate(choices):
                _length(errors, (*op, "choices", k, "name"), choice.get("name"), 100, low=1)
        for key in ("min_length", "max_length"):
            value = opt.get(key)
            if value is not None and (not isinstance(value, int) or not 0 <= value <= 6000):
                errors.add((*op, key), "NUMBER_TYPE_MAX", "int value should be <= 6000 and >= 0.")


def check_command(errors: FormErrors, payload: dict[str, Any]) -> None:
    """Application command rules (loosely): names, descriptions, option nesting and order."""
    ctype = payload.get("type", 1)
    if ctype not in (1, 2, 3, 4):
        errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
        return
    name = payload.get("name")
    if ctype == 1:
        _check_command_name(errors, ("name",), name, lowercase=True)
        _length(errors, ("description",), payload.get("description"), 100, low=1)
        _check_options(errors, ("options",), payload.get("options"), 0)
    else:
        _length(errors, ("name",), name, 32, low=1)
        if payload.get("description"):
            errors.add(
                ("description",),
                "APPLICATION_COMMAND_DESCRIPTION_INVALID",
                "Context menu commands cannot have a description",
            )
        if payload.get("options"):
            errors.add(
                ("options",),
                "APPLICATION_COMMAND_OPTIONS_INVALID",
                "Context menu commands cannot have options",
            )
