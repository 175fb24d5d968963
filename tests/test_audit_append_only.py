"""The audit log is append-only in the database: raw SQL can add entries, never change them or
remove them, except the bot's retention purge of entries past the retention period.

Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL=postgres://...
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise import Tortoise

from bot.audit import REDACTED, AuditWriter, delete_member_texts, purge_expired, shown_text
from bot.audit import texts_for as audit_texts
from bot.models import AuditLog, AuditText

pytestmark = pytest.mark.usefixtures("db")


def _conn():
    return Tortoise.get_connection("default")


def _pg() -> bool:
    return _conn().capabilities.dialect == "postgres"


def _sql(sql: str) -> str:
    """`?` placeholders for SQLite, `$n` for PostgreSQL."""
    if not _pg():
        return sql
    parts = sql.split("?")
    return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1))


async def _raw(sql: str, values: list | None = None):
    return await _conn().execute_query(_sql(sql), values or [])


async def _entry_aged(days: int, action: str = "test.old") -> int:
    """An entry written `days` ago (INSERT is allowed; only the past is protected)."""
    when = datetime.now(UTC) - timedelta(days=days)
    value = when if _pg() else when.isoformat(sep=" ")
    await _raw('INSERT INTO "core_audit_log" ("action", "details", "created_at") '
               "VALUES (?, '{}', ?)", [action, value])
    return (await AuditLog.filter(action=action).order_by("-id").first()).id


async def _refused(sql: str, values: list | None = None) -> str:
    with pytest.raises(Exception) as caught:
        await _raw(sql, values)
    return str(caught.value)


async def test_raw_update_and_delete_of_an_entry_are_refused():
    writer = AuditWriter()
    await writer.record("verification.denied", guild_id=1, actor_id=2, target=2)
    entry = await AuditLog.get(action="verification.denied")

    assert "append-only" in await _refused(
        'UPDATE "core_audit_log" SET "action" = ? WHERE "id" = ?', ["verification.verified",
                                                                   entry.id])
    assert "append-only" in await _refused('DELETE FROM "core_audit_log" WHERE "id" = ?',
                                           [entry.id])
    assert "append-only" in await _refused('DELETE FROM "core_audit_log"')
    # The ORM's bulk paths go around the model's own save/delete guards; the database doesn't.
    with pytest.raises(Exception, match="append-only"):
        await AuditLog.filter(id=entry.id).update(action="verification.verified")
    with pytest.raises(Exception, match="append-only"):
        await AuditLog.filter(id=entry.id).delete()

    again = await AuditLog.get(id=entry.id)
    assert (again.action, again.target) == ("verification.denied", "2")


async def test_an_entry_past_retention_still_cannot_be_updated():
    old = await _entry_aged(400)
    assert "append-only" in await _refused(
        'UPDATE "core_audit_log" SET "target" = ? WHERE "id" = ?', ["someone else", old])


async def test_truncate_is_refused_on_postgres():
    if not _pg():
        pytest.skip("SQLite has no TRUNCATE")
    await AuditWriter().record("plugin.enabled", guild_id=1, actor_id=2)
    assert "append-only" in await _refused('TRUNCATE "core_audit_log" CASCADE')
    assert await AuditLog.filter(action="plugin.enabled").exists()


async def test_retention_purge_removes_only_entries_past_the_period():
    ancient = await _entry_aged(400, "test.ancient")
    await AuditText.create(entry_id=ancient, author_id=7, text="typed long ago")
    recent = await _entry_aged(100, "test.recent")
    await AuditWriter().record("test.today", guild_id=1, actor_id=2)

    # A raw DELETE of a 100-day-old entry is refused while the period is 365 days...
    assert "append-only" in await _refused('DELETE FROM "core_audit_log" WHERE "id" = ?',
                                           [recent])
    assert await purge_expired(365, batch=1) == 1  # batches of 1: the loop goes on to the end
    assert not await AuditLog.filter(id=ancient).exists()
    assert not await AuditText.filter(entry_id=ancient).exists(), "text goes with its entry"
    assert await AuditLog.filter(id=recent).exists()
    assert await AuditLog.filter(action="test.today").exists()
    # ...and the period can never go below 30 days, even by mistake.
    assert await purge_expired(1) == 1
    assert await AuditLog.filter(action="test.today").exists()
    assert "CHECK" in (await _refused(
        'UPDATE "core_audit_policy" SET "retention_days" = 0 WHERE "id" = 1')).upper()
    await purge_expired(365)


async def test_without_a_retention_policy_nothing_may_be_deleted():
    ancient = await _entry_aged(4000)
    await _raw('DELETE FROM "core_audit_policy"')
    try:
        assert "append-only" in await _refused('DELETE FROM "core_audit_log" WHERE "id" = ?',
                                               [ancient])
    finally:
        await _raw('INSERT INTO "core_audit_policy" ("id", "retention_days") VALUES (1, 365)')
    assert await AuditLog.filter(id=ancient).exists()


async def test_free_text_lives_apart_and_is_redacted_when_its_author_deletes_their_data():
    writer = AuditWriter()
    await writer.record("verification.reset", guild_id=1, actor_id=10, target=20,
                        details={"previous": "denied"}, text="typo in the year, per DM")
    await writer.record("verification.reset", guild_id=1, actor_id=11, target=21,
                        text="another moderator's note")
    await writer.record("system.note", guild_id=1, text="nobody could ask to delete this")
    mine, theirs = await AuditLog.filter(action="verification.reset").order_by("id")
    assert mine.details == {"previous": "denied", "has_text": True}
    assert "typo" not in str(mine.details)
    texts = await audit_texts([mine.id, theirs.id])
    assert shown_text(mine, texts) == "typo in the year, per DM"
    assert not await AuditText.filter(text__contains="nobody").exists()

    assert await delete_member_texts(10) == 1
    texts = await audit_texts([mine.id, theirs.id])
    assert shown_text(mine, texts) == REDACTED
    assert shown_text(theirs, texts) == "another moderator's note"
    # The subject of a note may also have it removed: entry 2's target is member 21.
    assert await delete_member_texts(21) == 1
    assert shown_text(theirs, await audit_texts([theirs.id])) == REDACTED
    # The entries themselves are untouched.
    assert await AuditLog.filter(action="verification.reset").count() == 2
