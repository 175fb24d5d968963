"""The database drops while the role rewards of a MEE6 import are being given: the job waits
and goes on once it is back, giving nobody a role twice, and the admin gets one summary and
the audit log one entry."""

from __future__ import annotations

from collections import Counter

from bot.models import AuditLog
from growmies_testkit.databases import database_refused
from plugins.compliance import import_rewards
from plugins.compliance.models import ImportRewardJob, ImportRewardMember
from plugins.compliance.tests.helpers import registry
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
