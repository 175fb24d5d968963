"""Saved playlists: who may see, play and change which, limits, 21+ handling, and importing
through Lavalink. Free of Discord types: the cog passes plain ids and whether the member is a
DJ, and shows the answers.

A member's playlists are theirs in the server where they made them; a server playlist
(owner 0) is managed by the DJs and played by anyone. A shared playlist can be viewed and
played by everyone in the server, and changed by its owner only. Anyone else's unshared
playlist is answered as "not found", so names of private playlists don't leak.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.api import UserError, clean_query
from plugins.music.audience import Reply
from plugins.music.playback import LOAD_FAILED
from plugins.music.playlist_store import (
    SERVER,
    Appended,
    NameTaken,
    PlaylistStore,
    row_to_track,
)
from plugins.music.queue import entry_to_track
from plugins.music.service import CANNABIS_WORDS, QUEUE_CEILING, SearchResult
from plugins.music.tracks import ADULT_PLACEHOLDER, TrackInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from plugins.music.models import MusicPlaylist, MusicPlaylistTrack
    from plugins.music.service import MusicService

MAX_NAME = 50
# Discord mention syntax and the two mass pings; the client's AllowedMentions.none() keeps
# them from pinging anyway, but a name that shows as someone's mention misleads.
MENTION = re.compile(r"<(@[!&]?|#)\d+>|@(everyone|here)\b", re.IGNORECASE)
MARKDOWN = re.compile(r"([\\*_~`|\[\]()<>])")
BY_ID = re.compile(r"#(\d{1,19})")
# What anyone who might not be verified 21+ sees instead of a cannabis-themed playlist name.
ADULT_NAME = "21+ playlist"


def escape(text: str) -> str:
    """Markdown characters shown as themselves (names and titles are the members' words)."""
    return MARKDOWN.sub(r"\\\1", text)


def clean_name(raw: str, *, lenient: bool = False) -> tuple[str, str]:
    """(name, lookup key) for a playlist name a member typed; `lenient` (a name Lavalink
    gave an imported playlist) drops mentions and cuts to length instead of refusing."""
    name = clean_query(raw)
    if lenient:
        name = " ".join(MENTION.sub("", name).split())[:MAX_NAME].strip() or "Imported playlist"
    if not name:
        raise UserError("Give the playlist a name.")
    if len(name) > MAX_NAME:
        raise UserError(f"Playlist names are at most {MAX_NAME} characters.")
    if MENTION.search(name):
        raise UserError("Playlist names can't contain mentions (@someone, @everyone, @here, "
                        "#channel); pick another name.")
    if BY_ID.fullmatch(name):
        raise UserError("A playlist name can't be just #number; add a word.")
    return name, name.casefold()


def adult_name(name: str) -> bool:
    """A cannabis-themed name ("Blue Dream weed sesh") is 21+ content itself, judged by the
    words that mark a track's title: only verified members and 21+-only places see it."""
    return bool(CANNABIS_WORDS.search(name))


def name_for(name: str, reveal: bool) -> str:
    return ADULT_NAME if adult_name(name) and not reveal else name


def shown(playlist: MusicPlaylist, reveal: bool = False) -> str:
    """The name in bold; a cannabis-themed one as the placeholder unless `reveal`, so code
    that does not ask can't leak it."""
    return f"**{escape(name_for(playlist.name, reveal))}**"


def name_taken(name: str) -> UserError:
    return UserError(f"There is already a playlist called **{escape(name)}** here; pick "
                     "another name.")


@dataclass(frozen=True)
class Limits:
    playlists: int  # per member (and for the server's own) in one server
    tracks: int  # per playlist


class PlaylistService:
    def __init__(self, store: PlaylistStore, music: MusicService, limits: Limits) -> None:
        self.store = store
        self.music = music
        self.limits = limits

    # -- finding, and who may do what -------------------------------------------------------

    @staticmethod
    def can_view(playlist: MusicPlaylist, user_id: int) -> bool:
        return playlist.owner_id in (user_id, SERVER) or playlist.shared

    async def resolve(self, guild_id: int, user_id: int, ref: str, *, edit: bool = False,
                      is_dj: bool = False) -> MusicPlaylist:
        """`ref` is a suggestion's "#id" or a name: the member's own first, then the
        server's, then one shared by someone else."""
        ref = clean_query(ref)
        found: MusicPlaylist | None = None
        by_id = BY_ID.fullmatch(ref)
        if by_id:
            found = await self.store.get(int(by_id[1]))
            if found is not None and (found.guild_id != guild_id
                                      or not self.can_view(found, user_id)):
                found = None
        elif ref:
            key = ref.casefold()
            found = (await self.store.named(guild_id, user_id, key)
                     or await self.store.named(guild_id, SERVER, key))
            if found is None:
                shared = await self.store.shared_named(guild_id, key)
                if len(shared) > 1:
                    raise UserError(f"Several members share a playlist called "
                                    f"**{escape(name_for(ref, False))}**; pick the one you "
                                    "mean from the suggestions as you type.")
                found = shared[0] if shared else None
        if found is None:
            raise UserError(f"There is no playlist **{escape(name_for(ref[:MAX_NAME], False))}"
                            "** that you can "
                            "see here. `/playlist list` shows yours, the server's and shared "
                            "ones.")
        if edit:
            self.check_edit(found, user_id, is_dj)
        return found

    @staticmethod
    def check_edit(playlist: MusicPlaylist, user_id: int, is_dj: bool) -> None:
        if playlist.owner_id == user_id:
            return
        if playlist.owner_id == SERVER:
            if not is_dj:
                raise UserError(f"{shown(playlist)} is a server playlist: only DJs can change "
                                "it. You can play it, or save your own copy with "
                                "`/playlist create` while it plays.")
            return
        raise UserError(f"{shown(playlist)} belongs to <@{playlist.owner_id}> and is shared "
                        "read-only: you can view and play it, not change it.")

    async def _check_name(self, guild_id: int, user_id: int, name: str) -> None:
        """Saving a cannabis-themed name needs a verified member, like saving a 21+ track
        (the core audits the check)."""
        if adult_name(name):
            await self.music.require_adult(guild_id, user_id, "That playlist name")

    def _owner(self, user_id: int, server: bool, is_dj: bool) -> int:
        if server and not is_dj:
            raise UserError("Only DJs can create server playlists.")
        return SERVER if server else user_id

    async def _room_for_one_more(self, guild_id: int, owner_id: int) -> None:
        if await self.store.count_owned(guild_id, owner_id) >= self.limits.playlists:
            whose = "This server has" if owner_id == SERVER else "You have"
            raise UserError(f"{whose} {self.limits.playlists} playlists, the most allowed here. "
                            "Delete one with `/playlist delete` first.")

    async def _classified(self, guild_id: int, user_id: int, tracks: Sequence[TrackInfo],
                          what: str) -> list[TrackInfo]:
        """Tracks marked 21+ as /play would mark them; saving one needs a verified member,
        like queueing one (the core audits the check)."""
        settings = await self.music.guild_settings(guild_id)
        marked = [t.with_requester(0, cannabis=t.cannabis or self.music.is_cannabis(t, settings))
                  for t in tracks]
        if any(t.cannabis for t in marked):
            await self.music.require_adult(guild_id, user_id, what)
        return marked

    # -- creating -----------------------------------------------------------------------------

    async def create_from_queue(self, guild_id: int, user_id: int, name: str, *,
                                server: bool, is_dj: bool) -> Reply:
        """The playing track and the queue, in order; an empty playlist when nothing plays."""
        owner = self._owner(user_id, server, is_dj)
        name, key = clean_name(name)
        await self._check_name(guild_id, user_id, name)
        await self._room_for_one_more(guild_id, owner)
        tracks: list[TrackInfo] = []
        current = self.music.playback.current.get(guild_id)
        if current is not None:
            tracks.append(current)
        tracks += [entry_to_track(e) for e in
                   await self.music.queue.page(guild_id, 0, QUEUE_CEILING)]
        tracks = await self._classified(guild_id, user_id, tracks, "A track in the queue")
        try:
            playlist, saved = await self.store.create(guild_id, owner, name, key, tracks,
                                                      max_tracks=self.limits.tracks)
        except NameTaken:
            raise name_taken(name) from None
        def render(reveal: bool) -> str:
            if not tracks:
                return (f"Created {shown(playlist, reveal)}, empty: nothing is playing. Add "
                        "tracks with `/playlist add`.")
            return (f"Saved {shown(playlist, reveal)} with {saved.added} tracks from the queue."
                    + self._capped(saved))

        return Reply.of(render)

    async def import_link(self, guild_id: int, user_id: int, link: str, name: str | None, *,
                          server: bool, is_dj: bool) -> Reply:
        """A public playlist URL, loaded through Lavalink (loadType "playlist")."""
        link = link.strip()
        if not link.lower().startswith(("http://", "https://")):
            raise UserError("Give a playlist link (http or https), e.g. a YouTube playlist.")
        owner = self._owner(user_id, server, is_dj)
        if name is not None:
            # Refuse a bad name before loading anything.
            await self._check_name(guild_id, user_id, clean_name(name)[0])
        await self._room_for_one_more(guild_id, owner)
        result = await self._load(link)
        if not result.tracks:
            raise UserError("I found no playlist at that link: it may be private, deleted or "
                            "mistyped. Only public playlists can be imported.")
        if result.playlist is None:
            raise UserError("That link is a single track, not a playlist. Use `/playlist add` "
                            "to add it to one.")
        name, key = clean_name(name) if name is not None else clean_name(result.playlist,
                                                                          lenient=True)
        await self._check_name(guild_id, user_id, name)  # the playlist's own name, too
        tracks = await self._classified(guild_id, user_id, result.tracks, "A track there")
        try:
            playlist, saved = await self.store.create(guild_id, owner, name, key, tracks,
                                                      max_tracks=self.limits.tracks)
        except NameTaken:
            raise name_taken(name) from None
        return Reply.of(lambda reveal: f"Imported {shown(playlist, reveal)} with "
                                       f"{saved.added:,} tracks." + self._capped(saved))

    def _capped(self, saved: Appended) -> str:
        if not saved.dropped:
            return ""
        total = saved.added + saved.dropped
        return (f" It had {total:,}; a playlist holds at most {self.limits.tracks:,} tracks, "
                f"so the other {saved.dropped:,} were left out.")

    async def _load(self, link: str) -> SearchResult:
        try:
            return await self.music.search(link)
        except UserError as exc:
            # Lavalink's loadType "error" (a private or region-locked playlist, among others);
            # the service logged its text under the ref.
            if exc.message.startswith(LOAD_FAILED):
                raise UserError(exc.message.replace(
                    LOAD_FAILED, "That playlist could not be loaded: it may be private, "
                    "deleted or not available here.")) from None
            raise

    # -- editing ------------------------------------------------------------------------------

    async def add(self, guild_id: int, user_id: int, ref: str, query: str, *,
                  is_dj: bool) -> Reply:
        playlist = await self.resolve(guild_id, user_id, ref, edit=True, is_dj=is_dj)
        result = await self.music.search(query)
        if not result.tracks:
            raise UserError(f"Nothing found for “{escape(query.strip()[:80])}”. Try other words.")
        tracks = result.tracks if result.playlist is not None else result.tracks[:1]
        tracks = await self._classified(guild_id, user_id, tracks, "That track")
        done = await self.store.append(playlist.id, tracks, max_tracks=self.limits.tracks)
        if not done.added:
            raise UserError(f"{shown(playlist)} is full ({self.limits.tracks:,} tracks, the "
                            "most a playlist may hold). Remove some first.")
        if len(tracks) == 1:
            return Reply.of(lambda reveal: f"Added **{escape(tracks[0].title_for(reveal))}** to "
                                           f"{shown(playlist, reveal)} as track {done.total}.")
        return Reply.of(lambda reveal: f"Added {done.added:,} tracks to "
                                       f"{shown(playlist, reveal)}." + self._capped(done))

    async def remove(self, guild_id: int, user_id: int, ref: str, position: int, *,
                     is_dj: bool) -> Reply:
        playlist = await self.resolve(guild_id, user_id, ref, edit=True, is_dj=is_dj)
        row = await self.store.remove_at(playlist.id, position - 1) if position >= 1 else None
        if row is None:
            raise UserError(f"There is no track {position} in {shown(playlist)}.")
        track = row_to_track(row)
        return Reply.of(lambda reveal: f"Removed **{escape(track.title_for(reveal))}** from "
                                       f"{shown(playlist, reveal)}.")

    async def move(self, guild_id: int, user_id: int, ref: str, src: int, dst: int, *,
                   is_dj: bool) -> Reply:
        playlist = await self.resolve(guild_id, user_id, ref, edit=True, is_dj=is_dj)
        row = await self.store.move(playlist.id, src - 1, dst - 1)
        if row is None:
            raise UserError(f"Positions in {shown(playlist)} go from 1 to its length; "
                            "`/playlist show` numbers them.")
        track = row_to_track(row)
        return Reply.of(lambda reveal: f"Moved **{escape(track.title_for(reveal))}** to "
                                       f"position {dst} in {shown(playlist, reveal)}.")

    async def rename(self, guild_id: int, user_id: int, ref: str, new_name: str, *,
                     is_dj: bool) -> Reply:
        playlist = await self.resolve(guild_id, user_id, ref, edit=True, is_dj=is_dj)
        name, key = clean_name(new_name)
        await self._check_name(guild_id, user_id, name)
        try:
            await self.store.rename(playlist.id, name, key)
        except NameTaken:
            raise name_taken(name) from None
        return Reply.of(lambda reveal: f"Renamed {shown(playlist, reveal)} to "
                                       f"**{escape(name_for(name, reveal))}**.")

    async def share(self, guild_id: int, user_id: int, ref: str, on: bool) -> Reply:
        playlist = await self.resolve(guild_id, user_id, ref)
        if playlist.owner_id == SERVER:
            raise UserError("Server playlists are visible to everyone here already.")
        if playlist.owner_id != user_id:
            raise UserError(f"Only <@{playlist.owner_id}> can share or unshare "
                            f"{shown(playlist)}.")
        await self.store.set_shared(playlist.id, on)
        if on:
            return Reply.of(lambda reveal: f"{shown(playlist, reveal)} is shared: everyone "
                                           "here can view and play it; only you can change it.")
        return Reply.of(lambda reveal: f"{shown(playlist, reveal)} is private again.")

    async def check_delete(self, guild_id: int, user_id: int, ref: str, *,
                           is_dj: bool) -> MusicPlaylist:
        return await self.resolve(guild_id, user_id, ref, edit=True, is_dj=is_dj)

    async def delete(self, guild_id: int, user_id: int, playlist_id: int, *,
                     is_dj: bool) -> Reply:
        playlist = await self.resolve(guild_id, user_id, f"#{playlist_id}", edit=True,
                                      is_dj=is_dj)
        await self.store.delete(playlist.id)
        return Reply.of(lambda reveal: f"Deleted {shown(playlist, reveal)}.")

    # -- reading ------------------------------------------------------------------------------

    async def listing(self, guild_id: int, user_id: int) -> Reply:
        visible = await self.store.visible(guild_id, user_id, limit=100)

        def render(reveal: bool) -> str:
            groups: dict[str, list[str]] = {"Yours": [], "Server playlists": [],
                                            "Shared by others": []}
            for p in visible:
                line = f"`#{p.id}` {shown(p, reveal)} · {p.track_count} tracks"
                if p.owner_id == user_id:
                    groups["Yours"].append(line + (" · shared" if p.shared else ""))
                elif p.owner_id == SERVER:
                    groups["Server playlists"].append(line)
                else:
                    groups["Shared by others"].append(f"{line} · <@{p.owner_id}>")
            parts = [f"**{title}**\n" + "\n".join(lines)
                     for title, lines in groups.items() if lines]
            if not parts:
                return ("No playlists here yet. `/playlist create` saves the queue, "
                        "`/playlist import` a public playlist link.")
            return "\n\n".join(parts)[:1900]

        return Reply.of(render)

    async def adult_test(self, guild_id: int) -> Callable[[MusicPlaylistTrack], bool]:
        """Whether a saved track is 21+ now: as marked when saved, or by this server's current
        flagged hosts (an admin may flag one later)."""
        settings = await self.music.guild_settings(guild_id)
        return lambda row: row.cannabis or self.music.is_cannabis(row_to_track(row), settings)

    async def has_adult(self, guild_id: int, playlist: MusicPlaylist) -> bool:
        settings = await self.music.guild_settings(guild_id)
        if not settings.cannabis_sources:
            return await self.store.has_adult(playlist.id)
        adult = await self.adult_test(guild_id)
        return any(adult(r) for r in await self.store.tracks(playlist.id))

    async def export(self, guild_id: int, user_id: int, ref: str, *, reveal: bool
                     ) -> tuple[MusicPlaylist, str]:
        """One line per track, "title — link"; a 21+ track is the placeholder unless
        `reveal` (the reader is verified)."""
        playlist = await self.resolve(guild_id, user_id, ref)
        adult = await self.adult_test(guild_id)
        lines = []
        for row in await self.store.tracks(playlist.id):
            if not reveal and adult(row):
                lines.append(ADULT_PLACEHOLDER)
            else:
                title = " ".join(row.title.split())
                lines.append(f"{title} — {row.uri or ''}".rstrip(" —"))
        return playlist, "\n".join(lines) + ("\n" if lines else "")

    # -- playing ------------------------------------------------------------------------------

    async def play(self, guild_id: int, user_id: int, member_channel: int | None,
                   text_channel_id: int | None, ref: str, *, shuffle: bool,
                   rng: random.Random | None = None) -> Reply:
        """Queue the playlist like a playlist link through /play: the same voice, 21+ gate,
        preference filters, track length limit and queue limit."""
        playlist = await self.resolve(guild_id, user_id, ref)
        tracks = [row_to_track(r) for r in await self.store.tracks(playlist.id)]
        if not tracks:
            raise UserError(f"{shown(playlist)} is empty. Add tracks with `/playlist add`.")
        if shuffle:
            (rng or random.SystemRandom()).shuffle(tracks)
        return await self.music.play(guild_id, user_id, member_channel, text_channel_id,
                                     playlist.name, found=SearchResult(tracks,
                                                                       escape(playlist.name)))
