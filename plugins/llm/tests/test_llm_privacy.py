"""Privacy: a member's words leave every conversation; exports hold only their own."""

from __future__ import annotations

from plugins.llm.conversations import ConversationStore, delete_user_data, export_user_data
from plugins.llm.models import LLMConversation, LLMMessage, LLMUsage
from plugins.llm.service import ChatRequest
from plugins.llm.tests.conftest import GUILD, MEMBER, Harness, ListSink

GUEST = MEMBER + 1


async def say(h: Harness, user: int, text: str, conversation: LLMConversation) -> None:
    prepared = await h.service.prepare(ChatRequest(GUILD, user, text, conversation=conversation))
    await h.service.respond(prepared, ListSink())


async def shared_thread(h: Harness) -> LLMConversation:
    """MEMBER starts a conversation; GUEST, a verified member too, joins in."""
    conversation = await ConversationStore().start(guild_id=GUILD, user_id=MEMBER,
                                                   channel_id=999, title="starter's question")
    await say(h, MEMBER, "starter's question", conversation)
    await say(h, GUEST, "guest's secret", conversation)
    await say(h, MEMBER, "starter again", conversation)
    return conversation


async def test_deleting_a_guests_data_removes_their_words_from_others_threads(
        harness: Harness) -> None:
    conversation = await shared_thread(harness)
    await delete_user_data(GUEST)
    rows = await LLMMessage.filter(conversation_id=conversation.id).order_by("id").values_list(
        "user_id", "role", "content")
    assert all(user != GUEST for user, _, _ in rows)
    assert not any("guest's secret" in content for _, _, content in rows)
    # The answer to the guest (it may quote them) lost its text; the starter's turns stay.
    assert [c for _, role, c in rows if role == "user"] == ["starter's question",
                                                            "starter again"]
    assert "You said: starter's question" in [c for _, _, c in rows]
    assert await LLMUsage.filter(user_id=GUEST).exists(), "counters are kept"


async def test_a_starters_export_holds_only_their_own_messages(harness: Harness) -> None:
    await shared_thread(harness)
    exported = await export_user_data(MEMBER)
    messages = exported["conversations"][0]["messages"]
    assert [m["content"] for m in messages] == [
        "starter's question", "You said: starter's question", "starter again",
        "You said: starter again"]
    assert "guest's secret" not in str(exported)

    guest = await export_user_data(GUEST)
    (joined,) = guest["conversations"]
    assert not joined["started_by_you"] and joined["title"] == ""
    assert [m["content"] for m in joined["messages"]] == ["guest's secret",
                                                          "You said: guest's secret"]
    assert "starter" not in str(guest)
