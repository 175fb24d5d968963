"""The quiz bank and quiz attempts: starter questions, daily limits, one answer per question."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from plugins.ui.models import QuizAnswer, QuizAttempt, QuizQuestion
from plugins.ui.strains import DATA_DIR

QUIZ_CATEGORIES = {
    "nj_law": "New Jersey law",
    "safety": "Safety",
    "cultivation": "Cultivation",
    "strains": "Strains",
}
QUESTIONS_PER_QUIZ = 5
DAILY_ATTEMPTS = 3
XP_PER_CORRECT = 10
# A button label holds at most 80 characters; a quiz message at most 5 buttons per row.
MAX_CHOICE = 80
MAX_WRONG = 3


class QuizError(Exception):
    """Something about a quiz the member should be told as is."""


@dataclass(frozen=True)
class NewQuestion:
    category: str
    question: str
    correct: str
    wrong: list[str]
    explanation: str = ""


def parse_category(raw: str) -> str:
    value = raw.strip().casefold().replace(" ", "_")
    aliases = {"law": "nj_law", "nj": "nj_law", "legal": "nj_law", "grow": "cultivation",
               "growing": "cultivation", "strain": "strains"}
    value = aliases.get(value, value)
    if value not in QUIZ_CATEGORIES:
        raise ValueError("category must be one of " + ", ".join(QUIZ_CATEGORIES))
    return value


def parse_wrong_answers(raw: str) -> list[str]:
    lines = [" ".join(line.split()) for line in raw.splitlines()]
    answers = [line for line in lines if line]
    if not 1 <= len(answers) <= MAX_WRONG:
        raise ValueError(f"write 1 to {MAX_WRONG} wrong answers, one per line")
    if any(len(a) > MAX_CHOICE for a in answers):
        raise ValueError(f"each answer fits in {MAX_CHOICE} characters")
    if len({a.casefold() for a in answers}) != len(answers):
        raise ValueError("the wrong answers must differ from each other")
    return answers


def build_question(answers: dict[str, Any]) -> NewQuestion:
    correct = " ".join(str(answers["correct"]).split())
    wrong = list(answers["wrong"])
    if correct.casefold() in {w.casefold() for w in wrong}:
        raise QuizError("The correct answer also appears among the wrong ones.")
    return NewQuestion(
        category=str(answers["category"]), question=" ".join(str(answers["question"]).split()),
        correct=correct, wrong=wrong, explanation=str(answers.get("explanation") or ""),
    )


async def add_question(guild_id: int, actor_id: int, new: NewQuestion) -> QuizQuestion:
    return await QuizQuestion.create(
        guild_id=guild_id, category=new.category, question=new.question[:300],
        correct=new.correct[:MAX_CHOICE], wrong=new.wrong, explanation=new.explanation[:500],
        created_by=actor_id,
    )


async def seed_questions() -> int:
    """Insert shipped starter questions that are missing; returns how many were added."""
    shipped = json.loads((DATA_DIR / "quiz.json").read_text(encoding="utf-8"))
    existing = set(
        await QuizQuestion.filter(guild_id=None).values_list("question", flat=True)
    )
    missing = [q for q in shipped if q["question"] not in existing]
    if missing:
        async with in_transaction():
            await QuizQuestion.bulk_create([
                QuizQuestion(guild_id=None, category=q["category"], question=q["question"],
                             correct=q["correct"], wrong=q["wrong"],
                             explanation=q.get("explanation", ""))
                for q in missing
            ])
    return len(missing)


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def attempts_today(guild_id: int, user_id: int, now: datetime | None = None) -> int:
    since = day_start(now or datetime.now(UTC))
    return await QuizAttempt.filter(
        guild_id=guild_id, user_id=user_id, started_at__gte=since
    ).count()


async def start_attempt(
    guild_id: int, user_id: int, category: str | None, *, rng: random.Random | None = None,
) -> tuple[QuizAttempt, list[QuizQuestion]]:
    used = await attempts_today(guild_id, user_id)
    if used >= DAILY_ATTEMPTS:
        tomorrow = day_start(datetime.now(UTC)) + timedelta(days=1)
        raise QuizError(
            f"You have used your {DAILY_ATTEMPTS} quiz attempts for today; "
            f"come back <t:{int(tomorrow.timestamp())}:R>."
        )
    query = QuizQuestion.filter(Q(guild_id=None) | Q(guild_id=guild_id))
    if category:
        query = query.filter(category=category)
    # Tortoise types every values_list row as a tuple; flat=True returns the ids themselves.
    ids = cast("list[int]", list(await query.values_list("id", flat=True)))
    if not ids:
        raise QuizError("There are no questions in that category yet.")
    picked = (rng or random.SystemRandom()).sample(ids, min(QUESTIONS_PER_QUIZ, len(ids)))
    questions = {q.id: q for q in await QuizQuestion.filter(id__in=picked)}
    attempt = await QuizAttempt.create(
        guild_id=guild_id, user_id=user_id, category=category, questions=picked,
    )
    return attempt, [questions[i] for i in picked]


def shuffled_choices(question: QuizQuestion, rng: random.Random | None = None) -> list[str]:
    choices = [question.correct, *question.wrong[:MAX_WRONG]]
    (rng or random.SystemRandom()).shuffle(choices)
    return [c[:MAX_CHOICE] for c in choices]


async def record_answer(
    attempt_id: int, user_id: int, question_id: int, choice: str
) -> tuple[bool, QuizQuestion | None]:
    """Store the answer; the unique (attempt, question) key refuses a second one."""
    question = await QuizQuestion.get_or_none(id=question_id)
    correct = question is not None and choice == question.correct[:MAX_CHOICE]
    try:
        await QuizAnswer.create(attempt_id=attempt_id, user_id=user_id,
                                question_id=question_id, choice=choice[:MAX_CHOICE],
                                correct=correct)
    except IntegrityError:
        raise QuizError("You already answered that question.") from None
    return correct, question


async def finish_attempt(attempt_id: int, score: int) -> None:
    await QuizAttempt.filter(id=attempt_id).update(score=score, finished=True)


async def delete_member_data(user_id: int) -> int:
    answers = await QuizAnswer.filter(user_id=user_id).delete()
    attempts = await QuizAttempt.filter(user_id=user_id).delete()
    return answers + attempts


async def export_member_data(user_id: int) -> dict[str, Any]:
    attempts = await QuizAttempt.filter(user_id=user_id).order_by("id").values(
        "guild_id", "category", "score", "finished", "started_at"
    )
    answers = await QuizAnswer.filter(user_id=user_id).order_by("id").values(
        "question_id", "choice", "correct", "answered_at"
    )
    for row in [*attempts, *answers]:
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = value.isoformat()
    return {"quiz_attempts": attempts, "quiz_answers": answers}
