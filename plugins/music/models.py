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
    # The session's type (general | meditation | educational): recovery asks the type's handler
    # before rejoining (a meditation whose time ran out while the bot was down just ends).
    kind = fields.CharField(max_length=16, default="general")

    class Meta:
        table = "music_session"


class StoredTrack(Model):
    """The columns of a track kept whole (queued, played or saved): the encoded track, so a
    replay needs no search, what is shown, and the 21+ and explicit flags it was judged by.
    Abstract: each table keeps its own name and these columns' names."""

    encoded = fields.TextField()
    title = fields.CharField(max_length=200)
    author = fields.CharField(max_length=200, default="")
    uri = fields.CharField(max_length=500, null=True)
    length_ms = fields.BigIntField(default=0)
    source = fields.CharField(max_length=32, default="")
    cannabis = fields.BooleanField(default=False)
    # The source's own flag (Lavalink pluginInfo), so a replay is judged by it, not the title.
    explicit = fields.BooleanField(default=False)

    class Meta:
        abstract = True


class MusicQueueEntry(StoredTrack):
    """One upcoming track. `position` values are gapped (steps of 65,536) so adding, removing
    and moving an entry touch one row instead of renumbering the queue."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    position = fields.BigIntField()
    requester_id = fields.BigIntField()
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
    # Auto-queue (autoplay) needs this AND the requester's own preference (see related()).
    autoplay = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "music_guild_settings"


class PreferenceColumns(Model):
    """A member's music choices; the same columns in both preference tables."""

    volume = fields.IntField(null=True)
    auto_queue = fields.BooleanField(default=False)
    explicit_filter = fields.BooleanField(default=False)
    blocked_sources: Any = fields.JSONField(default=list)
    favourite_genres: Any = fields.JSONField(default=list)
    meditation_mode = fields.BooleanField(default=False)
    cannabis_opt_in = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class UserMusicPreferences(PreferenceColumns):
    """A member's own choices, edited with the music preferences command."""

    user_id = fields.BigIntField(primary_key=True, generated=False)

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


class MusicMemberPreferences(PreferenceColumns):
    """A member's music preferences in one server (`/music preferences` there).

    Replaces the per-member `UserMusicPreferences` row, which is only read as the starting
    point until the member changes something in a server: the first change copies it here."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField(db_index=True)

    class Meta:
        table = "music_member_preferences"
        unique_together = (("guild_id", "user_id"),)


class MusicHistoryEntry(StoredTrack):
    """A track that started playing in a server: the last 100 per server are kept, for
    /history and /previous. Holds the track whole (encoded) so a replay needs no search."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    requester_id = fields.BigIntField(db_index=True)
    is_stream = fields.BooleanField(default=False)
    played_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "music_history"
        indexes = (("guild_id", "id"),)


class MusicPlaylist(Model):
    """A saved playlist in one server: a member's own (`owner_id`), or the server's, managed
    by DJs (`owner_id` 0, like the server row of the transcript counters). `version` goes up
    with every edit, in the edit's own transaction, so concurrent edits queue behind the row
    lock instead of overwriting each other; `track_count` is kept with it (no COUNT per page)."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    owner_id = fields.BigIntField()
    name = fields.CharField(max_length=100)
    name_key = fields.CharField(max_length=100)  # casefolded, for lookups and uniqueness
    shared = fields.BooleanField(default=False)
    track_count = fields.IntField(default=0)
    version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "music_playlist"
        unique_together = (("guild_id", "owner_id", "name_key"),)


class MusicPlaylistTrack(StoredTrack):
    """One track of a saved playlist. Positions are gapped (steps of 2**20) and distinct, so
    adding, removing and moving a track write one row (see playlist_store.py)."""

    id = fields.BigIntField(primary_key=True)
    playlist_id = fields.BigIntField()
    position = fields.BigIntField()
    is_stream = fields.BooleanField(default=False)
    # `cannabis`: 21+ as classified when added; shown and played by the classification at that
    # moment. `explicit` (new): the source's flag when added, so the explicit filter judges a
    # replay by it.

    class Meta:
        table = "music_playlist_track"
        indexes = (("playlist_id", "position"),)
class MeditationSession(Model):
    """A timed meditation, persisted so it survives a bot restart or a node failover and ends
    (fade-out, XP) exactly once: ending is a conditional UPDATE on `ended_at IS NULL`, and XP
    is granted only by the request whose UPDATE changed the row."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField(db_index=True)
    channel_id = fields.BigIntField()
    text_channel_id = fields.BigIntField(null=True)
    started_by = fields.BigIntField(db_index=True)
    minutes = fields.IntField()
    # Members in the channel at the start (XP goes to those still there at the end); emptied
    # when the session ends, so only running sessions hold other members' ids.
    participants: Any = fields.JSONField(default=list)
    cannabis = fields.BooleanField(default=False)
    started_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True, db_index=True)
    completed = fields.BooleanField(default=False)
    xp_granted = fields.IntField(default=0)  # XP each finisher got
    stayed = fields.IntField(default=0)

    class Meta:
        table = "music_meditation_session"


class PodcastFeed(Model):
    """A feed someone opened with /podcast, as last read. Shared by every server."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)  # sha256 of the feed URL
    url = fields.CharField(max_length=2000)
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    fetched_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "music_podcast_feed"


class PodcastEpisode(Model):
    """An episode of a stored feed. `url` is empty when the feed gives it no audio file (it is
    listed as unplayable); its transcript, if any, is the `PodcastTranscript` of that URL."""

    id = fields.BigIntField(primary_key=True)
    feed: Any = fields.ForeignKeyField("music.PodcastFeed", related_name="episodes",
                                       on_delete=fields.CASCADE)
    feed_id: int
    key = fields.CharField(max_length=64)  # sha256 of the feed's guid for it (or its URL)
    title = fields.CharField(max_length=300)
    url = fields.CharField(max_length=2000, default="")
    published = fields.CharField(max_length=64, default="")
    duration_s = fields.IntField(null=True)
    first_seen_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "music_podcast_episode"
        unique_together = (("feed_id", "key"),)


class PodcastSubscription(Model):
    """A server following a feed; with `auto_since` set, new episodes are transcribed as they
    appear (polled), each paid once and counted against that server's transcript budget."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    feed: Any = fields.ForeignKeyField("music.PodcastFeed", related_name="subscriptions",
                                       on_delete=fields.CASCADE)
    # When automatic transcription was switched on (None: off); episodes first seen after it
    # are transcribed, the back catalogue is not.
    auto_since = fields.DatetimeField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "music_podcast_subscription"
        unique_together = (("guild_id", "feed_id"),)
