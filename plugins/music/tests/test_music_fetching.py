"""The podcast fetcher can't be pointed at the inside: each hop's host is resolved once, every
address is checked (IPv6 forms judged by the IPv4 inside), the connection goes to a checked
address, and a feed is read whole up to the size cap."""

from __future__ import annotations

import pytest
from aiohttp import web

from bot.api import UserError
from plugins.music.podcasts import MAX_FEED_BYTES, HttpFetcher, parse_feed
from plugins.music.validation import is_public_address

LOOPBACK_AND_PRIVATE_IN_IPV6 = [
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.1.2.3",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "::10.0.0.1",
    "::169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 well-known prefix
    "64:ff9b::a00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::7f00:1",  # NAT64 local-use prefix
    "64:ff9b:1:7f00:0:100::",  # ... with a /48 layout
    "2002:7f00:1::",  # 6to4
    "2002:a00:1::1",
    "2002:a9fe:a9fe::",
    "2002:c0a8:101::",
]


@pytest.mark.parametrize("address", LOOPBACK_AND_PRIVATE_IN_IPV6)
def test_ipv6_forms_embedding_a_private_ipv4_are_not_public(address):
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::",
                                     "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_stay_public(address):
    assert is_public_address(address)


class ScriptedResolver:
    """DNS answers in order, one list per lookup; records every lookup."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def loopback_stands_in_for_public(address: str) -> bool:
    """The test server listens on 127.0.0.1; here it plays a public host."""
    return address == "127.0.0.1" or is_public_address(address)


def chunky_rss(episodes: int) -> bytes:
    items = "".join(
        f"<item><title>Episode {n}</title><description>{'talk ' * 400}</description>"
        f'<enclosure url="https://pods.example.com/{n}.mp3" type="audio/mpeg"/></item>'
        for n in range(episodes))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Long Show</title>'
            f"{items}</channel></rss>").encode()


@pytest.fixture
async def feed_server():
    """A local HTTP server; `hits` lists the paths it was asked for."""
    hits: list[str] = []
    big_feed = chunky_rss(200)  # about 400 KB: many network chunks

    async def streamed(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        for start in range(0, len(big_feed), 16 * 1024):  # chunked, no Content-Length
            await resp.write(big_feed[start:start + 16 * 1024])
        await resp.write_eof()
        return resp

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        if request.path == "/moved":
            raise web.HTTPFound("/big.xml")
        if request.path == "/to-metadata":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        if request.path == "/to-nat64-loopback":
            raise web.HTTPFound("http://[64:ff9b::7f00:1]/")
        if request.path == "/to-file":
            raise web.HTTPFound("file:///etc/passwd")
        if request.path == "/huge":
            return web.Response(body=b"x" * (MAX_FEED_BYTES + 1))
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/big.xml", streamed)
    app.router.add_get("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started above, so the server is set
    yield hits, port, big_feed
    await runner.cleanup()


async def test_a_feed_larger_than_one_read_is_read_whole(feed_server):
    _hits, port, big_feed = feed_server
    fetcher = HttpFetcher(ScriptedResolver(["127.0.0.1"]), allow=loopback_stands_in_for_public)
    body = await fetcher.fetch(f"http://pods.example.com:{port}/big.xml", max_bytes=MAX_FEED_BYTES)
    assert body == big_feed
    assert len(parse_feed(body, "https://pods.example.com/").episodes) == 25  # a menu's worth
    with pytest.raises(UserError, match=r"larger than 0\.1 MB"):
        await fetcher.fetch(f"http://pods.example.com:{port}/big.xml", max_bytes=100_000)
    with pytest.raises(UserError, match="larger than 2 MB"):
        await fetcher.fetch(f"http://pods.example.com:{port}/huge", max_bytes=MAX_FEED_BYTES)


async def test_every_redirect_hop_is_checked(feed_server):
    _hits, port, big_feed = feed_server
    resolver = ScriptedResolver(["127.0.0.1"])
    fetcher = HttpFetcher(resolver, allow=loopback_stands_in_for_public)
    base = f"http://pods.example.com:{port}"
    assert await fetcher.fetch(f"{base}/moved", max_bytes=MAX_FEED_BYTES) == big_feed
    assert resolver.asked == ["pods.example.com", "pods.example.com"]  # once per hop
    for path, says in (("/to-metadata", "private or local"),
                       ("/to-nat64-loopback", "private or local"),
                       ("/to-file", "Only http and https"),
                       ("/nothing", "HTTP 404")):
        with pytest.raises(UserError, match=says):
            await fetcher.fetch(f"{base}{path}", max_bytes=1000)


@pytest.mark.parametrize("address", [*LOOPBACK_AND_PRIVATE_IN_IPV6, "127.0.0.1", "10.0.0.5"])
async def test_a_host_resolving_to_an_inside_address_is_refused(address):
    fetcher = HttpFetcher(ScriptedResolver([address]))
    with pytest.raises(UserError, match="private or local"):
        await fetcher.fetch("https://pods.example.com/feed.xml", max_bytes=1000)


async def test_one_inside_address_among_public_ones_is_refused():
    fetcher = HttpFetcher(ScriptedResolver(["93.184.216.34", "::ffff:127.0.0.1"]))
    with pytest.raises(UserError, match="private or local"):
        await fetcher.fetch("https://pods.example.com/feed.xml", max_bytes=1000)


async def test_dns_rebinding_never_reaches_the_inside(feed_server):
    """The first answer is "public" (127.0.0.2 plays it: nothing listens there), the second is
    127.0.0.1 where the server listens. Checking and connecting use the first answer only."""
    hits, port, _ = feed_server
    resolver = ScriptedResolver(["127.0.0.2"], ["127.0.0.1"])
    fetcher = HttpFetcher(resolver, allow=lambda a: a == "127.0.0.2")
    with pytest.raises(UserError, match="Couldn't download"):
        await fetcher.fetch(f"http://rebind.example:{port}/big.xml", max_bytes=MAX_FEED_BYTES)
    assert resolver.asked == ["rebind.example"]
    assert hits == []


async def test_credentials_and_odd_links_are_refused():
    fetcher = HttpFetcher(ScriptedResolver(["93.184.216.34"]))
    for url, says in (("http://user:pw@pods.example.com/feed", "user name or password"),
                      ("ftp://pods.example.com/feed", "Only http and https"),
                      ("http:///feed", "no host"),
                      ("https://pods.example.com/" + "a" * 3000, "feed's http")):
        with pytest.raises(UserError, match=says):
            await fetcher.fetch(url, max_bytes=1000)
