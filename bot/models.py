"""Core tables: per-guild plugin toggles, the append-only audit log, component state."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.exceptions import OperationalError
from tortoise.models import Model


class GuildPluginState(Model):
    """Whether a plugin is on in a guild; absent rows fall back to the plugin's default."""

    id = fields.IntField(primary_key=True)
    guild_id = fields.BigIntField()
    plugin = fields.CharField(max_length=64)
    enabled = fields.BooleanField()
    updated_by = fields.BigIntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "core_guild_plugin_state"
        unique_together = (("guild_id", "plugin"),)


class AppendOnlyError(OperationalError):
    """Raised when code tries to change or remove an audit entry."""


class AuditLog(Model):
    """One thing that happened, for admins and for compliance. Rows are never changed."""

    id = fields.BigIntField(primary_key=True)
    guild_id = fields.BigIntField(null=True, db_index=True)
    actor_id = fields.BigIntField(null=True, db_index=True)
    action = fields.CharField(max_length=64, db_index=True)
    target = fields.CharField(max_length=200, null=True)
    details: Any = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "core_audit_log"
        ordering = ("-id",)

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._saved_in_db:
            await super().save(*args, **kwargs)
            return
        raise AppendOnlyError("audit entries are append-only")

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise AppendOnlyError("audit entries are append-only")


class AuditText(Model):
    """Free text a member wrote that an audit entry refers to (a reason, a note).

    The entry itself can never change (database triggers refuse it), so text a member may ask
    us to delete lives here instead: /privacy delete removes the author's rows and the entry
    then reads "[redacted]". Rows go with their entry when the retention purge removes it.
    """

    id = fields.BigIntField(primary_key=True)
    entry: fields.ForeignKeyRelation[AuditLog] = fields.ForeignKeyField(
        "core.AuditLog", related_name="texts", on_delete=fields.CASCADE, db_index=True
    )
    # Who wrote the text (the member whose deletion removes it), not necessarily the actor.
    author_id = fields.BigIntField(db_index=True)
    text = fields.TextField()

    class Meta:
        table = "core_audit_text"


class ComponentState(Model):
    """State behind a button, select or modal, so controls keep working after a restart.

    The id travels in the custom_id (`<plugin>:<action>:<id>`); everything else stays here.
    """

    id = fields.CharField(max_length=16, primary_key=True)
    plugin = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=64)
    guild_id = fields.BigIntField(null=True)
    owner_id = fields.BigIntField(null=True)
    age_restricted = fields.BooleanField(default=False)
    feature = fields.CharField(max_length=64, null=True)
    data: Any = fields.JSONField(default=dict)
    version = fields.IntField(default=0)
    interactions = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "core_component_state"
