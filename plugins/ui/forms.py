"""The plugin's multi-step forms (core forms block): grow wizard, compliance check, quiz
question and strain add/edit. Registered in setup, so a half-filled form resumes after a
restart: its answers live in the core's component state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.api import FormField, FormSpec, FormStep
from plugins.ui import compliance, grow, quiz, strains

GROW_FORM = "ui.grow"
COMPLIANCE_FORM = "ui.compliance"
QUIZ_ADD_FORM = "ui.quiz_add"
STRAIN_ADD_FORM = "ui.strain_add"
STRAIN_EDIT_FORM = "ui.strain_edit"

GROW_DONE = "ui.grow_done"
COMPLIANCE_DONE = "ui.compliance_done"
QUIZ_ADDED = "ui.quiz_added"
STRAIN_SAVED = "ui.strain_saved"


def _checked(parse: Callable[[str], Any]) -> Callable[[str], str]:
    """Validate with `parse` but store the member's text: answers must stay JSON."""

    def validate(raw: str) -> str:
        parse(raw)
        return " ".join(raw.split())

    return validate


def grow_form() -> FormSpec:
    return FormSpec(
        name=GROW_FORM, title="Grow wizard", on_complete=GROW_DONE,
        steps=(
            FormStep("Goal and experience", (
                FormField("goal", "What is your main goal?", max_length=40,
                          placeholder=grow.placeholder(grow.GOALS),
                          validate=grow.chooser(grow.GOALS, "goal")),
                FormField("experience", "Your growing experience", max_length=40,
                          placeholder=grow.placeholder(grow.EXPERIENCE),
                          validate=grow.chooser(grow.EXPERIENCE, "experience level")),
            )),
            FormStep("Space and medium", (
                FormField("space", "Where would the plants live?", max_length=40,
                          placeholder=grow.placeholder(grow.SPACES),
                          validate=grow.chooser(grow.SPACES, "space")),
                FormField("medium", "Growing medium", max_length=40,
                          placeholder=grow.placeholder(grow.MEDIUMS),
                          validate=grow.chooser(grow.MEDIUMS, "medium")),
            )),
            FormStep("Lighting", (
                FormField("lighting", "Lighting", max_length=40,
                          placeholder=grow.placeholder(grow.LIGHTING),
                          validate=grow.chooser(grow.LIGHTING, "light")),
            )),
        ),
    )


def compliance_form() -> FormSpec:
    return FormSpec(
        name=COMPLIANCE_FORM, title="NJ compliance check", on_complete=COMPLIANCE_DONE,
        steps=(FormStep("Your plan", (
            FormField("amount", "How much will you carry?", max_length=20,
                      placeholder="1 oz or 28 g", validate=_checked(compliance.parse_amount)),
            FormField("place", "Where will you consume it?", max_length=100,
                      placeholder="at home, a park, in my car…"),
            FormField("driving", "Will you drive afterwards? (yes/no)", max_length=5,
                      placeholder="no", validate=compliance.parse_yes_no),
            FormField("source", "Where will you buy it?", max_length=100,
                      placeholder="a licensed dispensary, a friend…"),
        )),),
    )


def quiz_add_form() -> FormSpec:
    return FormSpec(
        name=QUIZ_ADD_FORM, title="Add a quiz question", on_complete=QUIZ_ADDED,
        steps=(FormStep("Question", (
            FormField("question", "Question", long=True, min_length=10, max_length=300),
            FormField("correct", "Correct answer", max_length=quiz.MAX_CHOICE),
            FormField("wrong", "Wrong answers (1–3, one per line)", long=True, max_length=300,
                      validate=quiz.parse_wrong_answers),
            FormField("category", "Category", max_length=20,
                      placeholder=" / ".join(quiz.QUIZ_CATEGORIES),
                      validate=quiz.parse_category),
            FormField("explanation", "Explanation shown after answering", long=True,
                      required=False, max_length=500),
        )),),
    )


def _strain_steps(required: bool) -> tuple[FormStep, ...]:
    hint = "" if required else " (blank keeps)"
    return (
        FormStep("Name and numbers", (
            FormField("name", f"Name{hint}", required=required, max_length=100,
                      validate=strains.parse_strain_name),
            FormField("type", f"Type: indica, sativa or hybrid{hint}", required=required,
                      max_length=10, validate=strains.parse_strain_type),
            FormField("thc", f"THC % range{hint}", required=required, max_length=20,
                      placeholder="18-24", validate=_checked(strains.parse_percent_range)),
            FormField("cbd", f"CBD % range{hint}", required=required, max_length=20,
                      placeholder="0-1", validate=_checked(strains.parse_percent_range)),
        )),
        FormStep("Effects and source", (
            FormField("effects", f"Effects, comma-separated{hint}", required=required,
                      max_length=200, placeholder="Relaxed, Happy",
                      validate=strains.parse_word_list),
            FormField("flavors", f"Flavours, comma-separated{hint}", required=required,
                      max_length=200, placeholder="Berry, Sweet",
                      validate=strains.parse_word_list),
            FormField("description", f"Description{hint}", long=True, required=False,
                      max_length=1000),
            FormField("source", f"Source link (https://…){hint}", required=required,
                      max_length=300, validate=strains.parse_source_url),
        )),
    )


def strain_add_form() -> FormSpec:
    return FormSpec(name=STRAIN_ADD_FORM, title="Add a strain", on_complete=STRAIN_SAVED,
                    steps=_strain_steps(True))


def strain_edit_form() -> FormSpec:
    return FormSpec(name=STRAIN_EDIT_FORM, title="Edit a strain", on_complete=STRAIN_SAVED,
                    steps=_strain_steps(False))


ALL_FORMS = (grow_form, compliance_form, quiz_add_form, strain_add_form, strain_edit_form)
