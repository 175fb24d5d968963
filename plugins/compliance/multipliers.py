"""XP multipliers per role and per channel, and a timed server-wide boost.

The rule (also in the README), for one message:

1. a role of the member with factor ×0 → no XP (like an excluded role);
2. role factor = the **highest** factor among the member's roles that have one, else ×1
   (so a booster role is not cancelled by a lower one);
3. channel factor = the channel's own factor, else its parent's (a thread counts by its
   channel), else ×1; ×0 → no XP;
4. boost = the server-wide boost while it runs (until its end date), else ×1;
5. XP = round(base × role × channel × boost), the product capped at ×10.

Each factor is between 0 and 5 (boost 1–5). The factors live on the guild's settings row,
which the core's guild_config cache already holds, so the message path does no query; the
parsed form below is rebuilt only when that cached row is replaced (an admin's change).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.api import UserError

MAX_FACTOR = 5.0
MAX_COMBINED = 10.0
MAX_BOOST_DAYS = 90


@dataclass(frozen=True)
class Multipliers:
    roles: dict[int, float] = field(default_factory=dict)
    channels: dict[int, float] = field(default_factory=dict)
    boost: float = 1.0
    boost_until: datetime | None = None

    @classmethod
    def of(cls, settings: Any) -> Multipliers:
        return cls(
            roles={int(k): float(v) for k, v in (settings.xp_role_multipliers or {}).items()},
            channels={int(k): float(v)
                      for k, v in (settings.xp_channel_multipliers or {}).items()},
            boost=float(settings.xp_boost or 1.0),
            boost_until=settings.xp_boost_until,
        )

    @property
    def trivial(self) -> bool:
        return not self.roles and not self.channels and self.boost_until is None

    def active_boost(self, now: datetime) -> float:
        if self.boost_until is None or now >= self.boost_until:
            return 1.0
        return self.boost

    def factor(self, role_ids: Iterable[int], channel_id: int, parent_channel_id: int | None,
               now: datetime) -> float:
        """The combined factor for one message (0: no XP)."""
        role = 0.0
        roles = self.roles
        if roles:
            for role_id in role_ids:
                found = roles.get(role_id)
                if found is None:
                    continue
                if found == 0:
                    return 0.0
                if found > role:
                    role = found
        role = role or 1.0
        channel = self.channels.get(channel_id)
        if channel is None and parent_channel_id is not None:
            channel = self.channels.get(parent_channel_id)
        if channel is None:
            channel = 1.0
        return min(MAX_COMBINED, role * channel * self.active_boost(now))

    def describe(self, now: datetime) -> str:
        roles = ", ".join(f"<@&{k}> ×{_num(v)}" for k, v in sorted(self.roles.items()))
        channels = ", ".join(f"<#{k}> ×{_num(v)}" for k, v in sorted(self.channels.items()))
        boost = (f"×{_num(self.boost)} until <t:{int(self.boost_until.timestamp())}:f>"
                 if self.boost_until is not None and self.active_boost(now) != 1.0 else "none")
        return (f"role multipliers: {roles or 'none'} · channel multipliers: "
                f"{channels or 'none'} · boost: {boost} (rule: highest role × channel × boost, "
                f"capped at ×{_num(MAX_COMBINED)}; ×0 excludes)")


def _num(value: float) -> str:
    return f"{value:g}"


def checked_factor(value: float, *, low: float = 0.0, high: float = MAX_FACTOR) -> float:
    if not low <= value <= high or value != value:  # value != value: NaN
        raise UserError(f"A multiplier must be between {_num(low)} and {_num(high)}.")
    return round(value, 2)


def with_factor(current: dict[str, Any] | None, key: int, value: float) -> dict[str, float]:
    """The stored mapping after setting `key` to `value` (×1 removes the entry)."""
    table = {str(k): float(v) for k, v in (current or {}).items()}
    if value == 1.0:
        table.pop(str(key), None)
    else:
        table[str(key)] = value
    return table


def boost_end(until: str | None, now: datetime) -> datetime:
    """The end of a boost from 'YYYY-MM-DD' (midnight UTC) or 'YYYY-MM-DD HH:MM' (UTC)."""
    if not until:
        raise UserError("Say until when the boost runs (`until`: YYYY-MM-DD, UTC).")
    text = until.strip()
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            end = datetime.strptime(text, pattern).replace(tzinfo=UTC)
            break
        except ValueError:
            continue
    else:
        raise UserError("`until` must be YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC).")
    if end <= now:
        raise UserError("`until` is in the past: a boost must end in the future.")
    if end - now > timedelta(days=MAX_BOOST_DAYS):
        raise UserError(f"A boost may run at most {MAX_BOOST_DAYS} days.")
    return end
