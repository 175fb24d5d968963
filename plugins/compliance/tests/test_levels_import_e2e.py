"""MEE6 import (dry run, confirm, idempotent, hostile files) and the CSV export, through the
fake Discord."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bot.api import UserError
from bot.models import AuditLog
from plugins.compliance.mee6_import import ImportPlan, apply, parse
from plugins.compliance.models import MemberRecord
from plugins.compliance.tests.helpers import (
    button_ids,
    content,
    import_and_confirm,
    registry,
)


def _player(user_id, xp, **extra):
    # What MEE6's leaderboard API returns per player (only id and xp are used).
    return {"id": str(user_id), "username": f"u{user_id}", "discriminator": "0",
            "avatar": None, "guild_id": "1", "xp": xp, "level": 3,
            "message_count": 12, "detailed_xp": [10, 155, xp], **extra}


def _file(players, **top):
    body = {"admin": False, "guild": {"id": "1", "name": "Old server"}, "page": 0,
            "players": players, "role_rewards": [], **top}
    return ("mee6.json", json.dumps(body).encode())


async def _rows(world):
    return dict(await MemberRecord.filter(guild_id=world.guild.id).order_by("user_id")
                .values_list("user_id", "xp"))


async def _import_and_confirm(fake, world, upload):
    prompt, yes = await import_and_confirm(fake, world.admin, upload)
    return fake.text_of(prompt), fake.text_of((await yes.wait_followups(1))[0])


async def test_dry_run_then_confirm_keeps_the_higher_xp_and_is_idempotent(start_bot, world,
                                                                         fake_discord):
    running = await start_bot(registry=registry())
    plugin = running.bot.plugins.plugins["compliance"]
    await plugin.xp.add(world.guild.id, world.member.id, 5000)  # more here than in the file
    await plugin.xp.add(world.guild.id, world.other.id, 10)  # less here than in the file
    await plugin.xp.flush()
    newcomer = 123456789012345678
    upload = _file([_player(world.member.id, 400), _player(world.other.id, 800),
                    _player(newcomer, 2000), _player(newcomer, 9), _player(987, -5),
                    _player(988, 10**12), _player("12ab", 5), _player(989, 1.5),
                    "not a player"])

    ask = await fake_discord.slash(world.admin, "levels import", {"file": upload})
    prompt = await ask.wait_original()
    dry = fake_discord.text_of(prompt)
    assert ask.ephemeral and "dry run, nothing changed yet" in dry
    assert "Players in the file: **9**" in dry
    assert "New members: **1** · XP raised: **1** · already at or above" in dry
    assert "(kept): **1**" in dry and "Skipped: **6**" in dry
    for reason in ("duplicate id (the first entry was kept)", "negative xp",
                   "xp above 1,000,000,000", "missing or invalid id",
                   "missing or non-integer xp", "not a player object"):
        assert reason in dry
    assert await _rows(world) == {world.member.id: 5000, world.other.id: 10}, "dry run only"

    yes = await fake_discord.click(world.admin, prompt, next(c for c in button_ids(prompt)
                                                             if "cf.yes" in c))
    await yes.response()
    done = fake_discord.text_of((await yes.wait_followups(1))[0])
    assert "MEE6 import applied." in done
    after = await _rows(world)
    assert after == {world.member.id: 5000, world.other.id: 800, newcomer: 2000}
    row = await MemberRecord.get(guild_id=world.guild.id, user_id=newcomer)
    assert (row.level, row.tier) == (6, "Sprout"), "level from our (MEE6's) curve"
    entry = await AuditLog.get(action="levels.imported")
    assert entry.details["new"] == 1 and entry.details["raised"] == 1
    assert entry.details["statements"] == 1

    # The same file again: nothing new, nothing raised, the same rows.
    dry, done = await _import_and_confirm(fake_discord, world, upload)
    assert "New members: **0** · XP raised: **0**" in dry
    assert await _rows(world) == after
    assert await MemberRecord.filter(guild_id=world.guild.id).count() == 3


async def test_wrong_shapes_and_hostile_files_are_refused(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    cases = [
        (("a.json", b'{"leaderboard": []}'), "not a MEE6 leaderboard"),
        (("a.json", b'[{"id": "1", "xp": 5}]'), "not a MEE6 leaderboard"),
        (("a.json", b'{"players": {"id": "1"}}'), "not a MEE6 leaderboard"),
        (("a.png", b"\x89PNG\r\n\x1a\n not json"), "not valid JSON"),
        (("deep.json", b"[" * 100_000 + b"]" * 100_000), "not valid JSON"),
        (("big.json", b'{"players": [{"id": "1", "xp": ' + b"9" * 5000 + b"}]}"),
         "not valid JSON"),
        (_file([_player(5, -1), _player(6, 10**15)]), "No player in that file could be"),
    ]
    for upload, why in cases:
        ix = await fake_discord.slash(world.admin, "levels import", {"file": upload})
        said = fake_discord.text_of(await ix.wait_original())
        assert why in said, (upload[0], said)
    assert not await MemberRecord.filter(guild_id=world.guild.id).exists()


async def test_a_10_mb_file_is_refused_before_downloading_it(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    huge = ("mee6.json", b'{"players": [' + b" " * (10 * 1024 * 1024) + b"]}")
    ix = await fake_discord.slash(world.admin, "levels import", {"file": huge})
    said = fake_discord.text_of(await ix.wait_original())
    assert "The file is 10.0 MB; at most 8 MB can be imported." in said
    assert fake_discord.attachment_downloads == [], "refused on the declared size"


async def test_members_cannot_import(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    ix = await fake_discord.slash(world.member, "levels import",
                                  {"file": _file([_player(world.member.id, 10**6)])})
    assert "Manage Server" in content(await ix.response())
    assert fake_discord.attachment_downloads == []


async def test_leaderboard_export_is_a_csv_highest_first(start_bot, world, fake_discord):
    running = await start_bot(registry=registry())
    plugin = running.bot.plugins.plugins["compliance"]
    for n, xp in ((1, 50), (2, 5000), (3, 300)):
        await plugin.xp.add(world.guild.id, 10_000 + n, xp)
    ix = await fake_discord.slash(world.admin, "levels export")
    message = await ix.wait_original()
    assert message["attachments"][0]["filename"] == "leaderboard.csv"
    rows = list(csv.DictReader(io.StringIO(fake_discord.attachment_bytes(message).decode())))
    assert [(r["rank"], r["user_id"], r["xp"], r["level"]) for r in rows] == [
        ("1", "10002", "5000", "10"), ("2", "10003", "300", "2"), ("3", "10001", "50", "0")]
    assert await AuditLog.filter(action="levels.exported").exists()


async def test_apply_writes_in_batches_not_per_player(start_bot, world):
    running = await start_bot(registry=registry())
    engine = running.bot.plugins.plugins["compliance"].xp
    plan = ImportPlan(players={20_000 + n: n for n in range(1, 2501)}, found=2500)
    assert await apply(world.guild.id, plan, engine) == 3
    assert await MemberRecord.filter(guild_id=world.guild.id).count() == 2500
    with pytest.raises(UserError, match="lists no players"):
        parse(json.dumps({"players": []}).encode())
