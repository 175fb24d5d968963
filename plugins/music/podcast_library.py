"""Stored podcasts: feeds and their episodes as last read, servers following feeds with
automatic transcription of new episodes (a bounded poll), and stored transcripts in pages.
Free of Discord types.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery

from bot.api import Page, UserError
from plugins.music.feeds import Episode, Feed
from plugins.music.models import (
    MusicSession,
    PodcastEpisode,
    PodcastFeed,
    PodcastSubscription,
    PodcastTranscript,
)
from plugins.music.transcripts import SERVER, episode_key

if TYPE_CHECKING:
    from plugins.music.podcasts import Podcasts
    from plugins.music.transcripts import Transcripts

log = structlog.get_logger("plugins.music.podcast_library")

# One poll reads at most this many feeds (the least recently read first) and pays for at most
# this many transcriptions, so a busy hour can't run up the bill or hold the loop for long.
POLL_INTERVAL = 30 * 60.0
# A poll the database cut short is run again this soon, not half an hour later.
POLL_RETRY = 60.0
MAX_FEEDS_PER_POLL = 20
MAX_TRANSCRIPTS_PER_POLL = 5
# Discord: an embed description holds 4,096 characters; pages stay well under it.
TRANSCRIPT_PAGE = 1800
EDUCATIONAL = "educational"


def feed_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def transcript_pages(text: str, size: int = TRANSCRIPT_PAGE) -> list[str]:
    """The text cut at whitespace into pages of at most `size` characters."""
    pages: list[str] = []
    rest = text.strip()
    while rest:
        if len(rest) <= size:
            pages.append(rest)
            break
        cut = rest.rfind(" ", size // 2, size)
        cut = cut if cut > 0 else size
        pages.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return pages or [""]


class PodcastLibrary:
    def __init__(self, podcasts: Podcasts, transcripts: Transcripts) -> None:
        self.podcasts = podcasts
        self.transcripts = transcripts

    async def read(self, url: str) -> tuple[Feed, PodcastFeed]:
        """Fetch and parse the feed, and store it with its episodes."""
        feed = await self.podcasts.read(url)
        return feed, await self.store(url, feed)

    async def store(self, url: str, feed: Feed) -> PodcastFeed:
        key = feed_key(url)
        fields: dict[str, Any] = {"url": url[:2000], "title": feed.title[:200],
                  "description": feed.description, "fetched_at": datetime.now(UTC)}
        row = await PodcastFeed.get_or_none(key=key)
        if row is None:
            with contextlib.suppress(IntegrityError):  # a concurrent read stored it first
                row = await PodcastFeed.create(key=key, **fields)
            row = row or await PodcastFeed.get(key=key)
        else:
            await PodcastFeed.filter(id=row.id).update(**fields)
        keyed = {feed_key(e.guid or e.url or e.title): e for e in feed.episodes}
        known = set(await PodcastEpisode.filter(feed_id=row.id, key__in=list(keyed))
                    .values_list("key", flat=True))
        new = [PodcastEpisode(feed_id=row.id, key=k, title=e.title[:300], url=e.url[:2000],
                              published=e.published[:64], duration_s=e.duration_s)
               for k, e in keyed.items() if k not in known]
        if new:
            # Two reads at once may both see an episode as new: the unique key keeps one.
            await PodcastEpisode.bulk_create(new, ignore_conflicts=True)
        return row

    async def mark_educational(self, guild_id: int) -> None:
        """Podcast playback makes the session educational (a meditation stays one)."""
        await MusicSession.filter(guild_id=guild_id, kind="general").update(kind=EDUCATIONAL)

    # -- automatic transcription ---------------------------------------------------------------

    async def set_auto(self, guild_id: int, url: str, enabled: bool) -> str:
        feed, row = await self.read(url)  # stores today's episodes: only later ones are new
        sub, _ = await PodcastSubscription.get_or_create(guild_id=guild_id, feed_id=row.id)
        await PodcastSubscription.filter(id=sub.id).update(
            auto_since=datetime.now(UTC) if enabled else None)
        if enabled:
            return (f"New episodes of **{feed.title}** will be transcribed as they appear "
                    "(checked every 30 minutes, counted against this server's daily "
                    "transcript budget). Read them with `/podcasts transcript`.")
        return f"Automatic transcription of **{feed.title}** is off."

    async def poll(self) -> int:
        """One bounded pass over the feeds with automatic transcription on; returns how many
        transcripts were made."""
        subs = await PodcastSubscription.filter(auto_since__isnull=False).values(
            "guild_id", "feed_id", "auto_since")
        by_feed: dict[int, list[dict[str, Any]]] = {}
        for sub in subs:
            by_feed.setdefault(sub["feed_id"], []).append(sub)
        feeds = await PodcastFeed.filter(id__in=list(by_feed)).order_by("fetched_at").limit(
            MAX_FEEDS_PER_POLL)
        made = 0
        for feed_row in feeds:
            try:
                await self.read(feed_row.url)
            except UserError as exc:
                log.info("music.podcast_poll_failed", feed=feed_row.id, reason=str(exc)[:100])
                await PodcastFeed.filter(id=feed_row.id).update(fetched_at=datetime.now(UTC))
                continue
            since = min(s["auto_since"] for s in by_feed[feed_row.id])
            # Transcripts are shared per episode: one made (or under way) anywhere counts.
            untranscribed = PodcastEpisode.filter(
                feed_id=feed_row.id, first_seen_at__gt=since,
            ).exclude(url="").exclude(url__in=Subquery(PodcastTranscript.all().values("url")))
            for episode in await untranscribed.order_by("-first_seen_at", "-id").limit(
                MAX_TRANSCRIPTS_PER_POLL - made):
                made += await self._transcribe(episode, by_feed[feed_row.id])
            if made >= MAX_TRANSCRIPTS_PER_POLL:
                break
        return made

    async def _transcribe(self, row: PodcastEpisode, subs: list[dict[str, Any]]) -> int:
        """One paid call, against the first following server whose budget has room."""
        episode = Episode(row.title, row.url, row.published, row.duration_s)
        for sub in subs:
            if sub["auto_since"] >= row.first_seen_at:
                continue  # switched on after this episode appeared
            try:
                await self.transcripts.get(sub["guild_id"], SERVER, episode)
            except UserError as exc:
                log.info("music.auto_transcript_refused", guild=sub["guild_id"],
                         episode=row.id, reason=str(exc)[:100])
                continue
            log.info("music.auto_transcribed", guild=sub["guild_id"], episode=row.id)
            return 1
        return 0

    # -- reading transcripts ----------------------------------------------------------------

    async def transcribed(self, typed: str, limit: int = 25) -> list[PodcastEpisode]:
        """Stored episodes with a finished transcript whose title has `typed`, with their feed
        (for autocomplete)."""
        done = Subquery(PodcastTranscript.filter(status="done").values("url"))
        return list(await PodcastEpisode.filter(url__in=done, title__icontains=typed)
                    .order_by("-first_seen_at").limit(limit).prefetch_related("feed"))

    async def transcript(self, episode_id: int) -> tuple[PodcastEpisode, PodcastFeed, str]:
        row = await PodcastEpisode.get_or_none(id=episode_id)
        if row is None or not row.url:
            raise UserError("Pick an episode from the list.")
        stored = await PodcastTranscript.get_or_none(key=episode_key(row.url), status="done")
        if stored is None:
            raise UserError("That episode has no transcript yet: play it with /podcast and "
                            "press Transcribe.")
        return row, await PodcastFeed.get(id=row.feed_id), stored.text or ""


class TranscriptPages:
    """A stored transcript as pages for the core paginator (params: episode id)."""

    def __init__(self, library: PodcastLibrary) -> None:
        self.library = library

    async def page_count(self, params: dict[str, Any]) -> int:
        _, _, text = await self.library.transcript(int(params["episode"]))
        return len(transcript_pages(text))

    async def render(self, params: dict[str, Any], page: int) -> Page:
        row, _, text = await self.library.transcript(int(params["episode"]))
        pages = transcript_pages(text)
        return Page(content=f"**{row.title}**\n{pages[min(page, len(pages) - 1)]}")
