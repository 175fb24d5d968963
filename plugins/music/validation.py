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

import yarl

from bot.api import UserError

Resolver = Callable[[str], Awaitable[list[str]]]

# Search prefixes Lavalink understands; a member may type them explicitly.
SEARCH_PREFIXES = ("ytsearch:", "ytmsearch:", "scsearch:",
                   "spsearch:", "amsearch:", "dzsearch:")  # the last three: LavaSrc
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


# IPv6 prefixes that carry an IPv4 address inside (RFC 4291, 6052, 8215, 3056). A packet to
# one of them can end up at that IPv4 address (a NAT64 gateway or 6to4 relay unwraps it), so the
# address is judged by the IPv4 inside, not by the IPv6 ranges Python calls global.
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address `ip` may stand for; empty when it embeds none."""
    raw = ip.packed
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in NAT64_WELL_KNOWN or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(raw[12:16])]
    if ip in NAT64_LOCAL_USE:
        # The operator picks the prefix length (/48 ... /96), which decides where the IPv4 sits
        # (RFC 6052 §2.2, skipping bits 64-71): every possible reading must be public.
        return [ipaddress.IPv4Address(b) for b in (
            raw[6:8] + raw[9:11], raw[7:8] + raw[9:12], raw[9:13], raw[12:16])]
    if ip in SIX_TO_FOUR:
        return [ipaddress.IPv4Address(raw[2:6])]
    return []


def is_public_address(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner:
            return all(is_public_address(str(v4)) for v4 in inner)
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
    await _vetted_addresses(host, resolve, is_public_address)
    return CheckedQuery(text, is_url=True, host=host)


async def _vetted_addresses(host: str, resolve: Resolver,
                            allow: Callable[[str], bool]) -> list[str]:
    """Every address `host` resolves to, once, refused unless each one passes `allow`."""
    if not host:
        raise UserError("That link has no host.")
    try:
        addresses = [host] if _is_ip(host) else await resolve(host)
    except Exception:
        raise UserError(f"Couldn't find the host {host}; check the link.") from None
    if not addresses or not all(allow(a) for a in addresses):
        raise UserError("That link points at a private or local address; it can't be played.")
    return list(addresses)


# Longer links are not podcast feeds or episodes; it also bounds what a member makes us parse.
MAX_FETCH_URL = 2000


@dataclass(frozen=True)
class VettedUrl:
    """A URL the bot may fetch itself, with the addresses it may connect to for its host."""

    url: yarl.URL
    host: str  # as aiohttp will ask for it (IDNA-encoded, lowercase, no trailing dot)
    addresses: tuple[str, ...]


async def vet_url(raw: str, resolve: Resolver = system_resolver,
                  allow: Callable[[str], bool] = is_public_address) -> VettedUrl:
    """Check a URL the bot fetches itself: http(s), no credentials, and a host whose EVERY
    resolved address passes `allow`. The caller connects only to the addresses returned, so
    a second DNS answer (rebinding) never comes into play."""
    text = str(raw or "").strip()
    if not text or len(text) > MAX_FETCH_URL or any(c.isspace() for c in text):
        raise UserError("Give the feed's http(s) link.")
    try:
        url = yarl.URL(text)
    except (ValueError, TypeError):
        raise UserError("That link isn't a valid URL.") from None
    scheme = (url.scheme or "").lower()
    if scheme not in ("http", "https"):
        raise UserError(f"Only http and https links can be played (not {scheme or 'none'}:).")
    if url.raw_user or url.raw_password:
        raise UserError("Links with a user name or password can't be fetched.")
    host = (url.raw_host or "").rstrip(".").lower()
    addresses = await _vetted_addresses(host, resolve, allow)
    return VettedUrl(url, host, tuple(addresses))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
