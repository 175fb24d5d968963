"""Admin XP tools: add, remove, set or reset a member's XP, or reset a whole server.

Every change goes through the XP engine's flush lock: buffered XP is written first, and no
batch can land between reading a total and writing the new one. Totals stay within
0..MAX_TOTAL_XP (1,000,000,000, below the level curve's last level): an addition that would
pass it is refused, a removal below zero stops at zero; both say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.api import UserError
from plugins.compliance.levels import level_for, tier_for
from plugins.compliance.models import MemberRecord
from plugins.compliance.xp import XpEngine

MAX_TOTAL_XP = 1_000_000_000
OPERATIONS = ("add", "remove", "set", "reset")


@dataclass(frozen=True)
class XpChange:
    before: int
    after: int
    old_level: int
    new_level: int
    note: str = ""


def new_total(op: str, before: int, amount: int) -> tuple[int, str]:
    """The total after `op`, and a note when it was bounded; raises UserError if refused."""
    if op not in OPERATIONS:
        raise ValueError(op)
    if not 0 <= amount <= MAX_TOTAL_XP:
        raise UserError(f"The amount must be between 0 and {MAX_TOTAL_XP:,} XP.")
    if op == "add":
        if before + amount > MAX_TOTAL_XP:
            raise UserError(f"They have {before:,} XP: adding {amount:,} would pass the "
                            f"maximum of {MAX_TOTAL_XP:,} XP. Nothing was changed.")
        return before + amount, ""
    if op == "remove":
        if amount > before:
            return 0, f"They had only {before:,} XP, so they now have 0."
        return before - amount, ""
    return (amount if op == "set" else 0), ""


class XpAdmin:
    def __init__(self, engine: XpEngine) -> None:
        self.engine = engine

    async def change(self, guild_id: int, user_id: int, op: str, amount: int) -> XpChange:
        await self.engine.flush()
        async with self.engine.flush_lock:
            row = await MemberRecord.get_or_none(guild_id=guild_id, user_id=user_id)
            before = int(row.xp) if row else 0
            old_level = int(row.level) if row else 0
            after, note = new_total(op, before, amount)
            if op in ("set", "reset"):
                # "Set to N" means N: XP buffered in the last seconds does not land on top.
                self.engine.drop_pending(guild_id, user_id)
            level = level_for(after)
            if row is not None:
                await MemberRecord.filter(id=row.id).update(xp=after, level=level,
                                                            tier=tier_for(level))
            elif after:
                await MemberRecord.create(guild_id=guild_id, user_id=user_id, xp=after,
                                          level=level, tier=tier_for(level))
        return XpChange(before, after, old_level, level, note)

    async def reset_guild(self, guild_id: int) -> tuple[int, list[int]]:
        """Everyone's XP to 0: (members reset, members who had a level and lose rewards)."""
        await self.engine.flush()
        async with self.engine.flush_lock:
            self.engine.drop_pending(guild_id)
            levelled = await MemberRecord.filter(guild_id=guild_id, level__gt=0).values_list(
                "user_id", flat=True)
            count = await MemberRecord.filter(guild_id=guild_id, xp__gt=0).update(
                xp=0, level=0, tier=tier_for(0))
        return int(count), [int(u) for u in levelled]  # type: ignore[call-overload]
