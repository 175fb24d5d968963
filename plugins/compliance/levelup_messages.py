"""Level-up message templates: checked when saved, rendered when a member levels up.

Placeholders: {member} (the member's mention), {level}, {tier} and {next_level_xp} (the
total XP at which the next level is reached). Anything else in braces is refused, as are
@everyone, @here, role mentions and hand-written user mentions: the member is mentioned only
through {member}, and the message is sent allowing that one mention (users=[member]).
A template must fit MAX_RENDERED characters when every placeholder takes its longest value.
"""

from __future__ import annotations

import re
import string

from bot.api import UserError
from plugins.compliance.levels import MAX_LEVEL, TIERS, total_xp_for

PLACEHOLDERS = ("member", "level", "tier", "next_level_xp")
DEFAULT_TEMPLATE = "🎉 {member} reached **level {level}** ({tier})!"
MAX_RENDERED = 500
# Longest values: a 20-digit snowflake mention, the last level, the longest tier name.
_WORST = {
    "member": "<@" + "9" * 20 + ">",
    "level": str(MAX_LEVEL),
    "tier": max((name for _, name in TIERS), key=len),
    "next_level_xp": f"{total_xp_for(MAX_LEVEL + 1):,}",
}
# Mentions Discord would resolve in content: users <@id>/<@!id>, roles <@&id>, and the two
# mass mentions (also with a zero-width or fullwidth trick in between they do not ping, so
# only the plain forms need refusing).
_MENTIONS = re.compile(r"@everyone|@here|<@[!&]?\d+>", re.IGNORECASE)


def check_template(template: str) -> str:
    """The template to store (stripped), or UserError saying what is wrong."""
    text = template.strip()
    if not text:
        raise UserError("The level-up message is empty.")
    if len(text) > MAX_RENDERED:
        raise UserError(f"The level-up message is {len(text):,} characters; at most "
                        f"{MAX_RENDERED} are allowed.")
    found = _MENTIONS.search(text)
    if found:
        raise UserError(f"The level-up message may not contain `{found.group(0)}`: it would "
                        "ping people. Use {member} to mention the member who levelled up.")
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(text)
                  if name is not None]
    except ValueError:
        raise UserError("The level-up message has an unmatched `{` or `}` (write `{{` or "
                        "`}}` for a literal brace).") from None
    for name, spec, conv in fields:
        if name not in PLACEHOLDERS or spec or conv:
            shown = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise UserError(f"Unknown placeholder `{shown[:40]}`. Use only "
                            + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + ".")
    worst = len(text.format(**_WORST))
    if worst > MAX_RENDERED:
        raise UserError(f"With the longest names and numbers the message would be {worst} "
                        f"characters; at most {MAX_RENDERED} are allowed.")
    return text


def render(template: str | None, user_id: int, level: int, tier: str) -> str:
    """The message for one level-up; a stored template that no longer passes falls back to
    the default text rather than failing the announcement."""
    values = {"member": f"<@{user_id}>", "level": str(level), "tier": tier,
              "next_level_xp": f"{total_xp_for(level + 1):,}"}
    try:
        return check_template(template).format(**values) if template else \
            DEFAULT_TEMPLATE.format(**values)
    except UserError:
        return DEFAULT_TEMPLATE.format(**values)


DESTINATIONS = {"Off": "off", "Where the member chatted": "same", "A fixed channel": "channel",
                "Direct message": "dm"}


def levelup_changes(destination: str | None, channel_id: int | None,
                    template: str | None) -> dict[str, object]:
    """Settings changes for /levels levelup; UserError for a bad combination or template."""
    changes: dict[str, object] = {}
    if destination is None and channel_id is not None:
        destination = "channel"
    if destination == "off":
        changes["levelup_announce"] = False
    elif destination == "same":
        changes.update(levelup_announce=True, levelup_channel_id=None, levelup_dm=False)
    elif destination == "channel":
        if channel_id is None:
            raise UserError("Pick the channel for level-up messages (the channel option).")
        changes.update(levelup_announce=True, levelup_channel_id=channel_id, levelup_dm=False)
    elif destination == "dm":
        changes.update(levelup_announce=True, levelup_dm=True)
    elif destination is not None:
        raise UserError("Unknown destination.")
    if template is not None:
        changes["levelup_template"] = (None if template.strip().lower() == "default"
                                       else check_template(template))
    return changes


def describe(announce: bool, channel_id: int | None, dm: bool, template: str | None) -> str:
    if not announce:
        where = "off"
    elif dm:
        where = "by DM"
    else:
        where = f"in <#{channel_id}>" if channel_id else "where the member chatted"
    shown = (template or DEFAULT_TEMPLATE).replace("`", "'")
    return f"level-up messages: {where} · message: `{shown[:200]}`"
