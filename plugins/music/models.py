"""Music tables: one session per guild, its queue, per-guild settings and member preferences."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class MusicSession(Model):
    """A guild's player as the bot last knew it, so a restart or node failure can rebuild it.

    `current` holds the playing track whole (encoded string and metadata): replaying it after
    a restart must not depend on the node still knowing it.
    """

    guild_id = fields.BigIntField(primary_key=True, generated=False)
    voice_channel_id = fields.BigIntField()
    text_channel_id = fields.BigIntField(null=True)
    node_id = fields.CharField(max_length=64, null=True)
    current: Any = fields.JSONField(null=True)
    # Saved from Lavalink's playerUpdate (about every 5 s), so at most one interval is lost.
    position_ms = fields.BigIntField(default=0)
    paused = fields.BooleanField(default=False)
    volume = fields.IntField(default=60)
    loop_mode = fields.CharField(max_length=8, default="off")
    failures_in_row = fields.IntField(default=0)
    # The effect on (Lavalink `filters` and its preset's name), re-sent after a restart or
    # failover; null: none.
    effects: Any = fields.JSONField(null=True)
    active = fields.BooleanField(default=True, db_index=True)
    started_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "music_session"


class MusicQueueEntry(Model):
    """One upcoming track. `position` values are gapped (steps of 65,536) so adding, removing
    and moving an entry touch one row instead of renumbering the queue."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    position = fields.BigIntField()
    encoded = fields.TextField()
    title = fields.CharField(max_length=200)
    author = fields.CharField(max_length=200, default="")
    uri = fields.CharField(max_length=500, null=True)
    length_ms = fields.BigIntField(default=0)
    source = fields.CharField(max_length=32, default="")
    requester_id = fields.BigIntField()
    cannabis = fields.BooleanField(default=False)
    added_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "music_queue"
        indexes = (("guild_id", "position"),)


class MusicGuildSettings(Model):
    """What the music settings command changes; no row means the environment's defaults."""

    guild_id = fields.BigIntField(primary_key=True, generated=False)
    dj_role_id = fields.BigIntField(null=True)
    max_queue_size = fields.IntField(null=True)
    max_track_minutes = fields.IntField(null=True)
    idle_minutes = fields.IntField(default=5)
    always_on = fields.BooleanField(default=False)
    # Hosts (e.g. "cannabisradio.example") whose tracks and feeds are 21+ cannabis content.
    cannabis_sources: Any = fields.JSONField(default=list)
    # Paid podcast transcriptions a day; None means the plugin's defaults.
    transcripts_per_member = fields.IntField(null=True)
    transcripts_per_server = fields.IntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "music_guild_settings"


class UserMusicPreferences(Model):
    """A member's own choices, edited with the music preferences command."""

    user_id = fields.BigIntField(primary_key=True, generated=False)
    volume = fields.IntField(null=True)
    auto_queue = fields.BooleanField(default=False)
    explicit_filter = fields.BooleanField(default=False)
    blocked_sources: Any = fields.JSONField(default=list)
    favourite_genres: Any = fields.JSONField(default=list)
    meditation_mode = fields.BooleanField(default=False)
    cannabis_opt_in = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "music_user_preferences"


class PodcastTranscript(Model):
    """One paid transcription per episode, shared by every later request (in any server).

    The row is created as "pending" by the request that pays for it, before the call, so a
    second press (or a second bot process) finds it and waits or is told it is under way."""

    key = fields.CharField(max_length=64, primary_key=True)  # sha256 of the episode URL
    url = fields.CharField(max_length=2000)
    status = fields.CharField(max_length=8, default="pending")  # pending | done
    text = fields.TextField(null=True)
    claimed_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "music_podcast_transcript"


class MusicTranscriptUsage(Model):
    """Paid transcriptions per server and day: one row per member (`user_id`) and one for the
    whole server (`user_id` 0). Kept when a member deletes their data, like the LLM counters:
    deleting must not reset today's budget."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField()
    day = fields.DateField()
    count = fields.IntField(default=0)

    class Meta:
        table = "music_transcript_usage"
        unique_together = (("guild_id", "user_id", "day"),)
