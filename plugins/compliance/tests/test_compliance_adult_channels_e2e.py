"""Admins mark 21+ channels; the bot checks who could read them, now and every time it asks.

Permissions come from the fake Discord's overwrites, which compute View Channel as Discord does
(growmies_testkit/fake_discord/permissions.py); the bot judges its gateway copy of the channel.
"""

from __future__ import annotations

import nextcord

from bot.models import AuditLog
from growmies_testkit.fake_discord.permissions import Permission
from plugins.compliance.models import AdultChannel
from plugins.compliance.tests.helpers import content, registry

VIEW = int(Permission.VIEW_CHANNEL)


async def _run(fake, actor, name, options=None):
    ix = await fake.slash(actor, name, options or {})
    answer = await ix.response()
    assert ix.ephemeral, name
    return content(answer)


async def test_an_admin_marks_a_channel_only_once_unverified_members_cannot_read_it(
    start_bot, world, fake_discord
):
    running = await start_bot(registry=registry())
    guild = world.guild
    verified = guild.add_role("Verified 21+")
    helpers = guild.add_role("Helpers")
    await _run(fake_discord, world.admin, "verification settings", {"verified_role": verified})
    lounge = guild.add_text_channel("21-plus-lounge")
    place = running.services.age_gate.is_adults_only_place

    # Everyone can read a new channel: refused, with what to change.
    said = await _run(fake_discord, world.admin, "verification adult-channel add",
                      {"channel": lounge})
    assert "**not** marked 21+" in said and "@everyone can view it" in said

    guild.set_permission_overwrite(lounge, guild.everyone, deny=VIEW)
    guild.set_permission_overwrite(lounge, verified, allow=VIEW)
    guild.set_permission_overwrite(lounge, guild.bot_member, allow=VIEW)  # the bot posts here
    guild.set_permission_overwrite(lounge, helpers, allow=VIEW)
    guild.set_permission_overwrite(lounge, world.member, allow=VIEW)
    await fake_discord.settle()
    said = await _run(fake_discord, world.admin, "verification adult-channel add",
                      {"channel": lounge})
    assert f"Role <@&{helpers.id}> can view it" in said
    assert f"<@{world.member.id}> is allowed View Channel" in said and "not verified" in said
    assert "@everyone" not in said
    assert not await AdultChannel.exists()

    # The member verifies; the Helpers overwrite goes: now it passes.
    await (await fake_discord.slash(world.member, "verify")).response()
    ok = await fake_discord.submit_modal(world.member, "compliance:dob",
                                         {"dob": "1990-06-15", "attest": "yes"})
    assert "verified as 21+" in content(await ok.response())
    guild.set_permission_overwrite(lounge, helpers)
    await fake_discord.settle()
    said = await _run(fake_discord, world.admin, "verification adult-channel add",
                      {"channel": lounge})
    assert "is now a 21+ channel" in said
    assert await AuditLog.filter(action="verification.adult_channel_added",
                                 target=str(lounge.id), actor_id=world.admin.id).exists()

    cached = running.bot.get_channel(lounge.id)
    assert await place(cached)
    thread = await cached.create_thread(name="strain talk", type=nextcord.ChannelType.public_thread)
    await fake_discord.settle()
    assert await place(running.bot.get_channel(thread.id)), "a thread judged by its parent"
    assert not await place(running.bot.get_channel(world.channel.id)), "not marked"

    # Someone later opens the channel up: it stops counting at once, and /list says why.
    guild.set_permission_overwrite(lounge, guild.everyone)
    await fake_discord.settle()
    assert not await place(running.bot.get_channel(lounge.id))
    assert not await place(running.bot.get_channel(thread.id))
    listed = await _run(fake_discord, world.admin, "verification adult-channel list")
    assert f"<#{lounge.id}>: ⚠️ not used: @everyone can view it" in listed
    guild.set_permission_overwrite(lounge, guild.everyone, deny=VIEW)
    await fake_discord.settle()
    assert await place(running.bot.get_channel(lounge.id))
    assert "✅" in await _run(fake_discord, world.admin, "verification adult-channel list")

    # A role that sees every channel on its server permissions counts too.
    regulars = guild.add_role("Regulars", permissions=VIEW)
    guild.set_permission_overwrite(lounge, guild.everyone, deny=VIEW)
    await fake_discord.settle()
    assert await place(running.bot.get_channel(lounge.id)), "@everyone's deny also hides it"
    guild.set_permission_overwrite(lounge, regulars, allow=VIEW)
    await fake_discord.settle()
    assert not await place(running.bot.get_channel(lounge.id))

    # No verified role: nothing can be proven, so nothing counts (fail closed).
    guild.set_permission_overwrite(lounge, regulars)
    await fake_discord.settle()
    assert await place(running.bot.get_channel(lounge.id))
    compliance = running.bot.plugins.plugins["compliance"]
    await compliance.settings.update(guild.id, verified_role_id=None)
    assert not await place(running.bot.get_channel(lounge.id))

    said = await _run(fake_discord, world.admin, "verification adult-channel remove",
                      {"channel": lounge})
    assert "no longer a 21+ channel" in said
    assert await AuditLog.filter(action="verification.adult_channel_removed").exists()
    assert "not marked" in await _run(fake_discord, world.admin,
                                      "verification adult-channel remove", {"channel": lounge})


async def test_members_without_manage_server_cannot_mark_channels(start_bot, world,
                                                                  fake_discord):
    await start_bot(registry=registry())
    said = await _run(fake_discord, world.member, "verification adult-channel add",
                      {"channel": world.channel})
    assert "Manage Server" in said
    assert not await AdultChannel.exists()
