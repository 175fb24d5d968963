"""What the music commands and buttons do, free of Discord types: the cog passes plain ids
(guild, member, the member's voice channel, whether they are a DJ) and shows the result."""

from __future__ import annotations

import re
import time
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import structlog
import wavelink

from bot.api import UserError, new_ref
from plugins.music.audience import Reply
from plugins.music.metadata import Admission, admission, track_from
from plugins.music.models import MusicGuildSettings
from plugins.music.node_errors import is_node_failure, node_trouble
from plugins.music.playback import LOAD_FAILED, Playback, Unreachable, no_node
from plugins.music.queue import AddResult, QueueRepository
from plugins.music.tracks import TrackInfo, track_id
from plugins.music.validation import Resolver, check_query, system_resolver

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bot.api import CoreServices, GuildConfig
    from plugins.music.member_prefs import MemberPreferences, Preferences

log = structlog.get_logger("plugins.music.service")

# Hard ceiling on any guild's queue, whatever the settings say.
QUEUE_CEILING = 500
CANNABIS_FEATURE = "music.cannabis"
# Words that mark a track or feed as cannabis content when no admin flag says otherwise.
CANNABIS_WORDS = re.compile(
    r"\b(cannabis|marijuana|weed|thc|cbd|stoner|kush|ganja|dispensary|strain talk)\b",
    re.IGNORECASE,
)
SEARCH_CACHE_SIZE = 512
SEARCH_CACHE_TTL = 600.0


@dataclass
class SearchResult:
    tracks: list[TrackInfo]
    playlist: str | None = None


@dataclass
class Defaults:
    max_queue_size: int = 50
    default_volume: int = 60


class MusicService:
    def __init__(
        self,
        playback: Playback,
        queue: QueueRepository,
        services: CoreServices,
        defaults: Defaults,
        *,
        resolver: Resolver = system_resolver,
        verify_view: Callable[[], Any] | None = None,
        guild_config: GuildConfig[MusicGuildSettings],
        member_preferences: MemberPreferences,
    ) -> None:
        self.playback = playback
        self.queue = queue
        self.services = services
        self.defaults = defaults
        self.resolver = resolver
        self.verify_view = verify_view or (lambda: None)
        self._cache: OrderedDict[str, tuple[float, SearchResult]] = OrderedDict()
        # Cached by the core's guild config store; the settings editor writes through them.
        self.guild_config = guild_config
        self.member_preferences = member_preferences
        # Tracks auto-queue played lately, so it does not go round in circles.
        self._recent: defaultdict[int, deque[str]] = defaultdict(lambda: deque(maxlen=50))
        # Checks Spotify/Apple Music/Deezer links against the node's LavaSrc (sources.py).
        self.other_services: Any = None

    # -- settings ---------------------------------------------------------------------------

    async def guild_settings(self, guild_id: int) -> MusicGuildSettings:
        return await self.guild_config.get(guild_id)

    async def queue_limit(self, guild_id: int) -> int:
        settings = await self.guild_settings(guild_id)
        limit = settings.max_queue_size or self.defaults.max_queue_size
        return max(1, min(limit, QUEUE_CEILING))

    async def preferences(self, guild_id: int, user_id: int) -> Preferences:
        """The member's preferences in this server (see member_prefs.py)."""
        return await self.member_preferences.get(guild_id, user_id)

    async def idle_minutes(self, guild_id: int) -> int | None:
        """How long to stay with nothing to play; None in 24/7 mode."""
        settings = await self.guild_settings(guild_id)
        return None if settings.always_on else max(1, settings.idle_minutes or 5)

    async def related(self, guild_id: int, finished: TrackInfo) -> TrackInfo | None:
        """Auto-queue: when the queue runs out and whoever queued the last track asked for it,
        a related track (same artist, or a favourite genre), never a 21+ one (nobody was asked
        for their age) and not one played recently."""
        # The server's switch AND the requester's own preference there (README: Auto-queue).
        settings = await self.guild_settings(guild_id)
        prefs = await self.preferences(guild_id, finished.requester_id)
        if not (settings.autoplay and prefs.auto_queue):
            return None
        genres = list(prefs.favourite_genres or [])
        seed = finished.author or (genres[0] if genres else finished.title)
        try:
            result = await self.search(f"ytsearch:{seed}")
        except UserError:
            return None
        recent = self._recent[guild_id]
        recent.append(finished.encoded)
        for track in result.tracks:
            if (track.encoded in recent or self.is_cannabis(track, settings)
                    or not admission(track, settings, prefs).allowed):
                continue
            recent.append(track.encoded)
            return track.with_requester(finished.requester_id, cannabis=False)
        return None

    # -- searching --------------------------------------------------------------------------

    async def search(self, query: str) -> SearchResult:
        checked = await check_query(query, self.resolver)
        cached = self._cache.get(checked.identifier)
        if cached is not None and time.monotonic() - cached[0] < SEARCH_CACHE_TTL:
            self._cache.move_to_end(checked.identifier)
            return cached[1]
        node = self.playback.lavalink.best_node()
        if node is None:
            raise no_node(self.playback.lavalink)
        if self.other_services is not None:
            await self.other_services.check(checked.identifier, node)
        try:
            # Pool.fetch_tracks sends the identifier as is; Playable.search would prefix
            # it a second time.
            found = await wavelink.Pool.fetch_tracks(checked.identifier, node=node)
        except wavelink.LavalinkLoadException as exc:
            # Lavalink's text can name internal hosts ("Connection refused: lavalink-...:2333"):
            # it goes to the log, the member gets a plain sentence and the ref to quote.
            ref = new_ref()
            log.warning("music.load_failed", ref=ref, error=str(exc.error)[:500],
                        severity=str(getattr(exc, "severity", "")),
                        cause=str(getattr(exc, "cause", ""))[:500])
            raise UserError(f"{LOAD_FAILED} (ref {ref})") from None
        except wavelink.LavalinkException as exc:
            ref = new_ref()
            log.warning("music.load_error", ref=ref, status=exc.status,
                        error=str(getattr(exc, "error", ""))[:500])
            raise UserError(
                f"The music server answered with an error ({exc.status}); try again shortly. "
                f"(ref {ref})"
            ) from None
        except (aiohttp.ClientConnectionError, OSError, TimeoutError):
            raise Unreachable() from None
        except Exception as exc:  # an answer wavelink could not parse (NodeLink's, a proxy's)
            if not is_node_failure(exc):
                raise
            raise node_trouble(exc, "load", scrub=self.playback.lavalink.scrub) from None
        if isinstance(found, wavelink.Playlist):
            result = SearchResult([track_from(t) for t in found.tracks], found.name)
        else:
            result = SearchResult([track_from(t) for t in found])
        self._cache[checked.identifier] = (time.monotonic(), result)
        while len(self._cache) > SEARCH_CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    async def suggestions(self, guild_id: int | None, user_id: int,
                          typed: str) -> list[tuple[str, str]]:
        """Autocomplete choices (name, value) for /play: search results the member may see.
        A 21+ track is offered only to a member who asked for them AND is verified here now
        (preferences only narrow: a stored opt-in never outlives verification or crosses
        into a server where the member isn't verified)."""
        if len(typed.strip()) < 2:
            return []
        try:
            result = await self.search(typed)
        except UserError:
            return []
        if guild_id is None:
            return []  # /play is a server command; suggestions follow the server's rules
        prefs = await self.preferences(guild_id, user_id)
        settings = await self.guild_settings(guild_id)
        adult_ok: bool | None = None
        out: list[tuple[str, str]] = []
        for track in result.tracks:
            if not admission(track, settings, prefs).allowed:
                continue
            adult = self.is_cannabis(track, settings)
            if adult:
                if adult_ok is None:
                    adult_ok = prefs.cannabis_opt_in and await self._verified(guild_id, user_id)
                if not adult_ok:
                    continue
            value = track.uri if track.uri and len(track.uri) <= 100 else track.title
            out.append((track.label(), value))
        return out

    async def _verified(self, guild_id: int | None, user_id: int) -> bool:
        """The gate's decision without an audit row (autocomplete runs on every keystroke)."""
        if guild_id is None:
            return False
        try:
            return bool((await self.services.age_gate.decide(guild_id, user_id)).allowed)
        except Exception as exc:
            log.error("music.gate_error", error=type(exc).__name__)
            return False

    # -- what may be queued for whom ---------------------------------------------------------

    async def admissible(self, track: TrackInfo, guild_id: int, member_id: int) -> Admission:
        """Whether `track` may be queued for `member_id` in `guild_id`: the server's longest
        track, and the member's blocked sources and explicit filter there. Every path that
        queues asks this (/play, play next, /previous, /history replay, auto-queue, saved
        playlists) through `admit`; the 21+ gate is separate (`require_adult`: audited, and
        it may offer a Verify button)."""
        return admission(track, await self.guild_settings(guild_id),
                         await self.preferences(guild_id, member_id))

    async def admit(self, tracks: Sequence[TrackInfo], guild_id: int, member_id: int
                    ) -> tuple[list[TrackInfo], Admission]:
        """The tracks `admissible` lets through, in order, and the first refusal (or an
        allowing Admission when none was refused)."""
        settings = await self.guild_settings(guild_id)
        prefs = await self.preferences(guild_id, member_id)
        kept: list[TrackInfo] = []
        first_refusal = Admission(True)
        for track in tracks:
            verdict = admission(track, settings, prefs)
            if verdict.allowed:
                kept.append(track)
            elif first_refusal.allowed:
                first_refusal = verdict
        return kept, first_refusal

    @staticmethod
    def is_cannabis_text(track: TrackInfo) -> bool:
        return bool(CANNABIS_WORDS.search(f"{track.title} {track.author}"))

    @staticmethod
    def is_flagged_host(url: str | None, settings: MusicGuildSettings) -> bool:
        host = (urlsplit(url).hostname or "").lower() if url else ""
        flagged = {str(s).lower() for s in settings.cannabis_sources or []}
        return bool(host) and any(host == f or host.endswith("." + f) for f in flagged)

    def is_cannabis(self, track: TrackInfo, settings: MusicGuildSettings) -> bool:
        return self.is_flagged_host(track.uri, settings) or self.is_cannabis_text(track)

    async def require_adult(self, guild_id: int, user_id: int, what: str, *,
                            reason: str | None = None) -> None:
        """The age gate for cannabis content; audited by the core either way."""
        decision = await self.services.age_gate.check(guild_id, user_id, CANNABIS_FEATURE)
        if not decision.allowed:
            raise UserError(
                f"{reason or f'{what} is flagged as cannabis content (21+).'} "
                f"{decision.message or 'Verify your age to use it.'}",
                view=self.verify_view(),
            )

    # -- queueing ---------------------------------------------------------------------------

    async def play(
        self, guild_id: int, user_id: int, member_channel: int | None,
        text_channel_id: int | None, query: str, *, title: str | None = None,
        force_cannabis: bool = False, front: bool = False, found: SearchResult | None = None,
    ) -> Reply:
        """Queue (or start) what `query` finds. `title` renames a single track (a podcast
        episode's HTTP source has none); `force_cannabis` marks it 21+ (a flagged feed);
        `front` puts it at the head of the queue (/play next); `found` is what to queue
        instead of searching (a saved playlist's tracks)."""
        self.check_channel(guild_id, member_channel)
        result = found if found is not None else await self.search(query)
        if not result.tracks:
            raise UserError(f"Nothing found for “{query.strip()[:80]}”. Try other words.")
        tracks, refusal = await self.admit(result.tracks, guild_id, user_id)
        if result.playlist is not None and not tracks:
            raise UserError(refusal.reason if refusal.rule == "length" else
                            "Every track in that playlist is filtered by your preferences.")
        if result.playlist is None:
            # Words: the first result the member's filters let through (a clean version
            # rather than nothing); a link: that track, or why not.
            if not tracks:
                raise UserError(refusal.reason)
            tracks = tracks[:1]
            if title:
                tracks = [replace(tracks[0], title=title[:200])]
        return await self.enqueue(guild_id, user_id, member_channel, text_channel_id, tracks,
                                  playlist=result.playlist, force_cannabis=force_cannabis,
                                  front=front)

    def check_channel(self, guild_id: int, member_channel: int | None) -> int:
        """The member's voice channel, if music may be added from it."""
        if member_channel is None:
            raise UserError("Join a voice channel first, then use /play.")
        playing_in = self.playback.channels.get(guild_id)
        if playing_in is not None and guild_id in self.playback.players and (
            playing_in != member_channel
        ):
            raise UserError(f"I'm already playing in <#{playing_in}>; join it to add music.")
        return member_channel

    async def enqueue(
        self, guild_id: int, user_id: int, member_channel: int | None,
        text_channel_id: int | None, tracks: list[TrackInfo], *, playlist: str | None = None,
        force_cannabis: bool = False, front: bool = False, via: str = "play",
    ) -> Reply:
        """Queue (or start) tracks already found and admitted (`admit`): the 21+ gate, the
        player, the queue limit, the audit row. `via` names the path in the audit row."""
        channel = self.check_channel(guild_id, member_channel)
        if not tracks:
            raise UserError("There is nothing to queue.")
        settings = await self.guild_settings(guild_id)
        prefs = await self.preferences(guild_id, user_id)
        flagged = [force_cannabis or self.is_cannabis(t, settings) for t in tracks]
        if any(flagged):
            await self.require_adult(guild_id, user_id, "That track")
            await self.services.audit.record(
                "music.cannabis_queued", guild_id=guild_id, actor_id=user_id,
                target=tracks[flagged.index(True)].title[:200],
                details={"tracks": sum(flagged)},
            )
        tracks = [t.with_requester(user_id, cannabis=f) for t, f in zip(tracks, flagged,
                                                                          strict=True)]
        volume = prefs.volume if prefs.volume is not None else self.defaults.default_volume
        await self.playback.ensure_player(guild_id, channel, text_channel_id, volume=volume)
        limit = await self.queue_limit(guild_id)
        started: TrackInfo | None = None
        if self.playback.current.get(guild_id) is None and await self.queue.is_empty(guild_id):
            # Idle with an empty queue: play first, persist after (the PATCH goes out first).
            if await self.playback.play_now(guild_id, tracks[0]):
                started = tracks[0]
        rest = tracks[1:] if started else tracks
        add = self.queue.add_front if front else self.queue.add
        added = await add(guild_id, rest, limit=limit - (1 if started else 0))
        if started:
            # The playing track took one of the free slots the member was told about.
            added = AddResult(added.added + 1, added.dropped, 0)
        elif not added.added:
            raise UserError(f"The queue is full ({limit} tracks). Remove some or wait.")
        if started is None and self.playback.current.get(guild_id) is None:
            started = await self.playback.advance(guild_id)
        await self.services.audit.record(
            "music.previous" if via == "previous" else "music.play", guild_id=guild_id,
            actor_id=user_id, target=tracks[0].title[:200],
            details={"track": track_id(tracks[0]), "tracks": added.added, "next": front,
                     "via": via})
        return self._queued_message(playlist, tracks, added, limit, started, front=front)

    @staticmethod
    def _queued_message(playlist: str | None, tracks: list[TrackInfo], added: AddResult,
                        limit: int, started: TrackInfo | None, *, front: bool = False) -> Reply:
        # A cannabis-themed playlist name is 21+ itself, whatever its tracks.
        adult_playlist = any(t.cannabis for t in tracks) or bool(
            playlist and CANNABIS_WORDS.search(playlist))

        def render(reveal: bool) -> str:
            if playlist is not None:
                name = playlist if reveal or not adult_playlist else "a 21+ playlist"
                text = f"Added {added.added} tracks from **{name}**"
                text += " to the front of the queue" if front else ""
                if added.dropped:
                    text += (f" — the queue holds {limit}, so {added.dropped} of "
                             f"{added.added + added.dropped} didn't fit")
                text += "."
            elif started is not None and started.encoded == tracks[0].encoded:
                return f"Now playing **{tracks[0].label_for(reveal)}**."
            else:
                text = (f"Queued **{tracks[0].label_for(reveal)}** at position "
                        f"{added.first_index + 1}.")
            if started is not None:
                text += f" Now playing **{started.label_for(reveal)}**."
            return text

        return Reply.of(render)
