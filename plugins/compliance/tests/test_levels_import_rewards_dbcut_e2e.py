"""The database drops during a MEE6 import: an import cut off half-way changes nobody's XP;
while the role rewards are being given, the job waits and goes on once it is back, giving
nobody a role twice, and the admin gets one summary and the audit log one entry."""

from __future__ import annotations

from collections import Counter

from bot.api import DatabaseUnavailable
from bot.models import AuditLog
from growmies_testkit.databases import database_refused
from plugins.compliance import import_rewards
from plugins.compliance.models import ImportRewardJob, ImportRewardMember, MemberRecord
from plugins.compliance.tests.helpers import button_ids, import_and_confirm, registry
from plugins.compliance.tests.test_levels_import_rewards_e2e import (
    LEVEL_2,
    _confirm_import,
    _file,
    _rewards,
    _role_puts,
)


async def test_a_cut_while_the_job_finishes_gives_one_summary_and_one_audit_entry(
        start_bot, world, fake_discord, monkeypatch):
    monkeypatch.setattr(import_rewards, "RETRY_SECONDS", 0.05)  # 30 s in production
    await start_bot(registry=registry())
    level2, _ = await _rewards(fake_discord, world)
    # Every role is given; then removing the finished job meets the outage.
    with database_refused(when=lambda sql: sql.lstrip().upper().startswith("DELETE")
                          and "import_reward" in sql) as refused:
        yes = await _confirm_import(fake_discord, world, _file({world.member.id: LEVEL_2,
                                                                world.other.id: LEVEL_2}))
        applied = fake_discord.text_of((await yes.wait_followups(1))[0])
        assert "giving them to **2** imported members" in applied
        await refused.wait()
    followups = await yes.wait_followups(2)
    assert "**2** members given their rewards" in fake_discord.text_of(followups[1])
    assert not await ImportRewardJob.exists() and not await ImportRewardMember.exists()
    assert await AuditLog.filter(action="levels.import_rewards_applied").count() == 1
    assert _role_puts(fake_discord) == Counter({(world.member.id, level2.id): 1,
                                                (world.other.id, level2.id): 1})
    # Nothing else comes: a second summary would be a third follow-up to the Import click.
    assert len(yes.followups) == 2


async def test_a_cut_while_members_are_rewarded_resumes_without_giving_a_role_twice(
        start_bot, world, fake_discord, monkeypatch):
    monkeypatch.setattr(import_rewards, "RETRY_SECONDS", 0.05)
    members = [world.guild.add_member(f"grower-{n}") for n in range(6)]
    await start_bot(registry=registry())
    level2, _ = await _rewards(fake_discord, world)
    # Roles are given, but their outcomes can't be written: the job stops and waits.
    with database_refused(when=lambda sql: sql.lstrip().upper().startswith("UPDATE")
                          and "import_reward_member" in sql) as refused:
        yes = await _confirm_import(fake_discord, world,
                                    _file({member.id: LEVEL_2 for member in members}))
        await refused.wait()
    final = fake_discord.text_of((await yes.wait_followups(2))[1])
    assert "**0** failed." in final
    assert _role_puts(fake_discord) == Counter({(member.id, level2.id): 1
                                                for member in members})
    assert all(level2.id in {r.id for r in member.roles} for member in members)
    assert not await ImportRewardJob.exists()


async def test_an_import_cut_off_half_way_changes_nobodys_xp(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    players = {10**17 + n: LEVEL_2 + n for n in range(2_500)}  # three statements' worth
    upserts = []

    def second_upsert(sql: str) -> bool:
        if "compliance_member" in sql and sql.lstrip().upper().startswith("INSERT"):
            upserts.append(sql)
            return len(upserts) >= 2
        return False

    # The first thousand members are written, then the connection drops.
    with database_refused(when=second_upsert):
        _prompt, yes = await import_and_confirm(fake_discord, world.admin, _file(players))
        told = fake_discord.text_of((await yes.wait_followups(1))[-1])
    assert told == DatabaseUnavailable().message
    assert not await MemberRecord.filter(user_id__in=list(players)).exists()
    assert not await ImportRewardJob.exists()
    # Back: the same file goes in whole.
    _prompt, yes = await import_and_confirm(fake_discord, world.admin, _file(players))
    assert "MEE6 import applied." in fake_discord.text_of((await yes.wait_followups(1))[0])
    assert await MemberRecord.filter(user_id__in=list(players)).count() == len(players)


async def test_import_buttons_pressed_during_a_cut_are_answered_and_change_nothing(
        start_bot, world, fake_discord):
    await start_bot(registry=registry())
    ask = await fake_discord.slash(world.admin, "levels import",
                                   {"file": _file({world.member.id: LEVEL_2})})
    prompt = await ask.wait_original()
    buttons = button_ids(prompt)
    assert any("cf.yes" in b for b in buttons)
    with database_refused():
        answers = []
        for custom_id in buttons:
            ix = await fake_discord.click(world.admin, prompt, custom_id)
            resp = await ix.response(timeout=10)
            if resp["type"] in (5, 6):
                last = (await ix.wait_followups(1))[-1]
                answers.append((custom_id, fake_discord.text_of(last),
                                bool(int(last.get("flags") or 0) & 64)))
            else:
                answers.append((custom_id, str((resp.get("data") or {}).get("content") or ""),
                                ix.ephemeral))
    for custom_id, said, private in answers:
        assert said == DatabaseUnavailable().message and private, (custom_id, said)
    assert not await MemberRecord.filter(user_id=world.member.id, xp__gt=0).exists()
    assert not await ImportRewardJob.exists()
