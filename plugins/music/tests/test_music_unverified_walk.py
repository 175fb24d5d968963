"""An unverified member walks every surface of the music plugin while 21+ content is all around:
verified members have played, queued and saved 21+ tracks (cannabis words in titles, a host an
admin flagged), shared a playlist of them and one whose name is cannabis-themed, and there is a
21+ podcast with a stored transcript, lyrics for the 21+ track and meditation history.

Music is rated MIXED, so every surface is open to this member; each must keep 21+ content away
from them. The commands, autocompletes and controls walked are read from the loaded bot (a new
one is walked without anyone remembering to add it here), and nothing the member can see (their
answers, public posts in the ordinary channel, suggestions, attached files) may name any of it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from plugins.music.models import (
    MeditationSession,
    MusicPlaylist,
    PodcastEpisode,
    PodcastFeed,
    PodcastTranscript,
)
from plugins.music.tests.e2e import AllowList, content, music
from plugins.music.tests.test_music_lyrics import with_lyrics_plugin
from plugins.music.tests.test_music_podcast_feeds import (  # noqa: F401  # a fixture
    feed_server,
    rss,
    start_with_feeds,
)
from plugins.music.transcripts import episode_key

# Anything that names the 21+ content set up below: cannabis words, the flagged host, and the
# titles and names that are 21+ only because of where they come from or what they are called.
MARKERS = re.compile(
    r"cannabis|\bkush|stoner|\bweed|\bthc\b|blue dream|velvet static|night fm|weedradio"
    r"|trichome check|grow tent", re.IGNORECASE)
# Words that name no content: why something was refused (the member asked for it), and the
# label of the preference that turns on 21+ suggestions.
NAMING_NOTHING = ("flagged as cannabis content (21+)", "Cannabis suggestions (21+)")
FLAGGED_HOST = "weedradio.example"
LIST_URL = "https://www.youtube.com/playlist?list=PLsunday"
CANNABIS_PLAYLIST = "Blue Dream weed sesh"
ADULT_PLAYLIST = "Night Mix"  # an ordinary name, 21+ tracks
TYPED = ("", "b", "blue", "weed", "kush", "night", "velvet", "garden", "n")
# Option values to try, by option name; others get the option's smallest allowed value.
VALUES: dict[str, list[Any]] = {
    "query": ["kush", "velvet", "garden", f"https://{FLAGGED_HOST}/velvet"],
    "name": [CANNABIS_PLAYLIST, "Quiet evening"],
    "link": [LIST_URL],
    "time": ["0:30"],
    "mode": ["track"],
    "blocked_sources": ["soundcloud"],
    "favourite_genres": ["jazz"],
}
# Run last: they end what the rest of the walk looks at.
LAST = ("/playlist delete", "/queue clear", "/skip", "/stop")


def visible(payload: Any) -> str:
    """Everything in a payload as text (content, embeds, links, select labels, choices)."""
    return json.dumps(payload, ensure_ascii=False)


class Walk:
    def __init__(self, fake_discord, member) -> None:
        self.fake_discord = fake_discord
        self.member = member
        self.seen: list[tuple[str, str]] = []  # (where, text) the member could read
        self.messages: list[dict[str, Any]] = []
        self.actions: set[str] = set()

    async def settle(self, ix) -> None:
        first = await ix.response(timeout=10)
        if first["type"] == 5:  # deferred: wait for the answer that replaces "thinking…"
            await ix.wait_original(lambda m: bool(m.get("content") or m.get("embeds")
                                                  or m.get("attachments")), timeout=20)

    def record(self, where: str, ix) -> None:
        for response in ix.responses:
            self.seen.append((where, visible(response.get("data"))))
        for message in ix.messages:
            self.seen.append((where, visible(message)))
            self.messages.append(message)
            for n, _attachment in enumerate(message.get("attachments") or []):
                data = self.fake_discord.attachment_bytes(message, n)
                self.seen.append((f"{where} (file)", data.decode(errors="replace")))
        for response in ix.responses:
            if response["type"] == 7:  # a component's update of its own message
                self.messages.append(response.get("data") or {})

    async def slash(self, name: str, options: dict[str, Any]) -> None:
        ix = await self.fake_discord.slash(self.member, name, options)
        await self.settle(ix)
        self.record(f"/{name} {options}", ix)

    async def complete(self, name: str, option: str) -> None:
        for typed in TYPED:
            choices = await self.fake_discord.autocomplete(self.member, name, {option: typed},
                                                           focused=option)
            self.seen.append((f"/{name} {option}={typed!r} suggestions", visible(choices)))

    async def press_everything(self, messages: list[dict[str, Any]]) -> None:
        """Every button and the first option of every select on `messages`, once each."""
        for message in messages:
            for row in message.get("components") or []:
                for component in row.get("components") or []:
                    custom_id = component.get("custom_id")
                    if not custom_id or component.get("disabled"):
                        continue
                    action = custom_id.split(":")[1] if custom_id.count(":") else custom_id
                    self.actions.add(action)
                    if component["type"] == 2:
                        ix = await self.fake_discord.click(self.member, message, custom_id)
                    else:
                        options = component.get("options") or []
                        if not options:
                            continue
                        ix = await self.fake_discord.select(self.member, message, custom_id,
                                                            [options[0]["value"]])
                    await ix.response(timeout=10)
                    self.record(f"{action} on {message.get('id')}", ix)

    def leaks(self) -> list[tuple[str, str]]:
        found = []
        for where, text in self.seen:
            for phrase in NAMING_NOTHING:
                text = text.replace(phrase, "")
            hit = MARKERS.search(text)
            if hit:
                found.append((where, text[max(0, hit.start() - 60):hit.end() + 40]))
        return found


def commands(running) -> list[tuple[str, Any]]:
    """(path, the command object) for every music slash command and subcommand."""
    found: list[tuple[str, Any]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        children = getattr(cmd, "children", None) or {}
        if not children:
            found.append((" ".join(path), cmd))
        for child in children.values():
            walk(child, [*path, child.name])

    for cog in running.bot.plugins.cogs["music"]:
        for cmd in cog.application_commands:
            walk(cmd, [cmd.name])
    return found


def option_sets(cmd: Any, refs: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Each value we have for the command's options in turn, the rest at their least."""
    base: dict[str, Any] = {}
    varied: list[tuple[str, list[Any]]] = []
    for name, option in (getattr(cmd, "options", None) or {}).items():
        values = refs.get(name) or VALUES.get(name)
        if values is None:
            if not option.required:
                continue
            if option.choices:
                first = option.choices[0] if isinstance(option.choices, list) else next(
                    iter(option.choices.values()))
                values = [first["value"] if isinstance(first, dict) else first]
            elif int(option.type) in (4, 10):  # integer, number
                values = [option.min_value if option.min_value is not None else 1]
            elif int(option.type) == 5:
                values = [False]
            else:
                values = ["x"]
        base[name] = values[0]
        if len(values) > 1:
            varied.append((name, values[1:]))
    sets = [base] + [{**base, name: v} for name, values in varied for v in values]
    return sets


async def adult_server(fake_lavalink, fake_discord, world, start_bot,
                       feed_server):  # noqa: F811  # the imported fixture's value
    """The server as verified members left it (see the module's docstring)."""
    with_lyrics_plugin(fake_lavalink)
    fake_lavalink.add_track("Kush Anthems", author="Stoner Band", length_ms=600_000)
    fake_lavalink.add_lyrics("Kush Anthems", [(0, "Rolling the kush tonight")])
    fake_lavalink.add_track("Velvet Static", author="Night FM", length_ms=600_000,
                            uri=f"https://{FLAGGED_HOST}/velvet")
    garden = fake_lavalink.add_track("Garden Song", author="Folk", length_ms=600_000)
    morning = fake_lavalink.add_track("Quiet Morning", author="Folk", length_ms=600_000)
    fake_lavalink.add_playlist("Sunday Set", [garden, morning], url=LIST_URL)
    feed_server.pages["/grow.xml"] = rss("Cannabis Growers Weekly",
                                         [("Trichome check", "/trichomes.mp3")])
    gate = AllowList()
    gate.verified.update({world.member.id, world.admin.id})
    running = await start_with_feeds(start_bot, fake_lavalink, feed_server, gate=gate)

    async def say(who, name: str, options: dict[str, Any] | None = None) -> str:
        ix = await fake_discord.slash(who, name, options or {})
        first = await ix.response(timeout=10)
        if first["type"] == 5:
            return str((await ix.wait_original(timeout=20)).get("content") or "")
        return content(first)

    await say(world.admin, "music settings", {"cannabis_source": FLAGGED_HOST})
    await fake_discord.voice_join(world.member, world.voice)
    for query in ("kush", f"https://{FLAGGED_HOST}/velvet", "garden"):
        await say(world.member, "play", {"query": query})
    assert "Saved" in await say(world.member, "playlist create", {"name": ADULT_PLAYLIST})
    assert "Imported" in await say(world.member, "playlist import",
                                   {"link": LIST_URL, "name": CANNABIS_PLAYLIST})
    for name in (ADULT_PLAYLIST, CANNABIS_PLAYLIST):
        await say(world.member, "playlist share", {"playlist": name, "shared": True})
    await say(world.admin, "playlist import", {"link": LIST_URL, "name": "Weed garden",
                                               "server": True})
    await say(world.member, "playlist play", {"playlist": CANNABIS_PLAYLIST})  # queued
    await say(world.member, "music lyrics")
    await say(world.member, "podcast", {"url": feed_server.url("/grow.xml")})
    feed = await PodcastFeed.create(key="grow", url="https://pods.example.com/grow.xml",
                                    title="Cannabis Growers Weekly",
                                    fetched_at=datetime.now(UTC))
    episode = await PodcastEpisode.create(feed_id=feed.id, key="t", title="Trichome check",
                                          url="https://pods.example.com/trichomes.mp3")
    await PodcastTranscript.create(key=episode_key(episode.url), url=episode.url,
                                   status="done", text="Check the trichomes in the grow tent.",
                                   claimed_at=datetime.now(UTC))
    started = datetime.now(UTC) - timedelta(hours=1)
    await MeditationSession.create(guild_id=world.guild.id, channel_id=world.voice.id,
                                   started_by=world.member.id, minutes=10, cannabis=True,
                                   started_at=started, ends_at=started + timedelta(minutes=10),
                                   ended_at=started + timedelta(minutes=10), completed=True)
    return running, gate, feed, episode


async def test_an_unverified_member_sees_no_21_plus_content_on_any_music_surface(
    fake_lavalink, start_bot, world, fake_discord, feed_server  # noqa: F811  # the fixture
):
    running, _gate, _feed, episode = await adult_server(fake_lavalink, fake_discord, world,
                                                        start_bot, feed_server)
    plugin = music(running)
    playlists = {p.name: p.id for p in await MusicPlaylist.all()}
    refs: dict[str, list[Any]] = {
        "playlist": [*playlists, *(f"#{i}" for i in playlists.values())],
        "episode": [str(episode.id)],
        "url": [feed_server.url("/grow.xml"), feed_server.url("/trichomes.mp3")],
        "feed": [feed_server.url("/grow.xml")],
    }
    walk = Walk(fake_discord, world.other)
    # The walk is a script: hundreds of interactions in a second, which the core's throttles
    # (rightly) refuse from a person; they are not what is tested here.
    for throttle in (running.bot.throttle, running.bot.autocomplete_throttle):
        throttle.rate = throttle.burst = 100_000
    await fake_discord.voice_join(world.other, world.voice)

    found = commands(running)
    found.sort(key=lambda pc: LAST.index("/" + pc[0]) if "/" + pc[0] in LAST else -1)
    autocompleted: set[tuple[str, str]] = set()
    for path, cmd in found:
        for name, option in (getattr(cmd, "options", None) or {}).items():
            if getattr(option, "autocomplete", False):
                await walk.complete(path, name)
                autocompleted.add((path, name))
        for options in option_sets(cmd, refs):
            await walk.slash(path, options)
        if path == "nowplaying":
            # The public card's buttons, pressed while the 21+ track plays.
            await walk.press_everything(walk.messages[-1:])
    assert ("play", "query") in autocompleted and ("playlist show", "playlist") in autocompleted
    assert len(found) >= 35

    # Every control on what the member was shown (pages, menus, the card), and what is public
    # in the ordinary channel (announcements, cards, posts of the verified members' answers).
    await walk.press_everything(list(walk.messages))
    public = fake_discord.channel_messages(world.channel.id)
    walk.seen += [("public post", visible(m)) for m in public]
    await walk.press_everything(public)

    # Controls that only verified members are shown (a 21+ podcast's menu, its Transcribe
    # button), reached by an unverified member anyway: state made for the verified member.
    components = plugin.ctx.components
    stand_in = {"id": "1", "content": "a message", "channel_id": str(world.channel.id)}
    forged = {
        "pod.pick": await components.create(
            "pod", {"guild": world.guild.id, "feed": "Cannabis Growers Weekly",
                    "cannabis": True, "episodes": [{"title": "Trichome check",
                                                    "url": feed_server.url("/trichomes.mp3")}]},
            owner=world.member.id, guild_id=world.guild.id),
        "pod.tx": await components.create(
            "pod.tx", {"guild": world.guild.id, "requester": world.member.id,
                       "cannabis": True, "episode": {"title": "Trichome check",
                                                     "url": feed_server.url("/trichomes.mp3")}},
            guild_id=world.guild.id),
    }
    for action, state in forged.items():
        custom_id = components.custom_id(action, state)
        if action == "pod.pick":
            ix = await fake_discord.select(world.other, stand_in, custom_id, ["0"])
        else:
            ix = await fake_discord.click(world.other, stand_in, custom_id)
        await ix.response(timeout=10)
        walk.record(action, ix)
        walk.actions.add(action)
    # Every control the plugin registers was pressed by the member.
    assert set(running.bot.component_handlers_of("music")) <= walk.actions

    assert walk.leaks() == []
    # Every surface answered as designed (a crash would hide what it shows).
    assert [where for where, text in walk.seen if "Something went wrong" in text] == []
    # The walk saw the things it hid: the placeholders stood in for them.
    everything = "\n".join(text for _where, text in walk.seen)
    assert "21+ playlist · shared (2)" in everything  # a suggestion, by number only
    assert "Added 2 tracks from **a 21+ playlist**" in everything  # /playlist play, public
    assert "21+ track" in everything
    # Saving a cannabis-themed name needed a verification the member doesn't have.
    assert not await MusicPlaylist.filter(owner_id=world.other.id,
                                          name_key=CANNABIS_PLAYLIST.casefold()).exists()
    # A verified member reads the names.
    mine = await fake_discord.slash(world.member, "playlist list")
    assert CANNABIS_PLAYLIST in content(await mine.response()) and mine.ephemeral
