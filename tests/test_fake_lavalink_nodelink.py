"""FakeLavalink's "nodelink" flavour and its scripted deviations, over plain HTTP: what a client
that only knows Lavalink's v4 API would trip over."""

from __future__ import annotations

import aiohttp

from growmies_testkit.fake_lavalink import UNKNOWN_LENGTH, FakeLavalink


async def test_nodelink_names_itself_in_info_and_headers():
    async with FakeLavalink(version="3.7.0", flavour="nodelink") as node, \
            aiohttp.ClientSession(headers={"Authorization": node.password}) as http:
        async with http.get(f"{node.uri}/v4/info") as resp:
            info = await resp.json()
            headers = resp.headers
        async with http.get(f"{node.uri}/version") as resp:
            version = await resp.text()
    assert version == "3.7.0"
    assert info["isNodelink"] is True and info["version"]["semver"] == "3.7.0"
    assert info["version"]["prerelease"] == [] and "jvm" not in info and info["voice"]["name"]
    assert headers["Nodelink-Api-Version"] == "4" and headers["IamNodelink"] == "true"
    assert "Lavalink-Api-Version" not in headers


async def test_lavalink_flavour_sends_its_api_version_header():
    async with FakeLavalink() as node, \
            aiohttp.ClientSession(headers={"Authorization": node.password}) as http:
        async with http.get(f"{node.uri}/v4/stats") as resp:
            assert resp.headers["Lavalink-Api-Version"] == "4"
        node.fail_next_request("/v4/stats", 500, plain=True, message="Internal Server Error")
        async with http.get(f"{node.uri}/v4/stats") as resp:
            assert resp.status == 500 and await resp.text() == "Internal Server Error"
            assert resp.content_type == "text/plain"


async def test_odd_loads_and_unknown_lengths():
    async with FakeLavalink(flavour="nodelink", version="3.7.0") as node, \
            aiohttp.ClientSession(headers={"Authorization": node.password}) as http:
        endless = node.add_track("Endless", length_ms=UNKNOWN_LENGTH)
        node.odd_load("odd", "missing_fields")
        node.odd_load("broken", "bare_error")
        node.odd_load("html", "not_json")

        async def load(identifier: str) -> aiohttp.ClientResponse:
            async with http.get(f"{node.uri}/v4/loadtracks",
                                params={"identifier": identifier}) as resp:
                await resp.read()
                return resp

        async with http.get(f"{node.uri}/v4/loadtracks",
                            params={"identifier": "ytsearch:odd"}) as resp:
            odd = await resp.json()
        assert odd["loadType"] == "search" and "sourceName" not in odd["data"][0]["info"]
        async with http.get(f"{node.uri}/v4/loadtracks",
                            params={"identifier": "broken"}) as resp:
            assert (await resp.json())["data"] == {"message": "Something went wrong (odd)"}
        assert (await load("html")).content_type == "text/html"
        node.reset_failures()
        async with http.get(f"{node.uri}/v4/loadtracks",
                            params={"identifier": "ytsearch:Endless"}) as resp:
            found = (await resp.json())["data"][0]
        assert found["info"]["length"] == -1 and found["info"]["isSeekable"] is True
        assert found["encoded"] == endless["encoded"]
