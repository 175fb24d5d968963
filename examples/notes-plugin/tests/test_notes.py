"""The notes plugin as members live it, through the test kit's fake Discord.

Needs only `pip install -e '.[test]'` (growmies and growmies-testkit): the kit's pytest plugin
brings the fixtures and sets pytest-asyncio up; there is no conftest.py.
"""

from __future__ import annotations


def _buttons(message):
    return {c.get("label"): c["custom_id"] for row in message.get("components", [])
            for c in row["components"] if "custom_id" in c}


async def _add(fake_discord, member, text):
    ix = await fake_discord.slash(member, "note add", {"text": text})
    return await ix.response()


async def test_a_member_adds_lists_and_deletes_a_note(growmies, world, fake_discord):
    saved = await _add(fake_discord, world.member, "Water the clones on Friday")
    assert saved["data"]["content"].startswith("Saved note #")
    assert saved["data"]["flags"] & 64  # ephemeral: nobody else sees it
    number = saved["data"]["content"].split("#")[1].split(".")[0]

    listing = await fake_discord.slash(world.member, "note list")
    page = await listing.wait_original()
    assert listing.ephemeral
    assert f"#{number}" in fake_discord.text_of(page)
    assert "Water the clones on Friday" in fake_discord.text_of(page)

    # Another member has no notes, and can't see this one.
    theirs = await fake_discord.slash(world.other, "note list")
    assert "no notes here yet" in (await theirs.response())["data"]["content"]

    ask = await fake_discord.slash(world.member, "note delete", {"note": number})
    prompt = await ask.wait_original()
    assert f"Delete note #{number}?" in fake_discord.text_of(prompt)
    assert ask.ephemeral
    confirm = await fake_discord.click(world.member, prompt, _buttons(prompt)["Delete"])
    await confirm.response()
    (done,) = await confirm.wait_followups(1)
    assert done["content"] == f"Deleted note #{number}."

    again = await fake_discord.slash(world.member, "note list")
    assert "no notes here yet" in (await again.response())["data"]["content"]


async def test_the_list_is_paginated_newest_first(growmies, world, fake_discord):
    for n in range(1, 8):
        await _add(fake_discord, world.member, f"note number {n}")

    listing = await fake_discord.slash(world.member, "note list")
    page = await listing.wait_original()
    first = fake_discord.text_of(page)
    assert "note number 7" in first and "note number 3" in first
    assert "note number 2" not in first

    turn = await fake_discord.click(world.member, page, _buttons(page)["▶"])
    second = fake_discord.text_of((await turn.response())["data"])
    assert "note number 2" in second and "note number 1" in second
    assert "note number 3" not in second


async def test_a_member_keeps_at_most_NOTES_MAX_PER_MEMBER_notes(
    start_bot, world, fake_discord, monkeypatch
):
    monkeypatch.setenv("NOTES_MAX_PER_MEMBER", "2")
    await start_bot()
    await _add(fake_discord, world.member, "one")
    await _add(fake_discord, world.member, "two")

    refused = await _add(fake_discord, world.member, "three")
    assert refused["data"]["content"] == (
        "You already keep 2 notes here, the most this server allows. "
        "Delete one with `/note delete` first."
    )
    assert refused["data"]["flags"] & 64
    # Another member's allowance is their own.
    assert (await _add(fake_discord, world.other, "mine"))["data"]["content"].startswith("Saved")


async def test_nobody_else_can_delete_a_note(growmies, world, fake_discord):
    saved = await _add(fake_discord, world.member, "private plan")
    number = saved["data"]["content"].split("#")[1].split(".")[0]

    theirs = await fake_discord.slash(world.other, "note delete", {"note": number})
    assert "no note with that number" in (await theirs.response())["data"]["content"]

    ask = await fake_discord.slash(world.member, "note delete", {"note": number})
    prompt = await ask.wait_original()
    # Even holding the member's own confirmation, another member's click is refused.
    stolen = await fake_discord.click(world.other, prompt, _buttons(prompt)["Delete"])
    assert "isn't yours" in (await stolen.response())["data"]["content"]

    listing = await fake_discord.slash(world.member, "note list")
    assert "private plan" in fake_discord.text_of(await listing.wait_original())


async def test_delete_suggests_the_members_own_notes(growmies, world, fake_discord):
    await _add(fake_discord, world.member, "buy pH test strips")
    await _add(fake_discord, world.member, "check humidity")
    await _add(fake_discord, world.other, "pH of someone else")

    choices = await fake_discord.autocomplete(world.member, "note delete", {"note": "ph"},
                                              focused="note")
    assert [c["name"].split(" · ")[1] for c in choices] == ["buy pH test strips"]


async def test_privacy_export_and_delete_cover_notes(growmies, world, fake_discord):
    await _add(fake_discord, world.member, "remember the seeds")
    await _add(fake_discord, world.other, "not theirs")

    exported = await growmies.services.privacy.export(world.member.id)
    assert [n["text"] for n in exported["notes"]["notes"]] == ["remember the seeds"]

    removed = await growmies.services.privacy.delete(world.member.id)
    assert removed["notes"] == 1
    listing = await fake_discord.slash(world.member, "note list")
    assert "no notes here yet" in (await listing.response())["data"]["content"]
    other = await fake_discord.slash(world.other, "note list")
    assert "not theirs" in fake_discord.text_of(await other.wait_original())
