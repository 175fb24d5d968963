"""Editing the server's music settings and a member's preferences."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.api import UserError
from plugins.music.models import MusicGuildSettings
from plugins.music.service import QUEUE_CEILING
from plugins.music.transcripts import MAX_PER_DAY, PER_MEMBER_DAY, PER_SERVER_DAY

if TYPE_CHECKING:
    from bot.api import GuildConfig
    from plugins.music.member_prefs import MemberPreferences

MAX_LIST_ITEMS = 20


def _split(raw: str) -> list[str]:
    items = [" ".join(p.split()).lower()[:40] for p in raw.split(",")]
    return [i for i in items if i][:MAX_LIST_ITEMS]


def _or_default(value: int | None, default: int) -> int:
    return default if value is None else value


class SettingsEditor:
    def __init__(self, audit: Any, default_queue: int,
                 guild_config: GuildConfig[MusicGuildSettings],
                 member_preferences: MemberPreferences) -> None:
        self.audit = audit
        self.default_queue = default_queue
        # Written through the cached tables the service reads, so an edit is seen at once.
        self.guild_config = guild_config
        self.member_preferences = member_preferences

    async def update(
        self, guild_id: int, actor_id: int, *, dj_role_id: int | None = None,
        max_queue_size: int | None = None, max_track_minutes: int | None = None,
        idle_minutes: int | None = None, always_on: bool | None = None,
        cannabis_source: str | None = None, transcripts_per_member: int | None = None,
        transcripts_per_server: int | None = None, autoplay: bool | None = None,
    ) -> str:
        settings = await self.guild_config.get(guild_id)
        changes: dict[str, Any] = {}
        if dj_role_id is not None:
            changes["dj_role_id"] = dj_role_id
        if max_queue_size is not None:
            if not 1 <= max_queue_size <= QUEUE_CEILING:
                raise UserError(f"The queue limit goes from 1 to {QUEUE_CEILING}.")
            changes["max_queue_size"] = max_queue_size
        if max_track_minutes is not None:
            changes["max_track_minutes"] = max_track_minutes
        if idle_minutes is not None:
            changes["idle_minutes"] = idle_minutes
        if always_on is not None:
            changes["always_on"] = always_on
        if autoplay is not None:
            changes["autoplay"] = autoplay
        for name, value in (("transcripts_per_member", transcripts_per_member),
                            ("transcripts_per_server", transcripts_per_server)):
            if value is not None:
                if not 0 <= value <= MAX_PER_DAY:
                    raise UserError(f"Transcripts a day go from 0 to {MAX_PER_DAY}.")
                changes[name] = value
        if cannabis_source:
            host = cannabis_source.strip().lower().removeprefix("https://")
            host = host.removeprefix("http://").split("/", 1)[0]
            sources = list(settings.cannabis_sources or [])
            if host in sources:
                sources.remove(host)
            else:
                sources.append(host)
            changes["cannabis_sources"] = sources[:100]
        if changes:
            settings = await self.guild_config.update(guild_id, **changes)
            await self.audit.record("music.settings_changed", guild_id=guild_id,
                                    actor_id=actor_id, target="music",
                                    details={k: v for k, v in changes.items()})
        role = f"<@&{settings.dj_role_id}>" if settings.dj_role_id else "none (Manage Server only)"
        flagged = ", ".join(settings.cannabis_sources or []) or "none"
        return "\n".join([
            "**Music settings**" + (" (updated)" if changes else ""),
            f"DJ role: {role}",
            f"Queue limit: {settings.max_queue_size or self.default_queue}",
            f"Longest track: {settings.max_track_minutes or 'no limit'} min",
            f"Leave when idle for: {settings.idle_minutes} min",
            f"24/7 mode: {'on' if settings.always_on else 'off'}",
            "Autoplay: " + ("allowed (for members whose auto-queue preference is on)"
                            if settings.autoplay else "off for everyone"),
            f"Cannabis (21+) sources: {flagged}",
            "Podcast transcripts a day: "
            f"{_or_default(settings.transcripts_per_member, PER_MEMBER_DAY)} per member, "
            f"{_or_default(settings.transcripts_per_server, PER_SERVER_DAY)} for the server",
        ])

    async def preferences(
        self, guild_id: int, user_id: int, *, volume: int | None = None,
        auto_queue: bool | None = None, explicit_filter: bool | None = None,
        blocked_sources: str | None = None, favourite_genres: str | None = None,
        meditation_mode: bool | None = None, cannabis_opt_in: bool | None = None,
    ) -> str:
        prefs = await self.member_preferences.get(guild_id, user_id)
        changes: dict[str, Any] = {}
        for name, value in (("volume", volume), ("auto_queue", auto_queue),
                            ("explicit_filter", explicit_filter),
                            ("meditation_mode", meditation_mode),
                            ("cannabis_opt_in", cannabis_opt_in)):
            if value is not None:
                changes[name] = value
        if blocked_sources is not None:
            changes["blocked_sources"] = _split(blocked_sources)
        if favourite_genres is not None:
            changes["favourite_genres"] = _split(favourite_genres)
        if changes:
            prefs = await self.member_preferences.update(guild_id, user_id, **changes)
            if cannabis_opt_in:
                await self.audit.record("music.cannabis_opt_in", guild_id=guild_id,
                                        actor_id=user_id, target=str(user_id))

        def yes(flag: bool) -> str:
            return "on" if flag else "off"

        return "\n".join([
            "**Your music preferences in this server**" + (" (updated)" if changes else ""),
            f"Volume: {prefs.volume if prefs.volume is not None else 'server default'}",
            f"Auto-queue: {yes(prefs.auto_queue)}" + (
                "" if (await self.guild_config.get(guild_id)).autoplay
                else " (this server has autoplay off)"),
            f"Explicit filter: {yes(prefs.explicit_filter)}",
            f"Blocked sources: {', '.join(prefs.blocked_sources or []) or 'none'}",
            f"Favourite genres: {', '.join(prefs.favourite_genres or []) or 'none'}",
            f"Meditation mode: {yes(prefs.meditation_mode)}",
            f"Cannabis suggestions (21+): {yes(prefs.cannabis_opt_in)}",
        ])
