"""Admins turn plugins on and off per guild; the core enforces it everywhere, once."""

from __future__ import annotations

import asyncio

from bot.models import AuditLog, GuildPluginState
from tests.probe_plugin import ProbePlugin, registry_with


async def test_plugins_list_shows_every_installed_plugin(start_bot, world, fake_discord):
    await start_bot()
    ix = await fake_discord.slash(world.admin, "plugins list")
    resp = await ix.response()
    assert resp["type"] == 4 and ix.ephemeral
    text = fake_discord.text_of(resp["data"])
    for name in ("compliance", "music", "llm", "ui"):
        assert name in text


async def test_admin_disables_a_plugin_and_its_command_refuses_without_running(
    start_bot, world, fake_discord
):
    probe = ProbePlugin()
    await start_bot(registry=registry_with(probe))
    creates_before = fake_discord.command_creates

    ix = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "probe"})
    resp = await ix.response()
    assert "probe** is now off" in resp["data"]["content"] and ix.ephemeral

    ix = await fake_discord.slash(world.member, "probe ping")
    resp = await ix.response()
    assert resp["data"]["content"] == "**probe** is turned off in this server."
    assert resp["data"]["flags"] & 64
    assert probe.calls == []

    row = await GuildPluginState.get(guild_id=world.guild.id, plugin="probe")
    assert row.enabled is False and row.updated_by == world.admin.id
    audit = await AuditLog.filter(action="plugin.disabled").values_list("target", "actor_id")
    assert audit == [("probe", world.admin.id)]
    # Discord allows 200 command creates per guild per day: a toggle must not re-sync.
    assert fake_discord.command_creates == creates_before

    ix = await fake_discord.slash(world.admin, "plugins enable", {"plugin": "probe"})
    await ix.response()
    ix = await fake_discord.slash(world.member, "probe ping")
    assert (await ix.response())["data"]["content"] == "pong"


async def test_disabled_plugin_listeners_and_autocomplete_stay_silent(
    start_bot, world, fake_discord
):
    probe = ProbePlugin()
    await start_bot(registry=registry_with(probe))
    await fake_discord.send_message(world.member, world.channel, "first")
    assert await probe.wait_messages(1) == ["first"]

    ix = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "probe"})
    await ix.response()
    await fake_discord.send_message(world.member, world.channel, "while off")
    choices = await fake_discord.autocomplete(world.member, "probe pick", {"thing": "a"},
                                              focused="thing")
    assert choices == []
    ix = await fake_discord.slash(world.admin, "plugins enable", {"plugin": "probe"})
    await ix.response()
    await fake_discord.send_message(world.member, world.channel, "back on")
    # Messages are handled in order, so "back on" arriving second proves "while off" was dropped.
    assert await probe.wait_messages(2) == ["first", "back on"]
    assert "autocomplete" not in probe.calls


async def test_member_without_manage_server_cannot_toggle(start_bot, world, fake_discord):
    await start_bot()
    ix = await fake_discord.slash(world.member, "plugins disable", {"plugin": "music"})
    resp = await ix.response()
    assert "Manage Server permission" in resp["data"]["content"]
    assert resp["data"]["flags"] & 64
    assert await GuildPluginState.all().count() == 0
    assert await AuditLog.filter(action__startswith="plugin.").count() == 0


async def test_unknown_plugin_name_gets_a_clear_answer(start_bot, world, fake_discord):
    await start_bot()
    ix = await fake_discord.slash(world.admin, "plugins enable", {"plugin": "nosuch"})
    resp = await ix.response()
    assert "no plugin called `nosuch`" in resp["data"]["content"]
    assert "music" in resp["data"]["content"]
    assert await GuildPluginState.all().count() == 0


async def test_plugin_names_autocomplete(start_bot, world, fake_discord):
    await start_bot()
    choices = await fake_discord.autocomplete(world.admin, "plugins enable", {"plugin": "mu"},
                                              focused="plugin")
    assert [c["value"] for c in choices] == ["music"]


async def test_long_or_odd_autocomplete_queries_get_a_valid_answer(start_bot, world,
                                                                   fake_discord):
    await start_bot()
    for typed in ("m" * 200, "ｍｕｓｉｃ", "\u200bmu\x00sic", "🎵🎶", "' OR 1=1 --"):
        choices = await fake_discord.autocomplete(world.admin, "plugins enable",
                                                  {"plugin": typed}, focused="plugin")
        assert len(choices) <= 25
        assert all(len(c["name"]) <= 100 for c in choices)
    music = await fake_discord.autocomplete(world.admin, "plugins enable", {"plugin": "ｍｕｓｉｃ"},
                                            focused="plugin")
    assert [c["value"] for c in music] == ["music"]


async def test_two_admins_toggling_at_once_last_write_wins_both_audited(
    start_bot, world, fake_discord
):
    running = await start_bot()
    second_admin = world.guild.add_member("erin-admin", admin=True)
    a = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "music"})
    b = await fake_discord.slash(second_admin, "plugins enable", {"plugin": "music"})
    await asyncio.gather(a.response(), b.response())
    row = await GuildPluginState.get(guild_id=world.guild.id, plugin="music")
    cached = await running.services.toggles.is_enabled(world.guild.id, "music")
    assert cached == row.enabled
    actions = await AuditLog.filter(target="music").values_list("action", flat=True)
    assert sorted(actions) == ["plugin.disabled", "plugin.enabled"]
    # The cache survives a restart-free re-read: clear it and the database agrees.
    running.services.toggles.invalidate()
    assert await running.services.toggles.is_enabled(world.guild.id, "music") == row.enabled


async def test_a_burst_on_a_cold_guild_reads_the_toggle_once(db):
    from tortoise import Tortoise

    from bot.audit import AuditWriter
    from bot.toggles import GuildToggles

    toggles = GuildToggles(lambda: {"music": True}, AuditWriter())
    conn = Tortoise.get_connection("default")
    original, reads = conn.execute_query, []

    async def counting(query, values=None):
        reads.append(query)
        return await original(query, values)

    conn.execute_query = counting  # type: ignore[method-assign]
    try:
        answers = await asyncio.gather(*(toggles.is_enabled(42, "music") for _ in range(50)))
    finally:
        conn.execute_query = original  # type: ignore[method-assign]
    assert answers == [True] * 50
    assert len(reads) == 1
