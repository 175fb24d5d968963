"""What a member may hand to Lavalink: searches, or http(s) URLs of public hosts.

Lavalink fetches whatever it is given from the network it runs in. A URL pointing at loopback,
a private network, link-local or a cloud metadata address (169.254.169.254) would let a member
make the node probe the bot's infrastructure (SSRF), and `file:` or a bare path would read the
node's disk through its local source. So: only http and https, only hosts that resolve to
global addresses, and every other query becomes an explicit search.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.errors import UserError

Resolver = Callable[[str], Awaitable[list[str]]]

# Search prefixes Lavalink understands; a member may type them explicitly.
SEARCH_PREFIXES = ("ytsearch:", "ytmsearch:", "scsearch:")
DEFAULT_SEARCH = "ytsearch:"
MAX_QUERY = 300
RESOLVE_TIMEOUT = 2.0


@dataclass(frozen=True)
class CheckedQuery:
    identifier: str  # what is sent to Lavalink's loadtracks
    is_url: bool
    host: str | None = None


async def system_resolver(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
    )
    return sorted({str(info[4][0]) for info in infos})


def is_public_address(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global excludes loopback, private, link-local (metadata), shared (100.64/10),
    # reserved, documentation and unspecified ranges; multicast is excluded separately.
    return ip.is_global and not ip.is_multicast


def _scheme_of(text: str) -> str | None:
    head, sep, _ = text.partition(":")
    if sep and head and head[0].isalpha() and all(c.isalnum() or c in "+.-" for c in head):
        return head.lower()
    return None


async def check_query(raw: str, resolve: Resolver = system_resolver) -> CheckedQuery:
    """Turn what a member typed into a Lavalink identifier, or raise UserError saying why not."""
    text = " ".join(str(raw or "").split())[:MAX_QUERY]
    if not text:
        raise UserError("Type a song name or an http(s) link to play.")
    lowered = text.lower()
    for prefix in SEARCH_PREFIXES:
        if lowered.startswith(prefix):
            if not text[len(prefix):].strip():
                raise UserError("Type a song name or an http(s) link to play.")
            return CheckedQuery(text, is_url=False)
    scheme = _scheme_of(text)
    if scheme is None or (scheme not in ("http", "https") and "//" not in text and " " in text):
        # Plain words (possibly containing a colon, like "Artist: Song") are a search; the
        # explicit prefix also stops Lavalink reading a bare path through its local source.
        if text.startswith(("/", "~", "\\", ".")):
            raise UserError("Local files can't be played; paste an http(s) link instead.")
        return CheckedQuery(DEFAULT_SEARCH + text, is_url=False)
    if scheme not in ("http", "https"):
        raise UserError(f"Only http and https links can be played (not {scheme}:).")
    parts = urlsplit(text)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UserError("That link has no host.")
    try:
        addresses = [host] if _is_ip(host) else await resolve(host)
    except Exception:
        raise UserError(f"Couldn't find the host {host}; check the link.") from None
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise UserError("That link points at a private or local address; it can't be played.")
    return CheckedQuery(text, is_url=True, host=host)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
