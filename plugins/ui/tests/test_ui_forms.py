"""Grow wizard, compliance check and strain admin forms end to end, including a restart."""

from __future__ import annotations

import pytest

from bot.api import KnowledgeHit
from bot.models import AuditLog
from plugins.ui.models import Strain
from plugins.ui.tests.conftest import UIBot, custom_ids, embed_text, find_id, start_ui

STEP1 = {"goal": "Big harvest", "experience": "beginner"}
STEP2 = {"space": "grow tent", "medium": "coco coir"}


async def fill_form(fake, actor, ix, steps):
    """Submit each step as a member does: step 1 from the command's modal, later steps from
    the Continue button of the progress message. Returns the last submission."""
    modal = (await ix.response())["data"]
    submitted = await fake.submit_modal(actor, modal["custom_id"], steps[0])
    await submitted.response()
    progress = None
    for values in steps[1:]:
        if progress is None:
            progress = await submitted.wait_original()
        current = fake.get_message(progress["id"])
        opener = await fake.click(actor, current, find_id(current, "fm.open"))
        modal = (await opener.response())["data"]
        submitted = await fake.submit_modal(actor, modal["custom_id"], values,
                                            message=progress["id"])
        await submitted.response()
    return submitted


async def test_wizard_abandoned_half_way_resumes_after_a_restart(
    start_bot, providers, world, fake_discord
):
    first = await start_ui(start_bot, providers)
    ix = await fake_discord.slash(world.member, "grow wizard")
    modal = await ix.response()
    assert modal["type"] == 9 and "(1/3)" in modal["data"]["title"]
    step1 = await fake_discord.submit_modal(world.member, modal["data"]["custom_id"], STEP1)
    progress = await step1.wait_original()
    assert "step 2 of 3" in progress["content"]
    await first.stop()

    # The member comes back after the restart; the knowledge base is now available.
    providers.knowledge = [KnowledgeHit(1, "Coco basics", "Feed coco daily at pH 5.8.",
                                        "cultivation", "https://example.org/coco")]
    await start_ui(start_bot, providers, knowledge=True)
    reopen = await fake_discord.click(world.member, progress, find_id(progress, "fm.open"))
    step2_modal = (await reopen.response())["data"]
    assert "(2/3)" in step2_modal["title"]
    bad = await fake_discord.submit_modal(world.member, step2_modal["custom_id"],
                                          {**STEP2, "medium": "rockwool"}, message=progress)
    assert "pick a medium: soil, coco, hydro" in (await bad.response())["data"]["content"]
    step2 = await fake_discord.submit_modal(world.member, step2_modal["custom_id"], STEP2,
                                            message=progress)
    assert "step 3 of 3" in fake_discord.text_of((await step2.response())["data"])
    current = fake_discord.get_message(progress["id"])
    last = await fake_discord.click(world.member, current, find_id(current, "fm.open"))
    step3_modal = (await last.response())["data"]
    done = await fake_discord.submit_modal(world.member, step3_modal["custom_id"],
                                           {"lighting": "LED"}, message=progress)
    guide = (await done.response())["data"]
    text = embed_text(guide)
    assert "home cultivation is not permitted for recreational users" in text
    assert "Coco basics" in text and "https://example.org/coco" in text
    assert "Medium — coco" in text and "Space — tent" in text and "Goal — yield" in text
    assert providers.searches == ["grow guide yield tent coco led beginner"]
    assert (world.guild.id, world.member.id, 5, "ui.grow_wizard") in providers.awards
    entry = await AuditLog.get(action="ui.grow_wizard.completed")
    assert entry.details["medium"] == "coco"


async def test_wizard_without_knowledge_base_uses_shipped_text(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "grow wizard")
    done = await fill_form(fake_discord, world.member, ix, [STEP1, STEP2,
                                                            {"lighting": "sunlight"}])
    text = embed_text((await done.response())["data"])
    assert "Growmies starter guide" in text and "Lighting — sun" in text
    assert "home cultivation is not permitted" in text


@pytest.mark.parametrize("amount", ["-3", "1e9", "six ounces"])
async def test_compliance_check_refuses_malformed_amounts(ui_bot, world, fake_discord, amount):
    ix = await fake_discord.slash(world.member, "compliance check")
    cid = (await ix.response())["data"]["custom_id"]
    plan = {"amount": amount, "place": "home", "driving": "no", "source": "dispensary"}
    bad = await fake_discord.submit_modal(world.member, cid, plan)
    resp = (await bad.response())["data"]
    assert bad.ephemeral and "like “1 oz”" in resp["content"] and "“28 g”" in resp["content"]
    assert any(":fm.open:" in c for c in custom_ids(resp))
    assert await AuditLog.filter(action="ui.compliance.checked").count() == 0


async def test_compliance_check_answers_each_part_with_sources(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "compliance check")
    cid = (await ix.response())["data"]["custom_id"]
    plan = {"amount": "200 g", "place": "the boardwalk", "driving": "yes",
            "source": "a guy online"}
    done = await fake_discord.submit_modal(world.member, cid, plan)
    text = embed_text((await done.response())["data"])
    assert done.ephemeral
    assert "over the 6 oz" in text and "Public consumption is prohibited" in text
    assert "DUI" in text and "purchase only from licensed dispensaries" in text
    assert "N.J.S.A. 39:4-50" in text and "https://www.nj.gov/cannabis/" in text
    assert "not legal advice" in text
    entry = await AuditLog.get(action="ui.compliance.checked")
    assert entry.details == {"possession": "illegal", "place": "illegal", "driving": "illegal",
                             "purchase": "illegal"}


async def test_compliance_check_is_21_plus(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.other, "compliance check")
    resp = await ix.response()
    assert resp["type"] == 4 and "Verify your age" in resp["data"]["content"]


async def test_admin_adds_and_edits_a_strain_with_forms(ui_bot: UIBot, world, fake_discord):
    refused = await fake_discord.slash(world.member, "strain add")
    assert "Manage Server" in (await refused.response())["data"]["content"]
    ix = await fake_discord.slash(world.admin, "strain add")
    done = await fill_form(fake_discord, world.admin, ix, [
        {"name": "Jersey Sunrise", "type": "Sativa", "thc": "18-22", "cbd": "0-1"},
        {"effects": "uplifted, happy", "flavors": "citrus", "description": "",
         "source": "https://example.org/jersey-sunrise"},
    ])
    assert "Added **Jersey Sunrise**" in fake_discord.text_of((await done.response())["data"])
    strain = await Strain.get(name="Jersey Sunrise")
    assert strain.type == "sativa" and strain.effects == ["Uplifted", "Happy"]

    edit = await fake_discord.slash(world.admin, "strain edit", {"name": "jersey sunrise"})
    saved = await fill_form(fake_discord, world.admin, edit, [
        {"name": "", "type": "", "thc": "20-24", "cbd": ""},
        {"effects": "", "flavors": "", "description": "Bright and citrusy.", "source": ""},
    ])
    assert "Updated" in fake_discord.text_of((await saved.response())["data"])
    await strain.refresh_from_db()
    assert (strain.thc_min, strain.thc_max, strain.cbd_max) == (20, 24, 1)
    assert strain.description == "Bright and citrusy." and strain.flavors == ["Citrus"]
    actions = await AuditLog.filter(action__startswith="ui.strain.").values_list("action",
                                                                                 flat=True)
    assert sorted(actions) == ["ui.strain.added", "ui.strain.edited"]
