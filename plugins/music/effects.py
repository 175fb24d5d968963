"""Effects and the equalizer: Lavalink filters, kept with the guild's session.

A guild's effect is one Lavalink `filters` object (what a player PATCH carries) plus the name
of the preset it came from. It is stored on the session row (`MusicSession.effects`) and set on
the wavelink player object, whose every later `play` (the next track, a replay after a node
restart, `switch_node` on failover) sends it again; after a bot restart `prepare` puts it back
on the new player before its first PATCH. Nothing here knows Discord.

Lavalink answers 400 to a filter its application.yml switched off, so the node's `/v4/info`
`filters` list is checked first: a member learns which filter is missing and nothing is sent.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import structlog
import wavelink

from bot.api import DatabaseUnavailable, UserError, is_database_unreachable, new_ref
from plugins.music.models import MusicSession

if TYPE_CHECKING:
    from plugins.music.node_info import NodeFeaturesCache
    from plugins.music.service import MusicService

log = structlog.get_logger("plugins.music.effects")

BANDS = 15  # Lavalink's equalizer: bands 0 (25 Hz) to 14 (16 kHz)
MIN_GAIN, MAX_GAIN = -0.25, 1.0  # -0.25 mutes a band, 0.25 doubles it (Lavalink's range)
MIN_SCALE, MAX_SCALE = 0.5, 2.0  # speed and pitch we offer; beyond this music turns to noise
OFF = "off"
CUSTOM = "custom"


def _eq(*gains: float) -> list[dict[str, Any]]:
    """All 15 bands (wavelink ignores an equalizer list of any other length)."""
    padded = list(gains) + [0.0] * (BANDS - len(gains))
    return [{"band": i, "gain": float(g)} for i, g in enumerate(padded[:BANDS])]


@dataclass(frozen=True)
class Preset:
    label: str
    description: str
    filters: dict[str, Any]


PRESETS: dict[str, Preset] = {
    OFF: Preset("Off", "Reset every effect and the equalizer", {}),
    "bass_low": Preset("Bass boost: low", "A little more bass",
                       {"equalizer": _eq(0.1, 0.08, 0.05)}),
    "bass_medium": Preset("Bass boost: medium", "Clearly more bass",
                          {"equalizer": _eq(0.2, 0.15, 0.1, 0.05)}),
    "bass_high": Preset("Bass boost: high", "Heavy bass",
                        {"equalizer": _eq(0.35, 0.3, 0.2, 0.1, 0.05)}),
    "nightcore": Preset("Nightcore", "Faster and higher",
                        {"timescale": {"speed": 1.2, "pitch": 1.2, "rate": 1.0}}),
    "vaporwave": Preset("Vaporwave", "Slower and lower",
                        {"timescale": {"speed": 0.85, "pitch": 0.8, "rate": 1.0}}),
    "8d": Preset("8D", "The sound circles around your head",
                 {"rotation": {"rotationHz": 0.2}}),
    "karaoke": Preset("Karaoke", "Quieter lead vocals",
                      {"karaoke": {"level": 1.0, "monoLevel": 1.0, "filterBand": 220.0,
                                   "filterWidth": 100.0}}),
    "tremolo": Preset("Tremolo", "A wavering volume",
                      {"tremolo": {"frequency": 4.0, "depth": 0.6}}),
}


def to_wavelink(filters: dict[str, Any] | None) -> wavelink.Filters:
    return wavelink.Filters(data=filters or None)  # type: ignore[arg-type]  # our dict is Lavalink's FilterPayload


def adopt(player: wavelink.Player, filters: dict[str, Any] | None) -> None:
    """Make `filters` the player's own without a request: its next `play` sends them."""
    built = to_wavelink(filters)
    player.filters.set_filters(
        reset=True, volume=built.volume, equalizer=built.equalizer,  # type: ignore[arg-type]  # None clears it
        karaoke=built.karaoke, timescale=built.timescale, tremolo=built.tremolo,
        vibrato=built.vibrato, rotation=built.rotation, distortion=built.distortion,
        channel_mix=built.channel_mix, low_pass=built.low_pass,
        plugin_filters=built.plugin_filters)


def used_filters(filters: dict[str, Any]) -> set[str]:
    """The Lavalink filter names `filters` actually uses (an all-zero equalizer is none)."""
    used = {name for name, value in filters.items() if value}
    if "equalizer" in used and not any(b.get("gain") for b in filters["equalizer"]):
        used.discard("equalizer")
    return used


def fitted(filters: dict[str, Any], available: set[str] | frozenset[str]) -> dict[str, Any]:
    """`filters` without those the node lacks (a failover target configured differently)."""
    return {k: v for k, v in filters.items() if k in available}


class Effects:
    def __init__(self, service: MusicService, audit: Any, features: NodeFeaturesCache) -> None:
        self.service = service
        self.playback = service.playback
        self.audit = audit
        self.features = features
        # The effect each player carries, so a change needs no read before its PATCH. Keyed by
        # the player object: a new player (after /stop and /play) starts clean, and a player
        # that is gone takes its entry with it.
        self._active: weakref.WeakKeyDictionary[wavelink.Player, dict[str, Any]] = (
            weakref.WeakKeyDictionary())

    # -- restore ------------------------------------------------------------------------------

    async def prepare(self, guild_id: int, player: wavelink.Player, node: Any,
                      stored: dict[str, Any] | None) -> None:
        """Put a session's stored effect on a new player (after a restart) or one about to
        move (failover), without what `node` lacks; the player's next play sends it."""
        filters = dict((stored or {}).get("filters") or {})
        if not used_filters(filters):
            return  # nothing on: no need to ask the node anything
        features = await self.features.of(node)
        if features.known:
            filters = fitted(filters, features.filters)
        adopt(player, filters)
        self._active[player] = copy.deepcopy(filters)

    # -- changing -----------------------------------------------------------------------------

    async def check(self, guild_id: int, user_id: int, member_channel: int | None,
                    is_dj: bool) -> wavelink.Player:
        """The player whose effects this member may change now (else a UserError why)."""
        # The playback's mirrors of the session row: nothing is read before the PATCH.
        player = self.playback.players.get(guild_id)
        channel = self.playback.channels.get(guild_id)
        if player is None or channel is None:
            raise UserError("Nothing is playing. Use /play first, then add an effect.")
        if member_channel != channel:
            raise UserError(f"Join <#{channel}> to change the effects.")
        settings = await self.service.guild_settings(guild_id)
        if settings.dj_role_id is not None and not is_dj:
            raise UserError("Only DJs can change effects in this server.")
        current = self.playback.current.get(guild_id)
        if current is not None and current.cannabis:
            await self.service.require_adult(guild_id, user_id, "The current track")
        return player

    async def stored(self, guild_id: int, player: wavelink.Player) -> dict[str, Any]:
        """The filters on now (for changing one band or the speed of what is on)."""
        active = self._active.get(player)
        if active is None:  # a player restored before this object knew it: ask the session
            session = await self.playback.session(guild_id)
            effects = (session.effects if session is not None else None) or {}
            active = self._active[player] = dict(effects.get("filters") or {})
        return copy.deepcopy(active)

    async def apply_preset(self, guild_id: int, user_id: int, member_channel: int | None,
                           name: str, *, is_dj: bool) -> str:
        preset = PRESETS.get(name)
        if preset is None:
            raise UserError("That effect is not on the list; open /music effects again.")
        player = await self.check(guild_id, user_id, member_channel, is_dj)
        await self._apply(guild_id, user_id, player, name, copy.deepcopy(preset.filters))
        if name == OFF:
            return "Effects off: the music plays as recorded."
        return f"Effect on: **{preset.label}**."

    async def speed_pitch(self, guild_id: int, user_id: int, member_channel: int | None,
                          speed: float | None, pitch: float | None, *, is_dj: bool) -> str:
        for what, value in (("Speed", speed), ("Pitch", pitch)):
            if value is not None and not MIN_SCALE <= value <= MAX_SCALE:
                raise UserError(f"{what} goes from {MIN_SCALE} to {MAX_SCALE} (1.0 is normal); "
                                f"{value:g} is outside that. Nothing was changed.")
        player = await self.check(guild_id, user_id, member_channel, is_dj)
        filters = await self.stored(guild_id, player)
        timescale = dict(filters.get("timescale") or {"speed": 1.0, "pitch": 1.0, "rate": 1.0})
        if speed is not None:
            timescale["speed"] = float(speed)
        if pitch is not None:
            timescale["pitch"] = float(pitch)
        filters["timescale"] = timescale
        await self._apply(guild_id, user_id, player, CUSTOM, filters)
        return (f"Speed {timescale.get('speed', 1.0):g}×, pitch "
                f"{timescale.get('pitch', 1.0):g}×.")

    async def equalizer(self, guild_id: int, user_id: int, member_channel: int | None,
                        band: int, gain: float, *, is_dj: bool) -> str:
        if not 0 <= band < BANDS:
            raise UserError(f"Bands go from 0 to {BANDS - 1}. Nothing was changed.")
        if not MIN_GAIN <= gain <= MAX_GAIN:
            raise UserError(
                f"A band's gain goes from {MIN_GAIN} (muted) to {MAX_GAIN}; 0 is flat and 0.25 "
                f"doubles it. {gain:g} is outside that, so nothing was changed.")
        player = await self.check(guild_id, user_id, member_channel, is_dj)
        filters = await self.stored(guild_id, player)
        bands = list(filters.get("equalizer") or _eq())
        bands[band] = {"band": band, "gain": float(gain)}
        filters["equalizer"] = bands
        await self._apply(guild_id, user_id, player, CUSTOM, filters)
        return f"Equalizer band {band} set to {gain:+g}."

    async def _apply(self, guild_id: int, user_id: int, player: wavelink.Player, name: str,
                     filters: dict[str, Any]) -> None:
        features = await self.features.of(player.node)
        missing = sorted(used_filters(filters) - features.filters) if features.known else []
        if missing:
            raise UserError(
                f"This music server has the {', '.join(missing)} filter switched off, so that "
                "effect can't be used here; nothing was changed. An admin can turn it on under "
                "lavalink.server.filters in Lavalink's application.yml.")
        before = await self.stored(guild_id, player)
        try:
            await player.set_filters(to_wavelink(filters))
        except wavelink.LavalinkException as exc:
            ref = new_ref()
            log.warning("music.filters_refused", ref=ref, guild=guild_id, status=exc.status,
                        error=str(getattr(exc, "error", ""))[:300])
            raise UserError("The music server refused that effect; nothing was changed. "
                            f"(ref {ref})") from None
        effects = None if name == OFF else {"preset": name, "filters": filters}
        try:
            await MusicSession.filter(guild_id=guild_id).update(effects=effects)
        except Exception as exc:
            if not is_database_unreachable(exc):
                raise
            await self._undo(guild_id, player, before, filters)
        self._active[player] = copy.deepcopy(filters)
        await self.audit.record("music.effect_changed", guild_id=guild_id, actor_id=user_id,
                                target=name, details={"filters": sorted(used_filters(filters))})

    async def _undo(self, guild_id: int, player: wavelink.Player, before: dict[str, Any],
                    after: dict[str, Any]) -> NoReturn:
        """The effect was sent but could not be kept with the session (the database is
        down): an effect the session does not know would vanish at the next restart or
        failover, so it is taken back and the member is told nothing was changed; if even
        that fails, they are told it may have been."""
        try:
            await player.set_filters(to_wavelink(before))
        except Exception as exc:
            log.warning("music.effects_undo_failed", guild=guild_id, error=type(exc).__name__)
            self._active[player] = copy.deepcopy(after)  # what the player still carries
            raise DatabaseUnavailable(changed=True) from None
        raise DatabaseUnavailable() from None


def effect_options() -> list[tuple[str, str, str]]:
    """(label, value, description) for the effects menu."""
    return [(p.label, name, p.description) for name, p in PRESETS.items()]


def describe(session: MusicSession | None) -> str:
    effects = (session.effects or {}) if session is not None else {}
    name = effects.get("preset")
    if not name:
        return "No effect is on."
    preset = PRESETS.get(name)
    return f"Now: **{preset.label if preset else 'custom settings'}**."

