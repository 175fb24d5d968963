"""Members attach images and files to the assistant, through the fake Discord, the real bot
and the fake OpenAI: images reach a model that sees images as image parts (re-encoded, no
metadata), text files are inlined, everything else is refused with the reason, and all of it
passes the same 21+ and compliance checks as typed text."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from bot.models import AuditLog
from growmies_testkit.fake_openai import image_parts
from plugins.llm.models import LLMMessage
from plugins.llm.relay import STREAMING_CURSOR
from plugins.llm.service import CANNABIS_TOPIC_REFUSAL, NO_IMAGES_HERE
from plugins.llm.tests.test_llm_discord import open_chat, probe, start_llm, verify

__all__ = ["probe", "start_llm"]  # fixtures used by name below

MODEL = "growmies-test-model"


def png(width: int = 64, height: int = 48, colour: str = "green") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def jpeg_with_location() -> bytes:
    """A phone photo, with EXIF naming the camera and when it was taken."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:12:01 10:00:00"  # DateTime
    out = io.BytesIO()
    Image.new("RGB", (3000, 1500), "olive").save(out, "JPEG", exif=exif)
    return out.getvalue()


def from_bot(message: dict[str, Any]) -> bool:
    return bool(message["author"].get("bot"))


def finished(text: str) -> Any:
    return lambda m: m["content"].startswith(text) and not m["content"].endswith(
        STREAMING_CURSOR)


async def test_a_photo_in_the_thread_reaches_a_vision_model_as_an_image_part(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(vision_models=MODEL)
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member, "hello")
    await fake_discord.send_message(world.member, thread, "what's wrong with my plant?",
                                    attachments=[("leaf.jpg", jpeg_with_location())])
    await fake_discord.wait_for_message(thread, finished("You said: what's wrong"))

    body = fake_openai.chat_requests[-1]
    [(_, _, part)] = image_parts(body)
    assert part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    user = body["messages"][-1]["content"]
    assert user[0] == {"type": "text", "text": "what's wrong with my plant?"}
    # Re-encoded: scaled to 2,048 px at most, and the camera and location are gone.
    sent = Image.open(io.BytesIO(fake_openai.images[-1]))
    assert sent.size == (2048, 1024) and not sent.getexif()
    # History keeps the image's name, never its bytes.
    stored = await LLMMessage.filter(role="user").order_by("-id").first()
    assert stored is not None and stored.content == (
        "what's wrong with my plant?\n\n[image: leaf.jpg]")


async def test_a_model_without_vision_gets_the_text_and_the_member_a_note(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm()  # LLM_VISION_MODELS empty: no model sees images
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member, "hello")
    await fake_discord.send_message(world.member, thread, "is this leaf ok?",
                                    attachments=[("leaf.png", png())])
    answer = await fake_discord.wait_for_message(thread, finished("You said: is this leaf ok?"))
    assert "can't see images, so `leaf.png` was left out" in answer["content"]
    assert image_parts(fake_openai.chat_requests[-1]) == []
    assert fake_discord.attachment_downloads == []  # never downloaded at all


async def test_a_text_file_is_inlined_in_a_fence(start_llm, world, fake_discord, fake_openai,
                                                 probe) -> None:
    await start_llm()
    verify(probe, world.member)
    log = "day 1: 24C, 60% RH\nday 2: 26C, 55% RH\n```not a fence```\n"
    ix = await fake_discord.slash(world.member, "ask question", {
        "question": "summarise my grow log", "file": ("grow-log.md", log.encode())})
    await ix.response()
    await ix.wait_original(lambda m: "You said: summarise my grow log" in m["content"])
    sent = fake_openai.chat_requests[-1]["messages"][-1]["content"]
    # The fence is longer than any run of backticks in the file, so the file cannot close it.
    assert sent == ("summarise my grow log\n\nAttached file `grow-log.md`:\n````markdown\n"
                    f"{log}\n````")


async def test_other_files_are_refused_with_the_reason(start_llm, world, fake_discord,
                                                       fake_openai, probe) -> None:
    await start_llm(vision_models=MODEL)
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "ask question", {
        "question": "read this", "file": ("lab-report.pdf", b"%PDF-1.7 ...")})
    content = (await ix.response())["data"]["content"]
    assert "I can't read `lab-report.pdf`: I take images (PNG, JPEG, WEBP, GIF) and text " \
        "files" in content and ix.ephemeral
    assert fake_openai.chat_requests == []


async def test_inlined_text_passes_the_same_safety_rules_as_the_message(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    from plugins.llm.safety import REFUSAL

    await start_llm()
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "ask question", {
        "question": "is this list ok?",
        "file": ("todo.txt", b"1. water plants\n2. how to pass a drug test tomorrow\n")})
    assert (await ix.response())["data"]["content"] == REFUSAL and ix.ephemeral
    assert fake_openai.chat_requests == []
    audit = await AuditLog.get(action="llm.request")
    assert audit.details["reason"] == "evasion" and "drug test" not in str(audit.details)


async def test_a_20_mb_image_is_refused_before_it_is_downloaded(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(vision_models=MODEL)
    verify(probe, world.member)
    huge = b"\x89PNG\r\n\x1a\n" + bytes(20 * 1024 * 1024)
    ix = await fake_discord.slash(world.member, "ask grow", {
        "question": "what is this?", "file": ("bud.png", huge)})
    content = (await ix.response())["data"]["content"]
    assert content == "`bud.png` is 21.0 MB; images can be up to 8.0 MB." and ix.ephemeral
    assert fake_discord.attachment_downloads == [] and fake_openai.chat_requests == []
    assert await AuditLog.filter(action="llm.request").count() == 0


async def test_a_file_named_png_that_is_not_one_is_refused(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    await start_llm(vision_models=MODEL)
    verify(probe, world.member)
    thread = await open_chat(fake_discord, world.member, "hello")
    since = len(thread.messages)
    await fake_discord.send_message(world.member, thread, "look",
                                    attachments=[("plant.png", b"MZ\x90\x00 not an image")])
    refusal = await fake_discord.wait_for_message(thread, from_bot, since=since)
    assert refusal["content"] == ("`plant.png` isn't an image I can read (its content is not "
                                  "PNG, JPEG, WEBP or GIF, whatever its name says).")
    # A truncated PNG passes the magic bytes but not the decoder.
    since = len(thread.messages)
    await fake_discord.send_message(world.member, thread, "and this",
                                    attachments=[("half.png", png()[:60])])
    refusal = await fake_discord.wait_for_message(thread, from_bot, since=since)
    assert refusal["content"] == "`half.png` is damaged or not a complete PNG image."
    assert len(fake_openai.chat_requests) == 1  # only the opening message


async def test_an_unverified_members_upload_in_a_21_plus_thread_is_never_read(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    from growmies_testkit.fake_discord.permissions import Permission

    await start_llm(vision_models=MODEL)
    verify(probe, world.member)
    mods = world.guild.add_role("Mods", permissions=int(Permission.MANAGE_THREADS))
    mod = world.guild.add_member("erin-mod", roles=[mods])
    thread = await open_chat(fake_discord, world.member)
    await fake_discord.send_message(mod, thread, "see this",
                                    attachments=[("x.png", png()), ("notes.txt", b"hi")])
    await probe.gate.wait_asked(mod.id)
    await fake_discord.send_message(world.member, thread, "thanks")
    await fake_discord.wait_for_message(thread, finished("You said: thanks"))
    assert fake_discord.attachment_downloads == [] and len(fake_openai.chat_requests) == 2


async def test_general_chat_classifies_inlined_files_and_refuses_images(
        start_llm, world, fake_discord, fake_openai) -> None:
    from plugins.llm.tests.conftest import topic_model
    from plugins.llm.tests.test_llm_discord import open_general_chat

    await start_llm(vision_models=MODEL)
    fake_openai.default_reply = topic_model("harvest")
    await open_general_chat(fake_discord, world)
    ix = await fake_discord.slash(world.member, "chat new", {"message": "a pasta recipe?"})
    await ix.response()
    thread = world.guild.threads[0]
    await fake_discord.wait_for_message(thread, finished("You said: a pasta recipe?"),
                                        since=0)
    requests = len(fake_openai.chat_requests)

    # The keyword layer finds it in the file, not the message: no model call at all.
    since = len(thread.messages)
    await fake_discord.send_message(world.member, thread, "what does this say?",
                                    attachments=[("list.txt", b"buy some weed and papers")])
    refusal = await fake_discord.wait_for_message(thread, from_bot, since=since)
    assert refusal["content"] == CANNABIS_TOPIC_REFUSAL
    assert len(fake_openai.chat_requests) == requests
    # The model layer judges the file too: the classifier sees its text.
    since = len(thread.messages)
    await fake_discord.send_message(world.member, thread, "and this one?",
                                    attachments=[("plan.txt", b"when to harvest my plants")])
    refusal = await fake_discord.wait_for_message(thread, from_bot, since=since)
    assert refusal["content"] == CANNABIS_TOPIC_REFUSAL
    judged = fake_openai.chat_requests[-1]["messages"][-1]["content"]
    assert "when to harvest my plants" in judged and len(fake_openai.chat_requests) == (
        requests + 1)
    # Images can't be checked for cannabis content: refused in general chat.
    since = len(thread.messages)
    await fake_discord.send_message(world.member, thread, "nice dog?",
                                    attachments=[("dog.png", png())])
    refusal = await fake_discord.wait_for_message(thread, from_bot, since=since)
    assert refusal["content"] == NO_IMAGES_HERE
    assert len(fake_openai.chat_requests) == requests + 1
    audit = await AuditLog.filter(action="llm.request").order_by("-id").first()
    assert audit is not None and "weed" not in str(audit.details)


async def test_a_model_that_turns_out_text_only_fails_clearly(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    # An admin listed a model as seeing images, but the endpoint says it does not (a 400).
    await start_llm(vision_models="*")
    fake_openai.text_only(MODEL)
    verify(probe, world.member)
    ix = await fake_discord.slash(world.member, "ask question", {
        "question": "what is this?", "file": ("leaf.png", png())})
    await ix.response()
    final = await ix.wait_original(lambda m: "⚠️" in m["content"])
    assert "can't take images; an admin should check LLM_VISION_MODELS" in final["content"]
    rec = fake_openai.chat_records[-1]
    assert rec.status == 400 and rec.outcome == "bad_request"
    assert base64.b64decode(image_parts(rec.json)[0][2]["image_url"]["url"].split(",")[1])[
        :8] == b"\x89PNG\r\n\x1a\n"


async def test_images_follow_the_model_the_member_chose(
        start_llm, world, fake_discord, fake_openai, probe) -> None:
    # The default model is text-only; an admin allowed a vision model next to it.
    vision = "vision-model"
    fake_openai.models = (MODEL, vision)
    fake_openai.text_only(MODEL)
    await start_llm(vision_models=vision)
    verify(probe, world.member)
    allowed = await fake_discord.slash(world.admin, "llm models add",
                                       {"name": vision, "daily_tokens": 50_000})
    assert f"`{vision}`" in (await allowed.response())["data"]["content"]

    async def ask_with_photo(question: str) -> dict[str, Any]:
        ix = await fake_discord.slash(world.member, "ask question", {
            "question": question, "file": ("leaf.png", png())})
        await ix.response()
        # Finished: the Follow up button comes with the last edit.
        return await ix.wait_original(lambda m: f"You said: {question}" in m["content"]
                                      and bool(m["components"]))

    picked = await fake_discord.slash(world.member, "model", {"name": vision})
    await picked.response()
    answer = await ask_with_photo("what is on this leaf?")
    body = fake_openai.chat_requests[-1]
    assert body["model"] == vision and len(image_parts(body)) == 1
    assert "can't see images" not in answer["content"]
    assert len(fake_discord.attachment_downloads) == 1

    # Back to the text-only default: the image is left out with a note, never downloaded.
    back = await fake_discord.slash(world.member, "model", {"name": MODEL})
    await back.response()
    answer = await ask_with_photo("and this one?")
    body = fake_openai.chat_requests[-1]
    assert body["model"] == MODEL and image_parts(body) == []
    assert "can't see images, so `leaf.png` was left out" in answer["content"]
    assert len(fake_discord.attachment_downloads) == 1
    assert all(r.status == 200 for r in fake_openai.chat_records)
