"""Listening XP: a point a minute per listener, at most 60 a day."""

from __future__ import annotations

from plugins.music.listening import DAILY_CAP, MINUTE_MS, ListeningXp


class Recorder:
    def __init__(self) -> None:
        self.awards: list[tuple[int, int, int, str]] = []

    async def award(self, guild_id: int, user_id: int, amount: int, reason: str) -> int:
        self.awards.append((guild_id, user_id, amount, reason))
        return amount


async def test_minutes_accumulate_per_listener_and_stop_at_the_daily_cap():
    xp = Recorder()
    listening = ListeningXp(xp)
    await listening.listened(1, {10, 11}, MINUTE_MS // 2)
    assert xp.awards == []
    await listening.listened(1, {10, 11}, MINUTE_MS // 2)
    assert sorted(xp.awards) == [(1, 10, 1, "music.listening"), (1, 11, 1, "music.listening")]
    for _ in range(200):  # hours of listening, in 2-minute updates
        await listening.listened(1, {10}, 2 * MINUTE_MS)
    assert sum(a[2] for a in xp.awards if a[1] == 10) == DAILY_CAP
    # A huge jump (a seek, a long gap) counts as at most two minutes.
    await listening.listened(2, {12}, 3_600_000)
    assert [a for a in xp.awards if a[0] == 2] == [(2, 12, 2, "music.listening")]
