"""Tables of the ui plugin: strains, the quiz bank, quiz attempts and answers."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class Strain(Model):
    """A cannabis strain of the explorer; the shipped starter set and admin additions."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    # Lowercase ASCII letters and digits only ("OG Kush" -> "ogkush"): autocomplete runs a
    # range scan on this column's index, which works the same on SQLite and PostgreSQL.
    name_key = fields.CharField(max_length=100, unique=True)
    type = fields.CharField(max_length=16)
    thc_min = fields.FloatField()
    thc_max = fields.FloatField()
    cbd_min = fields.FloatField()
    cbd_max = fields.FloatField()
    effects: Any = fields.JSONField(default=list)
    # "|relaxed|happy|": lets /strain recommend filter by effect with LIKE on both databases.
    effects_key = fields.CharField(max_length=300, default="")
    flavors: Any = fields.JSONField(default=list)
    description = fields.TextField(default="")
    growing: Any = fields.JSONField(default=dict)
    source_url = fields.CharField(max_length=300, default="")
    created_by = fields.BigIntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "ui_strain"


class QuizQuestion(Model):
    """A multiple-choice question; guild_id NULL marks the shipped starter set."""

    id = fields.IntField(primary_key=True)
    guild_id = fields.BigIntField(null=True, db_index=True)
    category = fields.CharField(max_length=32, db_index=True)
    question = fields.CharField(max_length=300)
    correct = fields.CharField(max_length=80)
    wrong: Any = fields.JSONField(default=list)
    explanation = fields.CharField(max_length=500, default="")
    created_by = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ui_quiz_question"


class QuizAttempt(Model):
    """One quiz run; counted for the daily attempt limit."""

    id = fields.IntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField()
    category = fields.CharField(max_length=32, null=True)
    questions: Any = fields.JSONField(default=list)
    score = fields.IntField(default=0)
    finished = fields.BooleanField(default=False)
    started_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ui_quiz_attempt"
        indexes = (("guild_id", "user_id", "started_at"),)


class QuizAnswer(Model):
    """A member's answer to one question of one attempt; the unique key makes a second
    answer to the same question impossible even if two clicks race past the state check."""

    id = fields.IntField(primary_key=True)
    attempt_id = fields.IntField()
    user_id = fields.BigIntField(db_index=True)
    question_id = fields.IntField()
    choice = fields.CharField(max_length=80)
    correct = fields.BooleanField()
    answered_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ui_quiz_answer"
        unique_together = (("attempt_id", "question_id"),)
