"""Strain explorer end to end through the fake Discord: autocomplete, cards, recommend, explore."""

from __future__ import annotations

from bot.models import AuditLog
from plugins.ui.tests.conftest import custom_ids, embed_text, find_id


async def test_autocomplete_offers_matching_strains(ui_bot, world, fake_discord):
    choices = await fake_discord.autocomplete(world.member, "strain info", {"name": "blue"},
                                              focused="name")
    assert [c["value"] for c in choices] == ["Blueberry", "Blue Dream"]
    assert all(len(c["name"]) <= 100 and "THC" in c["name"] for c in choices)
    everything = await fake_discord.autocomplete(world.member, "strain info", {"name": ""},
                                                 focused="name")
    assert len(everything) == 25


async def test_autocomplete_survives_long_and_odd_unicode_queries(ui_bot, world, fake_discord):
    long = await fake_discord.autocomplete(world.member, "strain info", {"name": "x" * 200},
                                           focused="name")
    assert long == []
    emoji = await fake_discord.autocomplete(world.member, "strain info",
                                            {"name": "🌿\u202e\u0000🔥"}, focused="name")
    assert emoji == []
    wide = await fake_discord.autocomplete(world.member, "strain info", {"name": "ＯＧ　Ｋｕ"},
                                           focused="name")
    assert [c["value"] for c in wide] == ["OG Kush"]


async def test_autocomplete_shows_nothing_to_unverified_members(ui_bot, world, fake_discord):
    for typed in ("b", "bl", "blu", "blue"):
        choices = await fake_discord.autocomplete(world.other, "strain info", {"name": typed},
                                                  focused="name")
        assert choices == []
    # Typing is not one audit row per keystroke: the core records a denial once per while.
    assert await AuditLog.filter(actor_id=world.other.id).count() <= 1


async def test_autocomplete_and_commands_stop_when_the_plugin_is_off(ui_bot, world,
                                                                     fake_discord):
    off = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "ui"})
    await off.response()
    ix = await fake_discord.slash(world.member, "strain info", {"name": "OG Kush"})
    assert "turned off" in (await ix.response())["data"]["content"]
    assert await fake_discord.autocomplete(world.member, "strain info", {"name": "og"},
                                           focused="name") == []


async def test_details_include_knowledge_base_hits(start_bot, providers, world, fake_discord):
    from bot.api import KnowledgeHit
    from plugins.ui.tests.conftest import start_ui

    providers.knowledge = [KnowledgeHit(3, "Blue Dream history", "Bred in Santa Cruz.",
                                        "strains", "https://example.org/bd")]
    await start_ui(start_bot, providers, knowledge=True)
    ix = await fake_discord.slash(world.member, "strain info", {"name": "blue dream"})
    card = await ix.wait_original()
    details = await fake_discord.click(world.member, card, find_id(card, "strain.details"))
    text = embed_text((await details.response())["data"])
    assert "Blue Dream history" in text and "https://example.org/bd" in text
    assert providers.searches == ["Blue Dream strain"]


async def test_strain_card_and_its_buttons(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "strain info", {"name": "Blue Dream"})
    card = await ix.wait_original()
    assert ix.ephemeral
    text = embed_text(card)
    assert "Blue Dream" in text and "Type: Hybrid" in text and "THC: 17–24 %" in text
    assert "Effects: Relaxed, Happy" in text and "Flavours: Berry" in text
    assert card["embeds"][0]["url"] == "https://www.leafly.com/strains/blue-dream"
    labels = [c["label"] for row in card["components"] for c in row["components"]]
    assert labels == ["Details", "Effects", "Growing"]

    grow = await fake_discord.click(world.member, card, find_id(card, "strain.grow"))
    grown = (await grow.response())["data"]
    assert grow.ephemeral
    assert "home cultivation is not permitted for recreational users" in embed_text(grown)
    assert "Flowering: about **10 weeks**" in embed_text(grown)

    effects = await fake_discord.click(world.admin, card, find_id(card, "strain.effects"))
    assert "**Relaxed**" in embed_text((await effects.response())["data"])

    details = await fake_discord.click(world.member, card, find_id(card, "strain.details"))
    assert "Blueberry and Haze" in embed_text((await details.response())["data"])


async def test_unverified_member_pressing_someone_elses_card_is_refused(ui_bot, world,
                                                                        fake_discord):
    ix = await fake_discord.slash(world.member, "strain info", {"name": "OG Kush"})
    card = await ix.wait_original()
    click = await fake_discord.click(world.other, card, find_id(card, "strain.details"))
    resp = (await click.response())["data"]
    assert click.ephemeral and "Verify your age" in resp["content"]
    assert "uitest:verify" in custom_ids(resp)
    assert not resp.get("embeds")
    denied = await AuditLog.filter(action="age_gate.denied", actor_id=world.other.id)
    assert [d.target for d in denied] == ["strain"]


async def test_unverified_member_cannot_open_a_card(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.other, "strain info", {"name": "OG Kush"})
    resp = (await ix.response())["data"]
    assert ix.ephemeral and "Verify your age" in resp["content"] and not resp.get("embeds")


async def test_unknown_strain_gets_a_clear_hint(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "strain info", {"name": "Blue Drem" + "!" * 150})
    resp = (await ix.response())["data"]
    assert ix.ephemeral and "I don't know a strain called" in resp["content"]
    assert "**Blue Dream**" in resp["content"] and len(resp["content"]) < 400


async def test_recommend_lists_strains_and_opens_a_card(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "strain recommend",
                                  {"effect": "Sleepy", "experience": "beginner"})
    message = await ix.wait_original()
    text = embed_text(message)
    assert "Strains for feeling sleepy (beginner)" in text and "Start low" in text
    select = message["components"][0]["components"][0]
    first = select["options"][0]
    pick = await fake_discord.select(world.member, message, select["custom_id"], [first["value"]])
    card = (await pick.response())["data"]
    assert first["label"] in embed_text(card) and "Sleepy" in embed_text(card)
    # The picker belongs to the member who asked.
    stolen = await fake_discord.select(world.admin, message, select["custom_id"],
                                       [first["value"]])
    assert "isn't yours" in (await stolen.response())["data"]["content"]


async def test_explore_category_list_pages_and_card(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "strain explore")
    message = await ix.wait_original()
    select = message["components"][0]["components"][0]
    assert [o["value"] for o in select["options"]] == ["indica", "sativa", "hybrid", "cbd", "all"]
    picked = await fake_discord.select(world.member, message, select["custom_id"], ["all"])
    pages = await picked.wait_original()
    assert embed_text(pages).startswith("\nAll strains\n") and "Page 1 of 5" in embed_text(pages)
    nxt = await fake_discord.click(world.member, pages, find_id(pages, "pg.next"))
    assert "Page 2 of 5" in embed_text((await nxt.response())["data"])

    [chooser] = await picked.wait_followups(1)
    strain_select = chooser["components"][0]["components"][0]
    assert len(strain_select["options"]) == 25
    pick = await fake_discord.select(world.member, chooser, strain_select["custom_id"],
                                     ["ACDC"])
    card = (await pick.response())["data"]
    assert "ACDC" in embed_text(card) and "CBD: 14–20 %" in embed_text(card)


async def test_explore_high_cbd_category(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "strain explore")
    message = await ix.wait_original()
    select = message["components"][0]["components"][0]
    picked = await fake_discord.select(world.member, message, select["custom_id"], ["cbd"])
    text = embed_text(await picked.wait_original())
    assert "Charlotte's Web" in text and "Harlequin" in text and "OG Kush" not in text
