"""Multi-step modal forms: one modal per step, Back/Continue between steps, per-step
validation, answers kept in the database so a form survives restarts and can be resumed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nextcord

from bot.components import ids
from bot.components.ui import MAX_MODAL_INPUTS, button, controls, modal, text_input
from bot.errors import ControlExpired, UserError

if TYPE_CHECKING:
    from bot.client import GrowmiesBot
    from bot.components.context import ComponentContext

FORM_TTL = timedelta(days=7)
# Discord caps a text input at 4,000 characters.
MAX_INPUT = 4000


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    long: bool = False
    required: bool = True
    min_length: int | None = None
    max_length: int | None = None
    placeholder: str | None = None
    # Returns the normalised value or raises ValueError with a message for the member.
    validate: Callable[[str], Any] | None = None


@dataclass(frozen=True)
class FormStep:
    title: str
    fields: tuple[FormField, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.fields) <= MAX_MODAL_INPUTS:
            raise ValueError("a form step holds 1 to 5 fields (Discord's modal limit)")


@dataclass(frozen=True)
class FormSpec:
    name: str
    title: str
    steps: tuple[FormStep, ...]
    on_complete: str  # callback registered in services.blocks, called with the answers
    intro: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _modal_for(
    spec: FormSpec, state_id: str, step: int, answers: dict[str, Any]
) -> nextcord.ui.Modal:
    current = spec.steps[step]
    title = spec.title if len(spec.steps) == 1 else f"{spec.title} ({step + 1}/{len(spec.steps)})"
    return modal(title, ids.build("core", "fm.submit", state_id), [
        text_input(
            f.label, f.id, long=f.long, required=f.required, min_length=f.min_length,
            max_length=min(f.max_length or MAX_INPUT, MAX_INPUT), placeholder=f.placeholder,
            default=None if answers.get(f.id) is None else str(answers[f.id]),
        )
        for f in current.fields
    ])


async def start_form(
    bot: GrowmiesBot,
    interaction: nextcord.Interaction,
    *,
    plugin: str,
    form: str,
    payload: dict[str, Any] | None = None,
    age_feature: str | None = None,
) -> str:
    """Open step 1 as the response to `interaction`; returns the state id."""
    spec: FormSpec = bot.services.blocks.forms[form]
    assert interaction.user is not None
    state = await bot.services.components.create(
        plugin, "form", {"form": form, "step": 0, "answers": {}, "payload": payload or {}},
        owner_id=interaction.user.id, guild_id=interaction.guild_id, ttl=FORM_TTL,
        age_feature=age_feature,
    )
    await interaction.response.send_modal(_modal_for(spec, state.id, 0, {}))
    return state.id


def _spec(ctx: ComponentContext) -> FormSpec:
    spec = ctx.bot.services.blocks.forms.get(ctx.data.get("form", ""))
    if spec is None or ctx.data.get("done"):
        raise ControlExpired("start the form again")
    return spec


def _progress_view(state_id: str, step: int) -> nextcord.ui.View:
    items = []
    if step > 0:
        items.append(button("◀ Back", ids.build("core", "fm.back", state_id)))
    items.append(button("Continue ▶", ids.build("core", "fm.open", state_id),
                        style=nextcord.ButtonStyle.primary))
    return controls(*items)


async def _show_progress(ctx: ComponentContext, spec: FormSpec, step: int, note: str = "") -> None:
    assert ctx.state is not None
    text = f"{note}\n" if note else ""
    text += f"**{spec.title}** — step {step + 1} of {len(spec.steps)}: {spec.steps[step].title}"
    view = _progress_view(ctx.state.id, step)
    if ctx.interaction.message is not None:
        await ctx.edit(content=text, view=view)
    else:
        await ctx.send(text, view=view)


def validate_step(step: FormStep, submitted: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for f in step.fields:
        raw = submitted.get(f.id, "").strip()
        if not raw:
            if f.required:
                problems.append(f"**{f.label}** is required.")
            values[f.id] = None
            continue
        if len(raw) > min(f.max_length or MAX_INPUT, MAX_INPUT):
            problems.append(f"**{f.label}** is too long (at most {f.max_length or MAX_INPUT}).")
            continue
        if f.min_length and len(raw) < f.min_length:
            problems.append(f"**{f.label}** is too short (at least {f.min_length}).")
            continue
        if f.validate is not None:
            try:
                values[f.id] = f.validate(raw)
            except ValueError as exc:
                problems.append(f"**{f.label}**: {exc}")
                continue
        else:
            values[f.id] = raw
    return values, problems


async def on_submit(ctx: ComponentContext) -> None:
    spec = _spec(ctx)
    data = ctx.data
    step = int(data.get("step", 0))
    if step >= len(spec.steps):
        raise ControlExpired("start the form again")
    values, problems = validate_step(spec.steps[step], ctx.fields)
    answers = {**data.get("answers", {}), **values}
    if problems:
        assert ctx.state is not None
        # Discord cannot answer a modal with another modal: offer a button that reopens it.
        await ctx.advance({**data, "answers": answers}, extend=FORM_TTL)
        raise UserError(
            "\n".join(problems)[:1900],
            view=controls(button("Fix it", ids.build("core", "fm.open", ctx.state.id),
                                 style=nextcord.ButtonStyle.primary)),
        )
    if step + 1 < len(spec.steps):
        await ctx.advance({**data, "answers": answers, "step": step + 1}, extend=FORM_TTL)
        await _show_progress(ctx, spec, step + 1, "✅ Saved.")
        return
    await ctx.advance({**data, "answers": answers, "done": True})
    func = ctx.bot.services.blocks.callbacks.get(spec.on_complete)
    if func is None:
        raise ControlExpired()
    await func(ctx, {"answers": answers, "payload": data.get("payload", {})})


async def on_open(ctx: ComponentContext) -> None:
    spec = _spec(ctx)
    assert ctx.state is not None
    step = int(ctx.data.get("step", 0))
    await ctx.interaction.response.send_modal(
        _modal_for(spec, ctx.state.id, step, ctx.data.get("answers", {}))
    )


async def on_back(ctx: ComponentContext) -> None:
    spec = _spec(ctx)
    step = max(0, int(ctx.data.get("step", 0)) - 1)
    await ctx.advance({**ctx.data, "step": step}, extend=FORM_TTL)
    await _show_progress(ctx, spec, step)
