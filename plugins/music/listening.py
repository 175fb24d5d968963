"""XP for listening, through the core's XP service: a little per minute, capped per day."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

XP_PER_MINUTE = 1
# A member earns at most this much music XP a day, however long they listen.
DAILY_CAP = 60
MINUTE_MS = 60_000


class ListeningXp:
    def __init__(self, xp: Any) -> None:
        self.xp = xp
        self._pending_ms: defaultdict[tuple[int, int], int] = defaultdict(int)
        self._today: defaultdict[tuple[int, int, str], int] = defaultdict(int)

    async def listened(self, guild_id: int, members: set[int], ms: int) -> None:
        # A player update after a seek or a gap can jump far; count at most one interval.
        ms = min(ms, 2 * MINUTE_MS)
        day = datetime.now(UTC).date().isoformat()
        for user_id in members:
            key = (guild_id, user_id)
            self._pending_ms[key] += ms
            minutes, self._pending_ms[key] = divmod(self._pending_ms[key], MINUTE_MS)
            earned = self._today[(guild_id, user_id, day)]
            amount = min(minutes * XP_PER_MINUTE, DAILY_CAP - earned)
            if amount > 0:
                self._today[(guild_id, user_id, day)] += amount
                await self.xp.award(guild_id, user_id, amount, "music.listening")
