"""Compliance tables: one record per (guild, member) and one settings row per guild.

The date of birth is never stored: verification keeps only its outcome (data minimisation).
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

UNVERIFIED = "unverified"
PENDING = "pending"
VERIFIED = "verified"
DENIED = "denied"
STATUSES = (UNVERIFIED, PENDING, VERIFIED, DENIED)

SELF_ATTEST = "self_attest"
STAFF_REVIEW = "staff_review"
MODES = (SELF_ATTEST, STAFF_REVIEW)

STACK = "stack"
REPLACE = "replace"


class MemberRecord(Model):
    """A member's verification outcome and engagement in one guild."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField(db_index=True)
    status = fields.CharField(max_length=16, default=UNVERIFIED)
    is_21_plus = fields.BooleanField(default=False)
    verified_at = fields.DatetimeField(null=True)
    method = fields.CharField(max_length=32, null=True)
    reviewer_id = fields.BigIntField(null=True)
    # Set instead of reviewer_id once the reviewer deleted their data: records they decided
    # still show that one (former) staff member decided them, not who.
    reviewer_pseudonym = fields.CharField(max_length=32, null=True)
    # Failed attempts since the last cooldown, and when the member may try again.
    failed_attempts = fields.IntField(default=0)
    retry_at = fields.DatetimeField(null=True)
    xp = fields.BigIntField(default=0)
    level = fields.IntField(default=0)
    message_count = fields.IntField(default=0)
    last_xp_at = fields.DatetimeField(null=True)
    tier = fields.CharField(max_length=32, default="Seedling")

    class Meta:
        table = "compliance_member"
        unique_together = (("guild_id", "user_id"),)
        # The leaderboard reads pages in (guild_id, xp DESC, user_id DESC) order from this index.
        indexes = (("guild_id", "xp", "user_id"),)


UNDER_MINIMUM_AGE = "under_minimum_age"
STAFF_DENIED = "staff_denied"


class AgeDenial(Model):
    """A verification denial, kept when the member deletes their data.

    Without it, deleting one's data and typing another date would undo an under-21 answer.
    Minimal by design: server, member id, outcome, date; never the date of birth. Only staff
    (`/verification reset`) clear it.
    """

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField(db_index=True)
    outcome = fields.CharField(max_length=32)
    decided_at = fields.DatetimeField()

    class Meta:
        table = "compliance_age_denial"
        unique_together = (("guild_id", "user_id"),)


class AdultChannel(Model):
    """A channel an admin marked as 21+; it counts only while its permissions still pass."""

    channel_id = fields.BigIntField(primary_key=True, generated=False)
    guild_id = fields.BigIntField(db_index=True)
    marked_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "compliance_adult_channel"


class GuildSettings(Model):
    """Per-guild verification and XP settings; a missing row means the defaults."""

    guild_id = fields.BigIntField(primary_key=True, generated=False)
    verification_mode = fields.CharField(max_length=16, default=SELF_ATTEST)
    verified_role_id = fields.BigIntField(null=True)
    review_channel_id = fields.BigIntField(null=True)
    minimum_age = fields.IntField(default=21)
    retry_cooldown_seconds = fields.IntField(default=24 * 3600)
    xp_min = fields.IntField(default=15)
    xp_max = fields.IntField(default=25)
    xp_cooldown_seconds = fields.IntField(default=60)
    voice_xp_per_minute = fields.IntField(default=10)
    daily_cap_per_reason = fields.IntField(default=500)
    excluded_channel_ids: Any = fields.JSONField(default=list)
    excluded_role_ids: Any = fields.JSONField(default=list)
    levelup_announce = fields.BooleanField(default=False)
    # None with announcements on: announce in the channel where the member levelled up.
    levelup_channel_id = fields.BigIntField(null=True)
    # {"<level>": role_id}; JSON object keys are strings.
    role_rewards: Any = fields.JSONField(default=dict)
    reward_mode = fields.CharField(max_length=16, default=STACK)
    updated_at = fields.DatetimeField(auto_now=True)
    # XP multipliers ({"<role or channel id>": factor}; 0 excludes) and a timed server-wide
    # boost; combined by plugins.compliance.multipliers (the rule is documented there).
    # Nullable so the columns can be added to existing rows (None reads as no multipliers).
    xp_role_multipliers: Any = fields.JSONField(default=dict, null=True)
    xp_channel_multipliers: Any = fields.JSONField(default=dict, null=True)
    xp_boost = fields.FloatField(default=1.0)
    xp_boost_until = fields.DatetimeField(null=True)
    # Level-up message: None means the built-in text; checked when saved (levelup_messages).
    levelup_template = fields.TextField(null=True)
    # With announcements on: DM the member instead of posting in a channel.
    levelup_dm = fields.BooleanField(default=False)

    class Meta:
        table = "compliance_settings"


SERVER_DEFAULT_STYLE = 0


class RankCardStyle(Model):
    """A member's rank card style in one guild; user_id 0 holds the server default.

    The background is stored already re-encoded (JPEG, card-sized, darkened for legible
    text), so drawing a card only pastes it."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    user_id = fields.BigIntField(db_index=True)
    accent = fields.CharField(max_length=7, null=True)  # "#RRGGBB"
    background: Any = fields.BinaryField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "compliance_rank_card_style"
        unique_together = (("guild_id", "user_id"),)


class ImportRewardJob(Model):
    """Role rewards being given in the background after a MEE6 import (import_rewards.py).

    Lives until every member of it is processed; a restart continues it."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField()
    # The admin who applied the import, told the summary; None once they deleted their data.
    actor_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "compliance_import_reward_job"


class ImportRewardMember(Model):
    """One imported member of a job; `outcome` None: still to process."""

    id = fields.BigIntField(primary_key=True)
    job_id = fields.BigIntField(db_index=True)
    user_id = fields.BigIntField(db_index=True)
    outcome = fields.CharField(max_length=16, null=True)

    class Meta:
        table = "compliance_import_reward_member"
        unique_together = (("job_id", "user_id"),)
