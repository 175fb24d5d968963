"""What may reach Lavalink: searches and public http(s) URLs only."""

from __future__ import annotations

import pytest

from bot.api import UserError
from plugins.music.validation import check_query, is_public_address

PUBLIC = "93.184.216.34"


def resolver(table: dict[str, list[str]]):
    async def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]
    return resolve


TABLE = {
    "cdn.example.com": [PUBLIC],
    "internal.example.com": ["10.0.0.5"],
    "sneaky.example.com": [PUBLIC, "127.0.0.1"],  # one bad address is enough to refuse
    "metadata.example.com": ["169.254.169.254"],
    "v6local.example.com": ["::1"],
    "mapped.example.com": ["::ffff:192.168.1.1"],
    "cgnat.example.com": ["100.64.1.1"],
    "localhost": ["127.0.0.1"],
    "2130706433": ["127.0.0.1"],  # the decimal form of 127.0.0.1
}
HOSTS = resolver(TABLE)


async def test_words_become_an_explicit_search():
    checked = await check_query("  lofi   beats ", HOSTS)
    assert checked.identifier == "ytsearch:lofi beats" and not checked.is_url
    named = await check_query("Artist: Song Name", HOSTS)
    assert named.identifier == "ytsearch:Artist: Song Name"
    assert (await check_query("scsearch:chill", HOSTS)).identifier == "scsearch:chill"


@pytest.mark.parametrize("query", ["", "   ", "ytsearch:", "scsearch:   "])
async def test_empty_search_is_refused(query):
    with pytest.raises(UserError, match="Type a song name"):
        await check_query(query, HOSTS)


@pytest.mark.parametrize("query", [
    "file:///etc/passwd", "ftp://cdn.example.com/a.mp3", "data:audio/mp3;base64,AAAA",
    "gopher://cdn.example.com/", "javascript:alert(1)",
])
async def test_other_schemes_are_refused(query):
    with pytest.raises(UserError, match="Only http and https"):
        await check_query(query, HOSTS)


@pytest.mark.parametrize("query", ["/etc/passwd", "~/music.mp3", "../secret.wav"])
async def test_local_paths_are_refused(query):
    with pytest.raises(UserError, match="Local files"):
        await check_query(query, HOSTS)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:2333/v4/info", "http://localhost/", "http://[::1]/a.mp3",
    "http://10.1.2.3/a.mp3", "http://192.168.0.10/", "http://172.16.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/",
    "http://internal.example.com/a.mp3", "http://sneaky.example.com/a.mp3",
    "http://metadata.example.com/", "http://v6local.example.com/",
    "http://mapped.example.com/", "http://cgnat.example.com/",
    "http://[::ffff:127.0.0.1]/", "http://2130706433/",
])
async def test_private_loopback_link_local_and_metadata_hosts_are_refused(url):
    with pytest.raises(UserError, match="private or local address"):
        await check_query(url, HOSTS)


async def test_public_urls_pass_and_unknown_hosts_fail():
    checked = await check_query("https://cdn.example.com/sets/intro.mp3", HOSTS)
    assert checked.is_url and checked.identifier == "https://cdn.example.com/sets/intro.mp3"
    assert checked.host == "cdn.example.com"
    with pytest.raises(UserError, match="Couldn't find the host"):
        await check_query("https://nowhere.invalid/a.mp3", HOSTS)


def test_public_address_rules():
    assert is_public_address(PUBLIC) and is_public_address("2606:4700:4700::1111")
    for bad in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "fd00:ec2::254", "224.0.0.1",
                "::", "fe80::1", "not-an-ip"):
        assert not is_public_address(bad), bad
