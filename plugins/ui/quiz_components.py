"""The quiz message: one question at a time with answer buttons bound to the quiz taker.

The custom_id arg carries "<question index>.<choice index>", so a button of an already
answered question is recognised; `ctx.advance` (compare-and-set) makes two simultaneous
clicks count once, and the (attempt, question) unique key backs that up in the database.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nextcord

from bot.api import ControlExpired, PluginComponents, UserError, button, controls, uses_state
from plugins.ui import quiz

if TYPE_CHECKING:
    from bot.api import ComponentContext, PluginContext

QUIZ_FEATURE = "quiz"
# Kind of the quiz's component state row; only the answer buttons accept it.
QUIZ_STATE = "quiz"
QUIZ_TTL = timedelta(hours=2)
LETTERS = "ABCD"


def _render(components: PluginComponents, state_id: str, data: dict[str, Any],
            note: str = "") -> tuple[nextcord.Embed, nextcord.ui.View]:
    index = int(data["index"])
    total = len(data["questions"])
    current = data["questions"][index]
    category = quiz.QUIZ_CATEGORIES.get(current["category"], current["category"])
    embed = nextcord.Embed(
        title=f"Quiz — question {index + 1} of {total}",
        description=(f"{note}\n\n" if note else "") + f"**{current['question']}**",
    )
    embed.set_footer(text=f"{category} · score {data['score']}/{index}")
    buttons = [
        button(f"{LETTERS[c]}. {choice}",
               components.custom_id("quiz.answer", state_id, f"{index}.{c}"), row=c)
        for c, choice in enumerate(current["choices"])
    ]
    return embed, controls(*buttons)


async def start_quiz(ctx: PluginContext, interaction: nextcord.Interaction, guild_id: int,
                     user_id: int, category: str | None) -> None:
    try:
        attempt, questions = await quiz.start_attempt(guild_id, user_id, category)
    except quiz.QuizError as exc:
        raise UserError(str(exc)) from None
    rng = random.SystemRandom()
    shown = []
    for q in questions:
        choices = quiz.shuffled_choices(q, rng)
        shown.append({
            "id": q.id, "category": q.category, "question": q.question, "choices": choices,
            "correct": choices.index(q.correct[:quiz.MAX_CHOICE]),
            "explanation": q.explanation,
        })
    data = {"attempt": attempt.id, "questions": shown, "index": 0, "score": 0}
    state = await ctx.components.create(
        QUIZ_STATE, data, owner=user_id, guild_id=guild_id, ttl=QUIZ_TTL,
        age_feature=QUIZ_FEATURE,
    )
    await ctx.services.audit.record(
        "ui.quiz.started", guild_id=guild_id, actor_id=user_id,
        target=category or "all", details={"attempt": attempt.id, "questions": len(shown)},
    )
    embed, view = _render(ctx.components, state.id, data)
    # Questions are 21+ content: public only where verified members alone read the channel.
    await ctx.send_adult(interaction, embed=embed, view=view)


def _parse_arg(arg: str | None) -> tuple[int, int]:
    try:
        question, choice = (int(part) for part in (arg or "").split("."))
    except ValueError:
        raise ControlExpired() from None
    return question, choice


class QuizControls:
    """The answer buttons' handler, bound to the plugin's context (its custom_ids)."""

    def __init__(self, plugin_ctx: PluginContext) -> None:
        self.plugin_ctx = plugin_ctx

    @uses_state(QUIZ_STATE)
    async def on_answer(self, ctx: ComponentContext) -> None:
        await on_answer(ctx, self.plugin_ctx.components)


async def on_answer(ctx: ComponentContext, components: PluginComponents) -> None:
    assert ctx.state is not None
    data = ctx.data
    if data.get("done"):
        raise UserError("This quiz is over — start a new one with /quiz start.")
    question_index, choice = _parse_arg(ctx.custom_id.arg)
    if question_index != int(data["index"]):
        raise UserError("You already answered that question.")
    current = data["questions"][question_index]
    if not 0 <= choice < len(current["choices"]):
        raise ControlExpired()
    correct = choice == int(current["correct"])
    score = int(data["score"]) + int(correct)
    last = question_index + 1 >= len(data["questions"])
    # Claim the question first: of two simultaneous clicks only one gets past this.
    await ctx.advance({**data, "index": question_index + (0 if last else 1), "score": score,
                       "done": last})
    try:
        await quiz.record_answer(int(data["attempt"]), ctx.user_id, int(current["id"]),
                                 current["choices"][choice])
    except quiz.QuizError as exc:
        raise UserError(str(exc)) from None
    right = current["choices"][int(current["correct"])]
    note = "✅ Correct!" if correct else f"❌ The answer was **{right}**."
    if current.get("explanation"):
        note += f" {current['explanation']}"
    if not last:
        embed, view = _render(components, ctx.state.id, ctx.data, note)
        await ctx.edit(embed=embed, view=view)
        return
    await _finish(ctx, int(data["attempt"]), score, len(data["questions"]), note)


async def _finish(ctx: ComponentContext, attempt_id: int, score: int, total: int,
                  note: str) -> None:
    await quiz.finish_attempt(attempt_id, score)
    granted = await ctx.services.xp.award(ctx.guild_id, ctx.user_id,
                                          score * quiz.XP_PER_CORRECT, "ui.quiz")
    await ctx.services.audit.record(
        "ui.quiz.finished", guild_id=ctx.guild_id, actor_id=ctx.user_id, target=str(attempt_id),
        details={"score": score, "total": total, "xp": granted},
    )
    summary = f"{note}\n\n🏁 **Quiz finished: {score}/{total} correct.**"
    if granted:
        summary += f"\n+{granted} XP"
    embed = nextcord.Embed(title="Quiz results", description=summary[:4096])
    await ctx.edit(embed=embed, view=controls())


async def question_added(ctx: ComponentContext, result: dict[str, Any]) -> None:
    if ctx.guild_id is None:
        raise UserError("Add questions from inside the server.")
    try:
        new = quiz.build_question(result["answers"])
    except quiz.QuizError as exc:
        raise UserError(str(exc)) from None
    row = await quiz.add_question(ctx.guild_id, ctx.user_id, new)
    await ctx.services.audit.record(
        "ui.quiz.question_added", guild_id=ctx.guild_id, actor_id=ctx.user_id,
        target=str(row.id), details={"category": row.category},
    )
    await ctx.send(f"Added question #{row.id} to **{quiz.QUIZ_CATEGORIES[row.category]}**.")
