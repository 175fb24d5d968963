"""Podcasts: read an RSS or Atom feed, list its latest episodes, play an enclosure through
Lavalink's HTTP source, and transcribe an episode through an OpenAI-compatible endpoint.

Every URL the bot itself fetches (the feed, redirects, the audio for a transcript) passes the
same public-http(s)-only check as /play, hop by hop, so a feed cannot point the bot at internal
addresses either.
"""

from __future__ import annotations

import io
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.api import UserError
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
# A select menu shows at most 25 options.
MAX_EPISODES = 25
AUDIO_SUFFIXES = (".mp3", ".m4a", ".ogg", ".opus", ".wav", ".aac")
TRANSCRIPTION_MODEL = "whisper-1"
ATOM = "{http://www.w3.org/2005/Atom}"


@dataclass(frozen=True)
class Episode:
    title: str
    url: str
    published: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Feed:
    title: str
    description: str
    episodes: list[Episode]


class Fetcher(Protocol):
    async def fetch(self, url: str, *, max_bytes: int) -> bytes: ...


def _text(node: ET.Element | None) -> str:
    return " ".join((node.text or "").split()) if node is not None else ""


def parse_feed(data: bytes, base_url: str) -> Feed:
    """Episodes with an audio enclosure, newest first as the feed lists them."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        raise UserError("That link isn't an RSS or Atom podcast feed.") from None
    episodes: list[Episode] = []
    if root.tag == f"{ATOM}feed":
        title = _text(root.find(f"{ATOM}title"))
        description = _text(root.find(f"{ATOM}subtitle"))
        for entry in root.findall(f"{ATOM}entry"):
            link = next((ln for ln in entry.findall(f"{ATOM}link")
                         if ln.get("rel") == "enclosure" and ln.get("href")), None)
            if link is not None:
                episodes.append(Episode(_text(entry.find(f"{ATOM}title")) or "Untitled",
                                        urljoin(base_url, link.get("href", "")),
                                        _text(entry.find(f"{ATOM}updated"))))
    else:
        channel = root.find("channel")
        if root.tag != "rss" or channel is None:
            raise UserError("That link isn't an RSS or Atom podcast feed.")
        title = _text(channel.find("title"))
        description = _text(channel.find("description"))
        for item in channel.findall("item"):
            enclosure = item.find("enclosure")
            if enclosure is not None and enclosure.get("url"):
                episodes.append(Episode(_text(item.find("title")) or "Untitled",
                                        urljoin(base_url, enclosure.get("url", "")),
                                        _text(item.find("pubDate"))))
    return Feed(title or "Podcast", description, episodes[:MAX_EPISODES])


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


class Transcriber:
    """Audio transcription on the configured OpenAI-compatible endpoint."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        import openai

        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "none",
                                         timeout=max(timeout, 60.0), max_retries=1)

    async def transcribe(self, audio: bytes, filename: str) -> str:
        import openai

        try:
            result = await self.client.audio.transcriptions.create(
                model=TRANSCRIPTION_MODEL, file=(filename, io.BytesIO(audio)))
        except openai.APIError as exc:
            raise UserError("The transcription service failed; try again later. "
                            f"({type(exc).__name__})") from None
        return str(getattr(result, "text", "") or "")

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
        if self.transcriber is None:
            raise UserError(NO_TRANSCRIPTION)
        audio = await self.fetcher.fetch(episode.url, max_bytes=MAX_AUDIO_BYTES)
        filename = urlsplit(episode.url).path.rsplit("/", 1)[-1] or "episode.mp3"
        text = await self.transcriber.transcribe(audio, filename[:100])
        if not text.strip():
            raise UserError("The transcription came back empty.")
        return text


def episodes_from_state(data: dict[str, Any]) -> list[Episode]:
    return [Episode(**e) for e in data.get("episodes", [])]
