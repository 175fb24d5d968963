"""An admin configuring a role the bot must give or a channel it must post in hears at once
when the bot could not use it, and how to fix that; nothing is saved."""

from __future__ import annotations

from growmies_testkit.fake_discord import Permission
from plugins.compliance.models import GuildSettings
from plugins.compliance.tests.helpers import StrainProbe, content, registry


async def _saved_role(world) -> int | None:
    row = await GuildSettings.get_or_none(guild_id=world.guild.id)
    return row.verified_role_id if row else None


async def test_verified_role_above_the_bots_role_is_refused_with_the_fix(start_bot, world,
                                                                         fake_discord):
    await start_bot(registry=registry(StrainProbe()))
    bot_role = world.guild.bot_role
    high = world.guild.add_role("Verified 21+", position=bot_role.position + 1)
    ix = await fake_discord.slash(world.admin, "verification settings", {"verified_role": high})
    text = content(await ix.response())
    assert ix.ephemeral
    assert text.startswith(f"Not saved: I could not give <@&{high.id}> to verified members.")
    assert f"drag <@&{bot_role.id}> above <@&{high.id}>" in text
    assert await _saved_role(world) is None

    # Once the admin drags the bot's role up, the same command is accepted.
    world.guild.update_role(bot_role, position=high.position + 1)
    ok = await fake_discord.slash(world.admin, "verification settings", {"verified_role": high})
    assert content(await ok.response()).startswith("Saved.")
    assert await _saved_role(world) == high.id


async def test_bot_without_manage_roles_is_told_before_saving(start_bot, world, fake_discord):
    await start_bot(registry=registry(StrainProbe()))
    world.guild.update_role(world.guild.bot_role, permissions=int(
        world.guild.bot_role.permissions) & ~int(Permission.MANAGE_ROLES))
    role = world.guild.add_role("Verified 21+")
    ix = await fake_discord.slash(world.admin, "verification settings", {"verified_role": role})
    text = content(await ix.response())
    assert "Not saved" in text and "**Manage Roles**" in text
    reward = await fake_discord.slash(world.admin, "levels reward", {"level": 5, "role": role})
    assert "Not saved" in content(await reward.response()) and reward.ephemeral
    assert await _saved_role(world) is None


async def test_level_reward_role_above_the_bot_is_refused(start_bot, world, fake_discord):
    await start_bot(registry=registry(StrainProbe()))
    bot_role = world.guild.bot_role
    high = world.guild.add_role("Legend", position=bot_role.position + 1)
    ix = await fake_discord.slash(world.admin, "levels reward", {"level": 10, "role": high})
    text = content(await ix.response())
    assert text.startswith(f"Not saved: I could not give <@&{high.id}> at level 10.")
    row = await GuildSettings.get_or_none(guild_id=world.guild.id)
    assert not (row and row.role_rewards)
    low = world.guild.add_role("Regular")
    ok = await fake_discord.slash(world.admin, "levels reward", {"level": 10, "role": low})
    assert content(await ok.response()) == f"Level 10 now gives <@&{low.id}>."


async def test_review_channel_the_bot_cannot_see_is_refused(start_bot, world, fake_discord):
    await start_bot(registry=registry(StrainProbe()))
    hidden = world.guild.add_text_channel("age-review")
    world.guild.set_permission_overwrite(hidden, world.guild.bot_role,
                                         deny=int(Permission.SEND_MESSAGES))
    ix = await fake_discord.slash(world.admin, "verification settings",
                                  {"mode": "staff_review", "review_channel": hidden})
    text = content(await ix.response())
    assert text.startswith(f"Not saved: I can't post review requests in <#{hidden.id}>")
    assert "Send Messages" in text
    row = await GuildSettings.get_or_none(guild_id=world.guild.id)
    assert row is None or (row.review_channel_id is None
                           and row.verification_mode != "staff_review")
