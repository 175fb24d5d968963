"""Restart-proof components: state in the database, ownership, expiry, races, and the blocks
(paginator, confirmation, multi-step form, large select, autocomplete)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.components.autocomplete import clean_query, clip_choices
from bot.components.confirm import ask_confirmation
from bot.components.forms import FormField, FormSpec, FormStep, start_form
from bot.components.select import Option, send_large_select
from bot.contract import stateless
from bot.models import ComponentState
from tests.probe_plugin import ProbePlugin, registry_with


def _ids(message):
    return [c["custom_id"] for row in message["components"] for c in row["components"]
            if "custom_id" in c]


def _find(message, action):
    return next(cid for cid in _ids(message) if f":{action}:" in cid)


async def test_paginator_keeps_working_after_a_restart(start_bot, world, fake_discord):
    probe = ProbePlugin()
    running = await start_bot(registry=registry_with(probe))
    ix = await fake_discord.slash(world.member, "probe pages")
    message = await ix.wait_original()
    assert "Page 1 of 10" in fake_discord.text_of(message)
    await running.stop()

    probe2 = ProbePlugin()
    await start_bot(registry=registry_with(probe2))
    click = await fake_discord.click(world.member, message, _find(message, "pg.next"))
    resp = await click.response()
    assert resp["type"] == 7
    assert "Page 2 of 10" in fake_discord.text_of(resp["data"])
    assert "11\n12" in fake_discord.text_of(resp["data"])
    # Only the requested page was rendered, never the whole source.
    assert probe2.rows.rendered == [1]

    last = await fake_discord.click(world.member, message, _find(message, "pg.last"))
    assert "Page 10 of 10" in fake_discord.text_of((await last.response())["data"])


async def test_paginator_jump_modal_validates_the_page(start_bot, world, fake_discord):
    await start_bot(registry=registry_with(ProbePlugin()))
    ix = await fake_discord.slash(world.member, "probe pages")
    message = await ix.wait_original()
    jump = await fake_discord.click(world.member, message, _find(message, "pg.jump"))
    modal = (await jump.response())["data"]
    assert (await jump.response())["type"] == 9
    goto = modal["custom_id"]
    bad = await fake_discord.submit_modal(world.member, goto, {"page": "abc"}, message=message)
    assert "page number" in (await bad.response())["data"]["content"]
    good = await fake_discord.submit_modal(world.member, goto, {"page": "7"}, message=message)
    assert "Page 7 of 10" in fake_discord.text_of((await good.response())["data"])


async def test_same_button_pressed_twice_at_once_has_one_effect(start_bot, world, fake_discord):
    probe = ProbePlugin()
    probe.click_barrier = asyncio.Barrier(2)
    await start_bot(registry=registry_with(probe))
    ix = await fake_discord.slash(world.member, "probe button")
    message = await ix.wait_original()
    cid = _find(message, "count")
    a, b = await asyncio.gather(fake_discord.click(world.member, message, cid),
                                fake_discord.click(world.member, message, cid))
    responses = await asyncio.gather(a.response(), b.response())
    state = await ComponentState.get(id=cid.split(":")[2])
    assert state.data == {"n": 1}
    assert probe.calls == ["count:1"]
    contents = sorted(str(r["data"].get("content")) for r in responses)
    assert contents == ["That was already handled.", "counter 1"]


async def test_click_after_expiry_says_how_to_get_a_fresh_one(
    start_bot, world, fake_discord, monkeypatch
):
    from bot.components import store

    await start_bot(registry=registry_with(ProbePlugin()))
    ix = await fake_discord.slash(world.member, "probe button")
    message = await ix.wait_original()
    cid = _find(message, "count")
    # A day and an hour later (the control lived 24 h).
    later = datetime.now(UTC) + timedelta(hours=25)
    monkeypatch.setattr(store, "utcnow", lambda: later)
    click = await fake_discord.click(world.member, message, cid)
    content = (await click.response())["data"]["content"]
    assert "expired" in content and "run the command again" in content


async def test_expired_states_are_cleaned_up(db):
    from bot.components.store import ComponentStore

    store = ComponentStore()
    old = await store.create("probe", "x", ttl=timedelta(seconds=-1))
    fresh = await store.create("probe", "x")
    assert await store.cleanup() == 1
    assert await ComponentState.filter(id=old.id).exists() is False
    assert await ComponentState.filter(id=fresh.id).exists()


async def test_a_live_control_costs_no_read_and_one_write_only_when_state_changes(db):
    from tortoise import Tortoise

    from bot.components.store import ComponentStore

    store = ComponentStore()
    state = await store.create("probe", "x", {"n": 0})
    conn = Tortoise.get_connection("default")
    seen: list[str] = []
    originals = {name: getattr(conn, name) for name in ("execute_query", "execute_query_dict")}

    def counting(original):
        async def run(query, values=None):
            seen.append(query)
            return await original(query, values)
        return run

    for name, original in originals.items():
        setattr(conn, name, counting(original))
    try:
        loaded = await store.load(state.id)
        assert loaded is not None and seen == [], "a control this process made is cached"
        store.count_click(loaded.id)
        assert seen == []
        assert await store.advance(loaded, {"n": 1})
        assert len(seen) == 1 and seen[0].startswith("UPDATE")
        # After a restart the cache is empty: one read, then cached again.
        restarted = ComponentStore()
        again = await restarted.load(state.id)
        assert again is not None and again.data == {"n": 1} and len(seen) == 2
        assert await restarted.load(state.id) is not None and len(seen) == 2
    finally:
        for name, original in originals.items():
            setattr(conn, name, original)
    # Two clicks: the counted one rode along with the second click's write.
    await store.flush_clicks()
    assert (await ComponentState.get(id=state.id)).interactions == 2


async def test_a_row_changed_by_another_process_is_re_read_and_the_click_applied_once(db):
    from bot.components.store import ComponentStore, StaleState

    here, there = ComponentStore(), ComponentStore()
    state = await here.create("probe", "x", {"n": 0})
    # The other process advances the control while this one holds a cached copy.
    theirs = await there.load(state.id)
    assert await there.advance(theirs, {"n": 1})
    mine = await here.load(state.id)
    with pytest.raises(StaleState):
        await here.advance(mine, {"n": mine.data["n"] + 1})
    fresh = await here.load(state.id, fresh=True)
    assert fresh.data == {"n": 1}
    assert await here.advance(fresh, {"n": fresh.data["n"] + 1})
    assert (await ComponentState.get(id=state.id)).data == {"n": 2}


async def test_confirmation_runs_once_and_cancel_runs_nothing(start_bot, world, fake_discord):
    running = await start_bot(registry=registry_with(ProbePlugin()))
    bot = running.bot
    done: list[dict] = []

    async def on_confirm(ctx, payload):
        done.append(payload)
        await ctx.send("deleted")

    bot.services.blocks.callback("probe.delete", on_confirm)

    async def ask(interaction):
        await ask_confirmation(bot, interaction, plugin="probe", prompt="Delete it?",
                               callback="probe.delete", payload={"what": 1})

    fake_ix = await fake_discord.slash(world.member, "probe button")
    await fake_ix.response()
    # Drive the block directly from a real interaction: reuse the verify button handler.
    bot.register_component_handlers(
        "probe", {"verify": stateless(lambda ctx: ask(ctx.interaction))})
    prompt_ix = await fake_discord.click(world.member, await fake_ix.wait_original(),
                                         "probe:verify")
    prompt = (await prompt_ix.response())["data"]
    yes = next(c["custom_id"] for c in prompt["components"][0]["components"]
               if "cf.yes" in c["custom_id"])
    msg = {"id": prompt_ix.id, "components": prompt["components"], "channel_id":
           world.channel.id}
    first, second = await asyncio.gather(fake_discord.click(world.member, msg, yes),
                                         fake_discord.click(world.member, msg, yes))
    await asyncio.gather(first.response(), second.response())
    assert done == [{"what": 1}]
    stranger = await fake_discord.click(world.other, msg, yes)
    assert "isn't yours" in (await stranger.response())["data"]["content"]


async def test_multi_step_form_validates_each_step_and_survives_a_restart(
    start_bot, world, fake_discord
):
    def positive(raw: str) -> int:
        if not raw.isdigit() or int(raw) <= 0:
            raise ValueError("enter a whole number above 0")
        return int(raw)

    spec = FormSpec(
        name="probe.plan", title="Plan", on_complete="probe.plan.done",
        steps=(FormStep("About you", (FormField("name", "Name", max_length=20),)),
               FormStep("Numbers", (FormField("count", "How many", validate=positive),))),
    )
    results: list[dict] = []

    async def done(ctx, result):
        results.append(result["answers"])
        await ctx.send("plan saved")

    def install(bot):
        bot.services.blocks.form(spec)
        bot.services.blocks.callback("probe.plan.done", done)
        bot.register_component_handlers(
            "probe", {"verify": stateless(lambda ctx: start_form(
                bot, ctx.interaction, plugin="probe", form="probe.plan"))})

    running = await start_bot(registry=registry_with(ProbePlugin()))
    install(running.bot)
    ix = await fake_discord.slash(world.member, "probe button")
    start = await fake_discord.click(world.member, await ix.wait_original(), "probe:verify")
    modal = (await start.response())["data"]
    sid_cid = modal["custom_id"]

    missing = await fake_discord.submit_modal(world.member, sid_cid, {"name": ""})
    assert "Name** is required" in (await missing.response())["data"]["content"]
    step1 = await fake_discord.submit_modal(world.member, sid_cid, {"name": "Bob"})
    progress = (await step1.response())["data"]
    assert "step 2 of 2" in progress["content"]

    await running.stop()  # abandoned half-way...
    running = await start_bot(registry=registry_with(ProbePlugin()))
    install(running.bot)  # ...and resumed after a restart
    cont = next(c["custom_id"] for c in progress["components"][0]["components"]
                if "fm.open" in c["custom_id"])
    msg = {"id": step1.id, "components": progress["components"], "channel_id":
           world.channel.id}
    reopen = await fake_discord.click(world.member, msg, cont)
    assert (await reopen.response())["type"] == 9
    bad = await fake_discord.submit_modal(world.member, sid_cid, {"count": "-3"}, message=msg)
    assert "whole number" in (await bad.response())["data"]["content"]
    oversized = await fake_discord.submit_modal(world.member, sid_cid, {"count": "9" * 5000},
                                                message=msg)
    assert "too long" in (await oversized.response())["data"]["content"]
    good = await fake_discord.submit_modal(world.member, sid_cid, {"count": "3"}, message=msg)
    await good.response()
    assert results == [{"name": "Bob", "count": 3}]


async def test_large_select_pages_and_filters_past_25_options(start_bot, world, fake_discord):
    running = await start_bot(registry=registry_with(ProbePlugin()))
    bot = running.bot
    picked: list[str] = []

    async def on_pick(ctx, result):
        picked.append(result["value"])
        await ctx.send(f"you picked {result['value']}")

    bot.services.blocks.callback("probe.pick", on_pick)
    options = [Option(f"Strain {i:03d}", f"s{i}") for i in range(60)]
    bot.register_component_handlers("probe", {"verify": stateless(lambda ctx: send_large_select(
        bot, ctx.interaction, plugin="probe", options=options, callback="probe.pick"))})
    ix = await fake_discord.slash(world.member, "probe button")
    opened = await fake_discord.click(world.member, await ix.wait_original(), "probe:verify")
    data = (await opened.response())["data"]
    select = data["components"][0]["components"][0]
    assert len(select["options"]) == 25
    msg = {"id": opened.id, "components": data["components"], "channel_id": world.channel.id}
    nxt = await fake_discord.click(world.member, msg, _find(msg, "sl.next"))
    page2 = (await nxt.response())["data"]
    assert page2["components"][0]["components"][0]["options"][0]["label"] == "Strain 025"
    find = await fake_discord.click(world.member, msg, _find(msg, "sl.find"))
    modal = (await find.response())["data"]
    flt = await fake_discord.submit_modal(world.member, modal["custom_id"], {"q": "05"},
                                          message=msg)
    filtered = (await flt.response())["data"]
    labels = [o["label"] for o in filtered["components"][0]["components"][0]["options"]]
    assert labels == ["Strain 005", "Strain 050", "Strain 051", "Strain 052", "Strain 053",
                      "Strain 054", "Strain 055", "Strain 056", "Strain 057", "Strain 058",
                      "Strain 059"]
    pick = await fake_discord.select(world.member, msg, select["custom_id"], ["s50"])
    await pick.response()
    assert picked == ["s50"]
    forged = await fake_discord.select(world.member, msg, select["custom_id"], ["s999"])
    assert "expired" in (await forged.response())["data"]["content"]


def test_autocomplete_helpers_keep_discords_limits():
    assert clean_query("  Blue\u200b  Dream\x00 " + "x" * 300) .startswith("Blue Dream")
    assert len(clean_query("y" * 200)) == 100
    assert clean_query("ｂｌｕｅ") == "blue"
    choices = clip_choices([(f"n{i}" * 60, f"v{i}") for i in range(40)])
    assert len(choices) == 25
    assert all(len(k) <= 100 and len(v) <= 100 for k, v in choices.items())
