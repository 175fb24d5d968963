"""Quizzes end to end: answering, score and XP, double presses, strangers, limits, /quiz add."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from bot.api import ControlExpired, UserError
from bot.models import AuditLog
from plugins.ui import quiz
from plugins.ui.models import QuizAnswer, QuizAttempt, QuizQuestion
from plugins.ui.quiz_components import on_answer
from plugins.ui.tests.conftest import custom_ids, embed_text


async def _question_of(message) -> QuizQuestion:
    title = message["embeds"][0]["description"].rsplit("**", 2)[-2]
    return await QuizQuestion.get(question=title)


def _button_for(message, text: str) -> str:
    for row in message["components"]:
        for comp in row["components"]:
            if comp["label"].split(". ", 1)[1] == text:
                return comp["custom_id"]
    raise AssertionError(f"no button {text!r}")


async def test_a_full_quiz_scores_and_awards_xp(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "quiz start", {"category": "nj_law"})
    message = await ix.wait_original()
    assert ix.ephemeral and "question 1 of 5" in embed_text(message)
    assert len(custom_ids(message)) == 4
    for number in range(5):
        current = fake_discord.get_message(message["id"])
        question = await _question_of(current)
        answer = question.correct if number != 2 else question.wrong[0]
        click = await fake_discord.click(world.member, current, _button_for(current, answer))
        resp = await click.response()
        assert resp["type"] == 7
    final = fake_discord.get_message(message["id"])
    text = embed_text(final)
    assert "Quiz finished: 4/5 correct" in text and "+40 XP" in text
    assert custom_ids(final) == []
    assert ui_bot.providers.awards == [(world.guild.id, world.member.id, 40, "ui.quiz")]
    attempt = await QuizAttempt.get(user_id=world.member.id)
    assert attempt.finished and attempt.score == 4
    assert await QuizAnswer.filter(attempt_id=attempt.id).count() == 5
    finished = await AuditLog.get(action="ui.quiz.finished", actor_id=world.member.id)
    assert finished.details["score"] == 4


async def test_answer_pressed_twice_counts_once(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "quiz start")
    message = await ix.wait_original()
    first = custom_ids(message)[0]
    a, b = await asyncio.gather(fake_discord.click(world.member, message, first),
                                fake_discord.click(world.member, message, first))
    responses = await asyncio.gather(a.response(), b.response())
    assert sorted(r["type"] for r in responses) == [4, 7]
    refusal = next(r for r in responses if r["type"] == 4)["data"]["content"]
    assert refusal in {"That was already handled.", "You already answered that question."}
    assert next(a_or_b for a_or_b in (a, b) if a_or_b.responses[0]["type"] == 4).ephemeral
    assert await QuizAnswer.filter(user_id=world.member.id).count() == 1


async def test_someone_not_taking_the_quiz_cannot_answer(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "quiz start")
    message = await ix.wait_original()
    for stranger in (world.admin, world.other):
        click = await fake_discord.click(stranger, message, custom_ids(message)[0])
        resp = (await click.response())["data"]
        assert click.ephemeral and "isn't yours" in resp["content"]
    assert await QuizAnswer.all().count() == 0


async def test_daily_attempt_limit_and_age_gate(ui_bot, world, fake_discord):
    for _ in range(quiz.DAILY_ATTEMPTS):
        ok = await fake_discord.slash(world.member, "quiz start")
        await ok.wait_original()
    refused = await fake_discord.slash(world.member, "quiz start")
    assert "used your 3 quiz attempts for today" in (await refused.response())["data"]["content"]
    assert refused.ephemeral
    underage = await fake_discord.slash(world.other, "quiz start")
    assert "Verify your age" in (await underage.response())["data"]["content"]
    assert await QuizAttempt.filter(user_id=world.other.id).count() == 0


async def test_simultaneous_starts_respect_the_daily_limit(ui_bot, world, fake_discord):
    starts = await asyncio.gather(*(fake_discord.slash(world.member, "quiz start")
                                    for _ in range(quiz.DAILY_ATTEMPTS + 2)))
    responses = await asyncio.gather(*(ix.response() for ix in starts))
    refused = [r for r in responses if "attempts for today" in str(r["data"].get("content"))]
    assert len(refused) == 2
    assert await QuizAttempt.filter(user_id=world.member.id).count() == quiz.DAILY_ATTEMPTS


async def test_quiz_add_is_for_admins_only(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.member, "quiz add")
    resp = await ix.response()
    assert ix.ephemeral and "Manage Server" in resp["data"]["content"]
    assert await QuizQuestion.filter(guild_id=world.guild.id).count() == 0


async def test_admin_adds_a_question_that_then_appears_in_quizzes(ui_bot, world, fake_discord):
    ix = await fake_discord.slash(world.admin, "quiz add")
    modal = (await ix.response())["data"]
    fields = {
        "question": "What does CRC stand for in New Jersey?",
        "correct": "Cannabis Regulatory Commission",
        "wrong": "Cannabis Retail Council\nCentral Review Court",
        "category": "astrology",
        "explanation": "",
    }
    bad = await fake_discord.submit_modal(world.admin, modal["custom_id"], fields)
    assert "category must be one of" in (await bad.response())["data"]["content"]
    fix = custom_ids((await bad.response())["data"])[0]
    reopen = await fake_discord.click(world.admin, await bad.wait_original(), fix)
    again = (await reopen.response())["data"]
    done = await fake_discord.submit_modal(world.admin, again["custom_id"],
                                           {**fields, "category": "nj law"})
    assert "Added question" in (await done.response())["data"]["content"]
    row = await QuizQuestion.get(guild_id=world.guild.id)
    assert row.category == "nj_law" and row.wrong == ["Cannabis Retail Council",
                                                      "Central Review Court"]
    assert await AuditLog.filter(action="ui.quiz.question_added").count() == 1


async def test_stale_or_forged_answer_buttons_change_nothing():
    """A button of an already answered question (an old client view) or a forged arg is refused
    before any state is touched: the handler never reaches ctx.advance."""
    question = {"id": 1, "category": "safety", "question": "Q?", "choices": ["a", "b"],
                "correct": 0, "explanation": ""}
    data = {"attempt": 1, "questions": [question, question], "index": 1, "score": 1}

    def ctx(arg: str, **extra: object) -> SimpleNamespace:
        return SimpleNamespace(state=object(), data={**data, **extra},
                               custom_id=SimpleNamespace(arg=arg))

    # Refused before the next question's buttons are built, so no custom_ids are needed.
    no_components = None

    with pytest.raises(UserError, match="already answered"):
        await on_answer(ctx("0.1"), no_components)
    with pytest.raises(UserError, match="quiz is over"):
        await on_answer(ctx("1.0", done=True), no_components)
    for forged in ("x", "1.9", "1", "1.0.0"):
        with pytest.raises(ControlExpired):
            await on_answer(ctx(forged), no_components)
