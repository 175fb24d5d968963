"""The model searches the knowledge base itself through tool calls in a stream; the bot runs
the search, sends the results back and the streamed answer cites what it used. Bad tool
arguments become an error result, a model that keeps asking is bounded, and an endpoint
without tools gets today's retrieval."""

from __future__ import annotations

import json
from typing import Any

from growmies_testkit.fake_openai import DEFAULT_MODEL
from plugins.llm.kb_tool import MAX_TOOL_ROUNDS, TOOL_NAME
from plugins.llm.models import CannabisKnowledgeBase, LLMUsage
from plugins.llm.safety import REFUSAL
from plugins.llm.tests.test_llm_discord import probe, start_llm, verify

__all__ = ["probe", "start_llm"]  # fixtures shared with the Discord-level suite

QUESTION = {"question": "How much can I possess in NJ?"}
KNOWLEDGE_HEADER = "Knowledge base entries approved by the community admins:"


async def ask_legal(fake_discord: Any, member: Any) -> dict[str, Any]:
    ix = await fake_discord.slash(member, "ask legal", QUESTION)
    await ix.response()
    return await ix.wait_original(lambda m: "not legal advice" in m["content"]
                                  or REFUSAL in m["content"])


def stuffed(body: dict[str, Any]) -> bool:
    return any(KNOWLEDGE_HEADER in (m.get("content") or "") for m in body["messages"])


async def test_model_searches_the_knowledge_base_and_the_answer_cites_it(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(tools=True)
    verify(probe, world.member)
    entry = await CannabisKnowledgeBase.get(seed_key="nj-possession-limits")
    call_id = fake_openai.tool_call(TOOL_NAME, {"query": "possession limits",
                                                "category": "legal"})
    fake_openai.reply(f"Adults 21+ may possess up to 6 ounces [KB {entry.id}].")
    final = await ask_legal(fake_discord, world.member)

    first, second = fake_openai.chat_requests
    # Offered as a tool, streamed, and no entries stuffed into the prompt.
    assert first["stream"] is True and not stuffed(first)
    assert first["tools"][0]["function"]["name"] == TOOL_NAME
    assert first["tools"][0]["function"]["parameters"]["required"] == ["query"]
    # The follow-up carries the call the model made and the search's result.
    asked = [m for m in second["messages"] if m.get("tool_calls")]
    assert asked[0]["tool_calls"][0]["id"] == call_id
    (result,) = fake_openai.tool_results(second)
    assert result["tool_call_id"] == call_id
    found = json.loads(result["content"])["results"]
    assert found[0]["id"] == entry.id and found[0]["cite_as"] == f"[KB {entry.id}]"
    assert found[0]["stale"] is False and found[0]["last_verified"]
    assert all(r["category"] == "legal" for r in found)

    assert "6 ounces" in final["content"] and "**Sources**" in final["content"]
    assert f"[KB {entry.id}] New Jersey possession and purchase limits" in final["content"]
    assert "last verified" not in final["content"]  # fresh: no date
    assert (await CannabisKnowledgeBase.get(id=entry.id)).usage_count == 1
    usage = await LLMUsage.get(user_id=world.member.id)
    assert usage.reserved_tokens == 0 and usage.prompt_tokens > 0


async def test_arguments_the_schema_rejects_go_back_to_the_model_as_an_error(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(tools=True)
    verify(probe, world.member)
    fake_openai.tool_call(TOOL_NAME, '{"query": 42, "drop": "table"}')
    fake_openai.tool_call(TOOL_NAME, '{"query": "possession", ')  # cut-off JSON
    fake_openai.tool_call("delete_everything", {"query": "x"})
    fake_openai.reply("Sorry, I could not search; in general, 6 ounces.")
    final = await ask_legal(fake_discord, world.member)

    errors = [json.loads(fake_openai.tool_results(body)[-1]["content"])["error"]
              for body in fake_openai.chat_requests[1:]]
    assert "unknown argument(s): drop" in errors[0]
    assert "arguments are not valid JSON" in errors[1]
    assert "unknown tool 'delete_everything'" in errors[2]
    assert "in general, 6 ounces" in final["content"] and "**Sources**" not in final["content"]


async def test_a_model_that_keeps_asking_for_the_tool_is_bounded(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(tools=True)
    verify(probe, world.member)
    for _ in range(MAX_TOOL_ROUNDS + 2):
        fake_openai.tool_call(TOOL_NAME, {"query": "possession"})
    final = await ask_legal(fake_discord, world.member)

    requests = fake_openai.chat_requests
    assert len(requests) == MAX_TOOL_ROUNDS + 1
    assert [r.get("tool_choice") for r in requests] == [None] * MAX_TOOL_ROUNDS + ["none"]
    assert len(fake_openai.tool_results(requests[-1])) == MAX_TOOL_ROUNDS
    assert fake_openai.pending == 2  # the model never got to ask again
    assert "You said: How much can I possess in NJ?" in final["content"]
    # Every round was reserved before it was sent, and all of it settled.
    usage = await LLMUsage.get(user_id=world.member.id)
    assert usage.reserved_tokens == 0 and usage.requests == 1


async def test_an_endpoint_without_tools_gets_todays_retrieval(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    fake_openai.no_tools = {DEFAULT_MODEL}
    await start_llm(tools=True)
    verify(probe, world.member)
    final = await ask_legal(fake_discord, world.member)
    refused, retried = fake_openai.chat_records
    assert refused.status == 400 and refused.outcome == "tools_unsupported"
    assert "tools" not in retried.json and stuffed(retried.json)
    assert "**Sources**" in final["content"]

    # Remembered: the next question goes straight to context stuffing.
    await ask_legal(fake_discord, world.member)
    assert len(fake_openai.chat_requests) == 3 and "tools" not in fake_openai.chat_requests[2]


async def test_compliance_still_checks_the_reply_after_a_tool_call(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(tools=True)
    verify(probe, world.member)
    fake_openai.tool_call(TOOL_NAME, {"query": "driving"})
    fake_openai.reply("It's fine to drive high after an edible. Enjoy!")
    final = await ask_legal(fake_discord, world.member)
    assert final["content"].endswith(REFUSAL) and "drive high" not in final["content"]


GROW_QUESTION = "Home grow: can I grow plants from seeds, and what is the possession limit?"


async def grow_entry(guild_id: int) -> CannabisKnowledgeBase:
    return await CannabisKnowledgeBase.create(
        guild_id=guild_id, category="cultivation", title="Home grow basics: plants and seeds",
        content="Start seeds in small pots; home grow plants need 18 hours of light.",
        tags="home grow, seeds, plants", status="approved")


async def test_a_legal_conversations_tool_search_never_returns_grow_entries(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    from plugins.llm.tests.test_llm_conversation_types import finished

    await start_llm(tools=True)
    verify(probe, world.member)
    await grow_entry(world.guild.id)
    # The model searches with words only grow entries match, then asks for the grow
    # category outright; a legal conversation searches legal and safety entries only.
    fake_openai.tool_call(TOOL_NAME, {"query": "home grow plants seeds cultivation possession",
                                      "limit": 5})
    fake_openai.tool_call(TOOL_NAME, {"query": "home grow", "category": "cultivation"})
    fake_openai.reply("Home cultivation is not allowed for recreational users.")
    ix = await fake_discord.slash(world.member, "chat new",
                                  {"message": GROW_QUESTION, "type": "legal"})
    await ix.response()
    thread = world.guild.threads[0]
    await fake_discord.wait_for_message(thread, finished("Home cultivation is not"), since=0)

    results = [json.loads(r["content"]) for r in
               fake_openai.tool_results(fake_openai.chat_requests[-1])]
    assert len(results) == 2
    assert results[0]["results"] and {r["category"] for r in results[0]["results"]} <= {
        "legal", "safety"}
    assert results[1] == {"results": [], "note": "category out of scope"}
    grow_ids = set(await CannabisKnowledgeBase.filter(category="cultivation").values_list(
        "id", flat=True))
    assert grow_ids and not grow_ids & {r["id"] for r in results[0]["results"]}


async def test_without_tools_the_fallback_keeps_the_conversations_scope(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    from plugins.llm.tests.test_llm_conversation_types import cited_categories

    fake_openai.no_tools = {DEFAULT_MODEL}
    await start_llm(tools=True)
    verify(probe, world.member)
    await grow_entry(world.guild.id)
    ix = await fake_discord.slash(world.member, "ask legal", {"question": GROW_QUESTION})
    await ix.response()
    await ix.wait_original(lambda m: "not legal advice" in m["content"])
    refused, retried = fake_openai.chat_records
    assert refused.status == 400 and stuffed(retried.json)
    assert cited_categories(retried.json) and cited_categories(retried.json) <= {
        "legal", "safety"}


async def test_a_llama_cpp_server_without_jinja_gets_todays_retrieval(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    # llama.cpp's server started without --jinja answers a request with tools with a 500;
    # the SDK retries it (twice), then the turn goes on with entries in the prompt.
    for _ in range(3):
        fake_openai.error(500, message="tools param requires --jinja flag",
                          type="server_error")
    await start_llm(tools=True)
    verify(probe, world.member)
    final = await ask_legal(fake_discord, world.member)
    *refused, retried = fake_openai.chat_records
    assert [r.status for r in refused] == [500, 500, 500] and all(
        "tools" in r.json for r in refused)
    assert "tools" not in retried.json and stuffed(retried.json)
    assert "**Sources**" in final["content"] and "⚠️" not in final["content"]
    # Remembered: the next question goes straight to entries in the prompt.
    await ask_legal(fake_discord, world.member)
    assert len(fake_openai.chat_requests) == 5 and "tools" not in fake_openai.chat_requests[4]
