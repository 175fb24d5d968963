"""The plugin's one table. Its migrations live in growmies_notes/migrations/notes/, written by
`growmies makemigrations notes` and shipped in the wheel."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# Discord shows at most 2,000 characters in a message; a note is listed with its number and
# date, so it keeps well under that.
MAX_NOTE_CHARS = 1000


class Note(Model):
    """One member's note in one server. Private: only its author ever sees it."""

    id = fields.IntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField()
    text = fields.CharField(max_length=MAX_NOTE_CHARS)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "notes_note"
        # Every read is "this member's notes in this server", newest first.
        indexes = (("guild_id", "user_id", "id"),)
