"""`/help`: every member, verified or not, sees what they can use here, page by page, only to
themselves. 21+ commands are listed and marked (Discord's picker shows their names to everyone
anyway); staff commands only for staff; a plugin turned off here is not listed."""

from __future__ import annotations

from typing import Any

from tests.probe_plugin import ProbePlugin, registry_with


def custom_id(message: dict[str, Any], action: str) -> str:
    return next(c["custom_id"] for row in message["components"] for c in row["components"]
                if c.get("custom_id", "").split(":")[1:2] == [action]
                or action in c.get("custom_id", ""))


async def all_pages(fake_discord: Any, actor: Any) -> list[str]:
    """What `actor` reads paging through /help from the first page to the last."""
    ix = await fake_discord.slash(actor, "help")
    message = await ix.wait_original()
    assert ix.ephemeral
    pages = [fake_discord.text_of(message)]
    while "Page " in pages[-1] and not _last(pages[-1]):
        click = await fake_discord.click(actor, message, custom_id(message, "pg.next"))
        resp = await click.response()
        assert resp["type"] == 7
        message = {**message, **resp["data"]}
        pages.append(fake_discord.text_of(resp["data"]))
    return pages


def _last(text: str) -> bool:
    footer = text[text.rindex("Page "):].split()
    return footer[1] == footer[3]


async def test_an_unverified_member_sees_help_with_21_plus_commands_marked(
    start_bot, world, fake_discord
):
    await start_bot()
    pages = await all_pages(fake_discord, world.member)
    text = "\n".join(pages)
    assert pages[0].startswith("Help · core")
    assert "`/help`" in text and "`/ping`" in text
    # Every built-in plugin is on by default: its commands are listed, one plugin per page.
    for title in ("Help · compliance", "Help · music", "Help · llm", "Help · ui"):
        assert title in text
    assert "`/verify`" in text
    assert "run `/verify` to unlock them" in pages[0]
    # An adults-only plugin's commands are listed for an unverified member, marked.
    ui_page = next(p for p in pages if p.startswith("Help · ui"))
    assert "🔞 21+, verify first" in ui_page
    # Staff commands are not shown to a member without the permission.
    assert "/plugins enable" not in text and "*staff*" not in text


async def test_an_admin_sees_staff_commands_and_a_plugin_turned_off_disappears(
    start_bot, world, fake_discord
):
    await start_bot()
    text = "\n".join(await all_pages(fake_discord, world.admin))
    assert "`/plugins enable` — Turn a feature on in this server · *staff*" in text
    assert "Help · music" in text

    ix = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "music"})
    await ix.response()
    text = "\n".join(await all_pages(fake_discord, world.member))
    assert "Help · music" not in text and "/play" not in text


async def test_a_verified_member_sees_the_mark_without_verify_first(
    start_bot, world, fake_discord
):
    probe = ProbePlugin()
    probe.gate.verified.add(world.member.id)
    await start_bot(registry=registry_with(probe, allow=["music"]))
    pages = await all_pages(fake_discord, world.member)
    probe_page = next(p for p in pages if p.startswith("Help · probe"))
    assert "`/probe secret` — 21+ only · *🔞 21+*" in probe_page
    assert "verify first" not in "\n".join(pages)
    assert "`/probe ping` — Answers pong\n" in probe_page + "\n"


README = __import__("pathlib").Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- commands:start -->", "<!-- commands:end -->"


async def test_readme_command_overview_matches_the_registered_commands(start_bot):
    from bot.help import command_overview

    running = await start_bot()
    expected = command_overview(running.bot)
    text = README.read_text()
    shown = text[text.index(START) + len(START):text.index(END)].strip()
    assert shown == expected, (
        "README's command overview drifted from the registered commands; replace the block "
        f"between {START} and {END} with:\n{expected}")


async def test_a_member_picks_a_plugin_in_the_select_and_lands_on_its_page(
    start_bot, world, fake_discord
):
    await start_bot()
    ix = await fake_discord.slash(world.member, "help")
    message = await ix.wait_original()
    select = next(c for row in message["components"] for c in row["components"]
                  if c["type"] == 3)
    offered = {o["label"]: o["value"] for o in select["options"]}
    # Only plugins enabled here are offered, core first, and the first page is the default.
    assert next(iter(offered)) == "core" and {"music", "ui"} <= set(offered)
    assert next(o for o in select["options"] if o["default"])["label"] == "core"

    click = await fake_discord.select(world.member, message, select["custom_id"],
                                      [offered["music"]], strict=True)
    resp = await click.response()
    assert resp["type"] == 7
    text = fake_discord.text_of(resp["data"])
    assert text.startswith("Help · music") and "`/play`" in text
    chosen = next(c for row in resp["data"]["components"] for c in row["components"]
                  if c["type"] == 3)
    assert next(o for o in chosen["options"] if o["default"])["label"] == "music"

    # A value the select never offered (a forged interaction) changes nothing.
    forged = await fake_discord.select(world.member, message, select["custom_id"], ["999"])
    assert "expired" in fake_discord.text_of((await forged.response())["data"]).lower()

    # A plugin turned off here is no longer offered.
    await (await fake_discord.slash(world.admin, "plugins disable",
                                    {"plugin": "music"})).response()
    again = await (await fake_discord.slash(world.member, "help")).wait_original()
    labels = [o["label"] for row in again["components"] for c in row["components"]
              if c["type"] == 3 for o in c["options"]]
    assert "music" not in labels and "ui" in labels


async def test_the_help_select_still_works_after_a_restart(start_bot, world, fake_discord):
    first = await start_bot()
    message = await (await fake_discord.slash(world.member, "help")).wait_original()
    select = next(c for row in message["components"] for c in row["components"]
                  if c["type"] == 3)
    value = next(o["value"] for o in select["options"] if o["label"] == "ui")
    await first.stop()
    await start_bot()  # a new process: the select's state comes from the component store
    click = await fake_discord.select(world.member, message, select["custom_id"], [value])
    assert fake_discord.text_of((await click.response())["data"]).startswith("Help · ui")
