"""Music preferences per server and member.

Preferences used to be one row per member for every server (`UserMusicPreferences`). A
member now keeps a row per server (`MusicMemberPreferences`); where they have none yet, their
old row (or the defaults) applies, and their first change in a server copies it there. So
nothing needs migrating: old rows keep working until the member edits them somewhere.

Cached through the core's guild config store, per server: one read loads the rows of the
members who changed something in that server, and a write drops that server's copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from plugins.music.models import MusicMemberPreferences, UserMusicPreferences

if TYPE_CHECKING:
    from bot.api import GuildCache, GuildConfig, PluginGuildConfig

# Both rows have the same preference fields; readers only read them.
Preferences = MusicMemberPreferences | UserMusicPreferences
FIELDS = ("volume", "auto_queue", "explicit_filter", "blocked_sources", "favourite_genres",
          "meditation_mode", "cannabis_opt_in")


class MemberPreferences:
    def __init__(self, guild_config: PluginGuildConfig,
                 legacy: GuildConfig[UserMusicPreferences]) -> None:
        self.legacy = legacy
        self._rows: GuildCache[dict[int, MusicMemberPreferences]] = guild_config.cache(
            "music_member_preferences", self._load)

    @staticmethod
    async def _load(guild_id: int) -> dict[int, MusicMemberPreferences]:
        rows = await MusicMemberPreferences.filter(guild_id=guild_id)
        return {row.user_id: row for row in rows}

    async def get(self, guild_id: int, user_id: int) -> Preferences:
        """The member's preferences in this server: read them, never modify them."""
        row = (await self._rows.get(guild_id)).get(user_id)
        return row if row is not None else await self.legacy.get(user_id)

    async def update(self, guild_id: int, user_id: int, **changes: Any) -> Preferences:
        """Write `changes` to the member's row in this server, created from what applied
        until now (their old row or the defaults) when missing."""
        if changes:
            # A queryset update skips auto_now: stamp it so the row says when it last changed.
            updated = await MusicMemberPreferences.filter(
                guild_id=guild_id, user_id=user_id).update(updated_at=timezone.now(), **changes)
            if not updated:
                start = await self.legacy.get(user_id)
                values = {name: getattr(start, name) for name in FIELDS}
                try:
                    await MusicMemberPreferences.create(guild_id=guild_id, user_id=user_id,
                                                        **{**values, **changes})
                except IntegrityError:
                    # The member's other request created it between our update and insert.
                    await MusicMemberPreferences.filter(
                        guild_id=guild_id, user_id=user_id).update(**changes)
            self._rows.changed(guild_id)
        return await self.get(guild_id, user_id)

    def forget(self, user_id: int) -> None:
        """After a privacy deletion: the member's rows may be cached in any server."""
        self.legacy.changed(user_id)
        self._rows.invalidate()
