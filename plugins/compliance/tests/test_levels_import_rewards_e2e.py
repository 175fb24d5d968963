"""Role rewards after a MEE6 import: given in the background, summarised to the admin, and
continued after a restart without giving anyone their roles twice — through the fake
Discord's role routes."""

from __future__ import annotations

import json
from collections import Counter

from bot.models import AuditLog
from plugins.compliance.levels import progress_for, xp_for_next
from plugins.compliance.models import ImportRewardJob, ImportRewardMember
from plugins.compliance.tests.helpers import button_ids, import_and_confirm, registry

LEVEL_2, LEVEL_5 = (sum(xp_for_next(level) for level in range(top)) for top in (2, 5))


def _file(xp_by_id):
    players = [{"id": str(user_id), "username": "u", "xp": xp, "level": 0}
               for user_id, xp in xp_by_id.items()]
    return ("mee6.json", json.dumps({"players": players}).encode())


def _role_puts(fake, since=0):
    """(member id, role id) of every role given so far."""
    return Counter((int(r.path.split("/")[4]), int(r.path.split("/")[6]))
                   for r in fake.requests[since:]
                   if r.method == "PUT" and "/roles/" in r.path and r.status == 204)


async def _confirm_import(fake, world, upload):
    return (await import_and_confirm(fake, world.admin, upload))[1]


async def _rewards(fake, world):
    level2, level5 = world.guild.add_role("Sprout"), world.guild.add_role("Veteran")
    for level, role in ((2, level2), (5, level5)):
        await (await fake.slash(world.admin, "levels reward",
                                {"level": level, "role": role})).response()
    return level2, level5


async def test_imported_members_get_their_reward_roles_with_a_summary(start_bot, world,
                                                                      fake_discord):
    high = world.guild.add_member("old-timer")  # level 5 in the file: both rewards
    mid = world.guild.add_member("regular")  # level 2
    low = world.guild.add_member("lurker")  # level 1: no reward
    await start_bot(registry=registry())
    level2, level5 = await _rewards(fake_discord, world)
    world.guild.add_member_role(world.member, level2)  # already has it
    await fake_discord.settle()
    gone = 123456789012345678  # in the file, not in the server
    upload = _file({high.id: LEVEL_5 + 10, mid.id: LEVEL_2, low.id: 100,
                    world.member.id: LEVEL_2 + 1, gone: LEVEL_5})
    assert progress_for(LEVEL_5 + 10).level == 5 and progress_for(100).level == 1

    yes = await _confirm_import(fake_discord, world, upload)
    applied, final = (fake_discord.text_of(m) for m in await yes.wait_followups(2))
    assert "MEE6 import applied." in applied
    assert "giving them to **3** imported members of this server in the background" in applied
    assert ("**2** members given their rewards · **1** already had them · **0** no longer "
            "in the server · **0** failed.") in final

    assert _role_puts(fake_discord) == Counter({(high.id, level2.id): 1, (high.id, level5.id): 1,
                                                (mid.id, level2.id): 1})
    assert {r.id for r in high.roles} >= {level2.id, level5.id}
    assert level2.id not in {r.id for r in low.roles}
    entry = await AuditLog.get(action="levels.import_rewards_applied")
    assert entry.actor_id == world.admin.id and entry.details["given"] == 2
    assert not await ImportRewardJob.exists() and not await ImportRewardMember.exists()

    # The same file again: no XP changes, and nobody is given a role twice.
    before = len(fake_discord.requests)
    yes = await _confirm_import(fake_discord, world, upload)
    final = fake_discord.text_of((await yes.wait_followups(2))[1])
    assert "**0** members given their rewards · **3** already had them" in final
    assert _role_puts(fake_discord, before) == Counter()


async def test_a_failed_role_is_counted_and_explained(start_bot, world, fake_discord):
    await start_bot(registry=registry())
    level2, _ = await _rewards(fake_discord, world)
    fake_discord.fail_next(f"/roles/{level2.id}", 403, code=50013,
                           message="Missing Permissions", method="PUT")
    yes = await _confirm_import(fake_discord, world, _file({world.member.id: LEVEL_2,
                                                            world.other.id: LEVEL_2}))
    final = fake_discord.text_of((await yes.wait_followups(2))[1])
    assert "**1** members given their rewards" in final and "**1** failed." in final
    assert "my role is above the reward roles" in final


async def test_a_restart_midway_continues_without_giving_anyone_a_role_twice(
        start_bot, world, fake_discord):
    members = [world.guild.add_member(f"grower-{n}") for n in range(30)]
    running = await start_bot(registry=registry())
    level2, _ = await _rewards(fake_discord, world)
    upload = _file({member.id: LEVEL_2 for member in members})

    yes = await _confirm_import(fake_discord, world, upload)
    applied = fake_discord.text_of((await yes.wait_followups(1))[0])
    assert "giving them to **30** imported members" in applied
    for _ in range(3):  # a few roles given, then the bot is restarted (a deploy)
        await fake_discord.wait_for_request(
            lambda r: r.method == "PUT" and f"/roles/{level2.id}" in r.path)
    await running.stop()  # lets the members in flight finish, writes their outcome
    given_before = sum(_role_puts(fake_discord).values())
    assert 3 <= given_before < 30, "stopped midway"

    await start_bot(registry=registry())
    dm = await fake_discord.wait_for_message(fake_discord.dm_channel(world.admin.user),
                                             lambda m: "Role rewards" in m["content"])
    assert f"in **{world.guild.name}**" in dm["content"]
    assert "**30** members given their rewards" in dm["content"]
    puts = _role_puts(fake_discord)
    assert puts == Counter({(member.id, level2.id): 1 for member in members}), "once each"
    assert all(level2.id in {r.id for r in member.roles} for member in members)
    assert not await ImportRewardJob.exists()
    assert await AuditLog.filter(action="levels.import_rewards_applied").count() == 1


async def test_pending_reward_rows_are_in_privacy_export_and_delete(start_bot, world,
                                                                    fake_discord):
    running = await start_bot(registry=registry())
    rewards = running.bot.plugins.plugins["compliance"].import_rewards
    await rewards.queue(world.guild.id, world.admin.id, [world.member.id, world.other.id])

    ix = await fake_discord.slash(world.member, "privacy export")
    exported = json.loads(fake_discord.attachment_bytes(await ix.wait_original()))
    assert exported["plugins"]["compliance"]["import_rewards_pending"] == 1
    asked = await fake_discord.slash(world.member, "privacy delete")
    prompt = await asked.wait_original()
    done = await fake_discord.click(world.member, prompt, next(
        c for c in button_ids(prompt) if "cf.yes" in c))
    await done.response()
    await done.wait_followups(1)
    assert await ImportRewardMember.filter(user_id=world.member.id).count() == 0
    assert await ImportRewardMember.filter(user_id=world.other.id).count() == 1
