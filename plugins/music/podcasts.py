"""Podcasts: read an RSS or Atom feed (parsed in feeds.py), list its latest episodes, play an
enclosure through Lavalink's HTTP source, and transcribe an episode through an
OpenAI-compatible endpoint.

Every URL the bot itself fetches (the feed, redirects, the audio for a transcript) passes the
same public-http(s)-only check as /play, hop by hop, so a feed cannot point the bot at internal
addresses either.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.api import UserError
from plugins.music.feeds import Episode, Feed, parse_feed
from plugins.music.validation import (
    Resolver,
    VettedUrl,
    is_public_address,
    system_resolver,
    vet_url,
)

MAX_FEED_BYTES = 2_000_000
# OpenAI's transcription endpoint accepts files up to 25 MB.
MAX_AUDIO_BYTES = 25 * 1024 * 1024
MAX_REDIRECTS = 3
FETCH_TIMEOUT = 15.0
READ_CHUNK = 64 * 1024
AUDIO_SUFFIXES = (".mp3", ".m4a", ".ogg", ".opus", ".wav", ".aac")
TRANSCRIPTION_MODEL = "whisper-1"


class Fetcher(Protocol):
    async def fetch(self, url: str, *, max_bytes: int) -> bytes: ...


def looks_like_audio(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(AUDIO_SUFFIXES)


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver for the fetcher: it answers only with addresses `vet_url` already
    checked, and refuses any other name, so aiohttp never makes a DNS lookup of its own (a
    second lookup could answer 127.0.0.1 after the first answered a public address). aiohttp
    still sends the URL's host name in the Host header and TLS SNI."""

    def __init__(self) -> None:
        self.pinned: dict[str, tuple[str, ...]] = {}

    def pin(self, vetted: VettedUrl) -> None:
        self.pinned[vetted.host] = vetted.addresses

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addresses = self.pinned.get(host.rstrip(".").lower())
        if not addresses:
            raise OSError(f"{host} was not checked before connecting")
        return [ResolveResult(hostname=host, host=a, port=port,
                              family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST) for a in addresses]

    async def close(self) -> None:
        return None


class HttpFetcher:
    """GET with a size cap and redirects followed by hand: each hop's host is resolved once,
    every address checked, and the connection made to a checked address."""

    def __init__(self, resolver: Resolver = system_resolver,
                 allow: Callable[[str], bool] = is_public_address,
                 timeout: float = FETCH_TIMEOUT) -> None:
        self.resolver = resolver
        self.allow = allow  # tests let 127.0.0.1 stand in for a public address
        self.timeout = timeout

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        pinned = PinnedResolver()
        # No DNS cache: every hop is resolved (once) by vet_url, never by aiohttp.
        connector = aiohttp.TCPConnector(resolver=pinned, use_dns_cache=False)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector,
                                         trust_env=False) as session:
            for _hop in range(MAX_REDIRECTS + 1):
                vetted = await vet_url(url, self.resolver, self.allow)
                pinned.pin(vetted)
                try:
                    async with session.get(vetted.url, allow_redirects=False) as resp:
                        if resp.status in (301, 302, 303, 307, 308):
                            url = str(vetted.url.join(yarl.URL(resp.headers.get("Location", ""))))
                            continue
                        if resp.status != 200:
                            raise UserError(f"The feed answered HTTP {resp.status}.")
                        return await read_capped(resp, max_bytes)
                except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
                    raise UserError("Couldn't download that link; try again later.") from None
        raise UserError("That link redirects too many times.")


async def read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The whole body, chunk after chunk, refusing it once it passes `max_bytes` (one read
    returns only what has arrived so far, often a fraction of the feed)."""
    too_big = UserError(f"That file is larger than {max_bytes / 1_000_000:g} MB.")
    if resp.content_length is not None and resp.content_length > max_bytes:
        raise too_big
    body = bytearray()
    async for chunk in resp.content.iter_chunked(READ_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise too_big
    return bytes(body)


@dataclass(frozen=True)
class Transcription:
    text: str
    # The audio's length as the endpoint billed it (whisper-1 reports `usage.seconds`); None
    # when it says nothing (older or self-hosted endpoints).
    seconds: float | None = None


class Transcriber:
    """Audio transcription on the configured OpenAI-compatible endpoint."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        import openai

        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "none",
                                         timeout=max(timeout, 60.0), max_retries=1)

    async def transcribe(self, audio: bytes, filename: str) -> str:
        return (await self.transcribe_billed(audio, filename)).text

    async def transcribe_billed(self, audio: bytes, filename: str) -> Transcription:
        import openai

        try:
            result = await self.client.audio.transcriptions.create(
                model=TRANSCRIPTION_MODEL, file=(filename, io.BytesIO(audio)))
        except openai.APIError as exc:
            raise UserError("The transcription service failed; try again later. "
                            f"({type(exc).__name__})") from None
        usage = getattr(result, "usage", None)
        seconds = getattr(usage, "seconds", None) if getattr(usage, "type", "") == "duration" \
            else None
        return Transcription(str(getattr(result, "text", "") or ""),
                             float(seconds) if seconds is not None else None)

    async def close(self) -> None:
        await self.client.close()


NO_TRANSCRIPTION = (
    "Transcripts need an OpenAI-compatible endpoint with audio transcription. An admin can "
    "enable them by setting MUSIC_TRANSCRIBE_BASE_URL (and MUSIC_TRANSCRIBE_API_KEY if the "
    "endpoint needs one)."
)


class Podcasts:
    def __init__(self, fetcher: Fetcher, transcriber: Transcriber | None) -> None:
        self.fetcher = fetcher
        self.transcriber = transcriber

    async def read(self, url: str) -> Feed:
        data = await self.fetcher.fetch(url, max_bytes=MAX_FEED_BYTES)
        return parse_feed(data, url)

    async def transcript(self, episode: Episode) -> str:
        audio, filename = await self.fetch_audio(episode)
        return nonempty(await self.transcribe(audio, filename))

    async def fetch_audio(self, episode: Episode) -> tuple[bytes, str]:
        """The episode's audio file and its name, to transcribe (the download costs nothing;
        the transcription does)."""
        if self.transcriber is None:
            raise UserError(NO_TRANSCRIPTION)
        audio = await self.fetcher.fetch(episode.url, max_bytes=MAX_AUDIO_BYTES)
        filename = urlsplit(episode.url).path.rsplit("/", 1)[-1] or "episode.mp3"
        return audio, filename[:100]

    async def transcribe(self, audio: bytes, filename: str) -> Transcription:
        """The paid call (its text may be empty: see `nonempty`)."""
        if self.transcriber is None:
            raise UserError(NO_TRANSCRIPTION)
        return await self.transcriber.transcribe_billed(audio, filename)


def nonempty(result: Transcription) -> str:
    """The text, or a clear error for an empty one (checked after the call is paid for)."""
    if not result.text.strip():
        raise UserError("The transcription came back empty.")
    return result.text

