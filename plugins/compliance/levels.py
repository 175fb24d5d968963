"""The MEE6-compatible level curve and named tiers.

Going from level L to L+1 takes 5L² + 50L + 100 XP, so totals imported from MEE6 map to the
same levels here.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

# (first level of the tier, name); members start as Seedlings.
TIERS: tuple[tuple[int, str], ...] = (
    (0, "Seedling"),
    (5, "Sprout"),
    (10, "Vegetative"),
    (20, "Flowering"),
    (35, "Harvest"),
    (50, "Connoisseur"),
)
# Past any level a member could reach; bounds the loop in level_for.
MAX_LEVEL = 1000


def xp_for_next(level: int) -> int:
    """XP needed to go from `level` to `level + 1`."""
    return 5 * level * level + 50 * level + 100


def total_xp_for(level: int) -> int:
    """Total XP at which `level` is reached."""
    return sum(xp_for_next(n) for n in range(level))


# _TOTALS[n]: total XP at which level n is reached, n = 0..MAX_LEVEL.
_TOTALS = tuple(accumulate((xp_for_next(n) for n in range(MAX_LEVEL)), initial=0))


@dataclass(frozen=True)
class Progress:
    level: int
    into_level: int  # XP earned since reaching `level`
    needed: int  # XP the whole current level takes

    @property
    def fraction(self) -> float:
        return self.into_level / self.needed if self.needed else 0.0


def progress_for(total_xp: int) -> Progress:
    level, remaining = 0, max(0, int(total_xp))
    while level < MAX_LEVEL and remaining >= xp_for_next(level):
        remaining -= xp_for_next(level)
        level += 1
    return Progress(level, remaining, xp_for_next(level))


def level_for(total_xp: int) -> int:
    # A binary search over the precomputed totals: progress_for's loop costs ~30 µs at level
    # 50, which adds up to seconds over a 100,000-player import.
    return bisect_right(_TOTALS, max(0, int(total_xp))) - 1


def tier_for(level: int) -> str:
    name = TIERS[0][1]
    for first_level, tier in TIERS:
        if level >= first_level:
            name = tier
    return name


def reward_roles(
    role_rewards: dict[str, int], level: int, *, stack: bool
) -> tuple[set[int], set[int]]:
    """(reward roles the member should have at `level`, reached rewards to take away)."""
    reached = sorted(
        (int(lvl), int(role)) for lvl, role in role_rewards.items() if int(lvl) <= level
    )
    if not reached:
        return set(), set()
    every_reached = {role for _, role in reached}
    keep = every_reached if stack else {reached[-1][1]}
    return keep, every_reached - keep


def reward_changes(
    role_rewards: dict[str, int], level: int, *, stack: bool
) -> tuple[set[int], set[int]]:
    """(reward roles to give, reward roles to take) after an admin changed a member's XP:
    like `reward_roles`, plus the rewards of levels no longer reached."""
    keep, drop = reward_roles(role_rewards, level, stack=stack)
    unreached = {int(role) for lvl, role in role_rewards.items() if int(lvl) > level}
    return keep, (drop | unreached) - keep
