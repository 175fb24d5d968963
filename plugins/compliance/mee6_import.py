"""Import XP from a MEE6 leaderboard file, and export this server's leaderboard as CSV.

The file has the shape of MEE6's public leaderboard API
(`mee6.xyz/api/plugins/levels/leaderboard/<guild>`): `{"players": [{"id": "123",
"username": ..., "xp": 1234, "level": 5, "message_count": ..., "detailed_xp": [...]}, ...]}`.
Only `id` and `xp` are used: the level is recomputed from XP (our curve is MEE6's).

**An import keeps the higher XP**: a member ends with max(XP here, XP in the file). So
applying a file twice changes nothing the second time, files of several pages may be applied
in any order, and XP earned here since the move is never lost. Rows are written with one
multi-row upsert per ROWS_PER_STATEMENT players, never one statement per player.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from bot.api import UserError
from plugins.compliance.levels import level_for, tier_for
from plugins.compliance.models import MemberRecord
from plugins.compliance.xp import XpEngine
from plugins.compliance.xp_admin import MAX_TOTAL_XP

# Checked against the attachment's declared size before downloading it; Discord lets bots
# post 10 MB, so an export of ours always fits. Larger MEE6 leaderboards: one file per page.
MAX_IMPORT_BYTES = 8 * 1024 * 1024
ROWS_PER_STATEMENT = 1000  # 5 parameters each: far below either database's bind limit
ANALYZE_AFTER = 10_000  # players; see apply()
MAX_SNOWFLAKE = 2**63 - 1
MAX_EXPORT_BYTES = 8 * 1024 * 1024
SHAPE_HINT = ('expected MEE6\'s leaderboard format: {"players": [{"id": "123...", '
              '"xp": 1234, ...}, ...]}')


@dataclass
class ImportPlan:
    players: dict[int, int] = field(default_factory=dict)  # user id -> XP from the file
    found: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> players
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def summary(self) -> str:
        lines = [f"Players in the file: **{self.found:,}**",
                 f"New members: **{self.new:,}** · XP raised: **{self.updated:,}** · already "
                 f"at or above the file's XP (kept): **{self.unchanged:,}**"]
        skipped = sum(self.skipped.values())
        lines.append(f"Skipped: **{skipped:,}**" + ("" if not skipped else " (" + "; ".join(
            f"{n:,} {reason}" for reason, n in self.skipped.most_common()) + ")"))
        return "\n".join(lines)


def check_size(size: int) -> None:
    if size > MAX_IMPORT_BYTES:
        raise UserError(f"The file is {size / 1_048_576:.1f} MB; at most "
                        f"{MAX_IMPORT_BYTES // 1_048_576} MB can be imported. Split a large "
                        "leaderboard into several files (one per MEE6 page): importing keeps "
                        "the higher XP, so the order does not matter.")


def parse(data: bytes) -> ImportPlan:
    """Players from the file; wrong shapes raise UserError, bad entries are skipped."""
    check_size(len(data))
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise UserError(f"That file is not valid JSON: {SHAPE_HINT}.") from None
    players = document.get("players") if isinstance(document, dict) else None
    if not isinstance(players, list):
        raise UserError(f"That file is not a MEE6 leaderboard: {SHAPE_HINT}.")
    plan = ImportPlan(found=len(players))
    for player in players:
        reason = _problem(player)
        if reason is not None:
            plan.skipped[reason] += 1
            continue
        user_id, xp = int(player["id"]), int(player["xp"])
        if user_id in plan.players:
            plan.skipped["duplicate id (the first entry was kept)"] += 1
            continue
        plan.players[user_id] = xp
    if not plan.found:
        raise UserError("That leaderboard lists no players: nothing to import.")
    if not plan.players:
        raise UserError("No player in that file could be imported: " + "; ".join(
            f"{n:,} {reason}" for reason, n in plan.skipped.most_common()) + ".")
    return plan


def _problem(player: Any) -> str | None:
    if not isinstance(player, dict):
        return "not a player object"
    raw_id, xp = player.get("id"), player.get("xp")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool) or \
            not str(raw_id).isdigit() or len(str(raw_id)) > 20 or \
            not 0 < int(raw_id) <= MAX_SNOWFLAKE:
        return "missing or invalid id"
    if not isinstance(xp, int) or isinstance(xp, bool):
        return "missing or non-integer xp"
    if xp < 0:
        return "negative xp"
    if xp > MAX_TOTAL_XP:
        return f"xp above {MAX_TOTAL_XP:,}"
    return None


async def dry_run(guild_id: int, plan: ImportPlan) -> ImportPlan:
    """Count new / raised / unchanged members: one read of the guild's members when the file
    covers a good part of them, else one read per ROWS_PER_STATEMENT players."""
    ids = list(plan.players)
    members = await MemberRecord.filter(guild_id=guild_id).count()
    have: dict[int, int] = {}
    if members <= 2 * len(ids):
        have = {int(user): int(xp) for user, xp in await MemberRecord.filter(
            guild_id=guild_id).values_list("user_id", "xp")}
    else:
        for start in range(0, len(ids), ROWS_PER_STATEMENT):
            chunk = ids[start:start + ROWS_PER_STATEMENT]
            have.update({int(user): int(xp) for user, xp in await MemberRecord.filter(
                guild_id=guild_id, user_id__in=chunk).values_list("user_id", "xp")})
    plan.new = plan.updated = plan.unchanged = 0
    for user_id, xp in plan.players.items():
        current = have.get(user_id)
        if current is None:
            plan.new += 1
        elif current < xp:
            plan.updated += 1
        else:
            plan.unchanged += 1
    return plan


def _upsert_sql(rows: int, dialect: str) -> str:
    if dialect == "postgres":
        marks = ", ".join(f"(${i * 5 + 1}, ${i * 5 + 2}, 'unverified', FALSE, 0, "
                          f"${i * 5 + 3}, ${i * 5 + 4}, 0, ${i * 5 + 5})" for i in range(rows))
    else:
        marks = ", ".join("(?, ?, 'unverified', FALSE, 0, ?, ?, 0, ?)" for _ in range(rows))
    # Keeps the higher XP: the row changes only where the file's XP is higher.
    return (
        'INSERT INTO "compliance_member" ("guild_id", "user_id", "status", "is_21_plus", '
        '"failed_attempts", "xp", "level", "message_count", "tier") '
        f"VALUES {marks} "
        'ON CONFLICT ("guild_id", "user_id") DO UPDATE SET "xp" = EXCLUDED."xp", '
        '"level" = EXCLUDED."level", "tier" = EXCLUDED."tier" '
        'WHERE "compliance_member"."xp" < EXCLUDED."xp"'
    )


async def apply(guild_id: int, plan: ImportPlan, engine: XpEngine) -> int:
    """Write the plan in one transaction; returns the statements used."""
    items = sorted(plan.players.items())
    dialect = Tortoise.get_connection("default").capabilities.dialect
    statements = 0
    await engine.flush()
    # Under the flush lock: no batch of chat XP lands between our reads and writes.
    async with engine.flush_lock, in_transaction("default") as conn:
        for start in range(0, len(items), ROWS_PER_STATEMENT):
            chunk = items[start:start + ROWS_PER_STATEMENT]
            values: list[Any] = []
            for user_id, xp in chunk:
                level = level_for(xp)
                values += [guild_id, user_id, xp, level, tier_for(level)]
            await conn.execute_query(_upsert_sql(len(chunk), dialect), values)
            statements += 1
    if dialect == "postgres" and len(items) >= ANALYZE_AFTER:
        # Until autovacuum catches up, PostgreSQL's statistics predate the import: it would
        # plan "this guild's members" as a few rows and scan them all (60 ms instead of 1 ms
        # per 1,000-member lookup, measured on 100,000). A sampled ANALYZE takes ~0.1 s.
        await Tortoise.get_connection("default").execute_query('ANALYZE "compliance_member"')
        statements += 1
    return statements


def _cell(value: object) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def leaderboard_csv(guild_id: int, *, batch: int = 5000) -> tuple[bytes, int, bool]:
    """rank,user_id,xp,level,tier,message_count, highest XP first: (bytes, rows, truncated)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "user_id", "xp", "level", "tier", "message_count"])
    rows, truncated = 0, False
    while True:
        chunk: Sequence[tuple[Any, ...]] = await (
            MemberRecord.filter(guild_id=guild_id, xp__gt=0).order_by("-xp", "-user_id")
            .offset(rows).limit(batch)
            .values_list("user_id", "xp", "level", "tier", "message_count"))
        for user_id, xp, level, tier, messages in chunk:
            rows += 1
            writer.writerow([rows, user_id, xp, level, _cell(tier), messages])
        if len(chunk) < batch:
            break
        if out.tell() > MAX_EXPORT_BYTES:
            truncated = True
            break
    return out.getvalue().encode(), rows, truncated
