"""/play with a cached search result: interaction to the player PATCH reaching the node,
against two baselines in the same run on the same connected player:

* a bare slash command whose handler only calls wavelink's `Player.play` (same fake Discord,
  same router): what any bot pays to get an interaction to Lavalink;
* a direct `Player.play` call from code: the Lavalink round trip alone.

The bot runs with only the music plugin, on the fake Discord and FakeLavalink (real sockets,
real nextcord and wavelink). The search is warmed once, so each /play measures the command's
own path: routing, validation, the cached search, queueing in the database, and the PATCH.
Between runs a DJ /skip empties the player without leaving voice.

    python bench/music_play.py              # 200 runs of each
    python bench/music_play.py --runs 1000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nextcord
from nextcord.ext import commands

from bench.support import p99
from bot.app import prepare, shutdown
from bot.contract import Plugin, PluginContext
from bot.loader import discover
from bot.logs import configure_logging
from bot.settings import Settings
from growmies_testkit.fake_discord import FakeDiscord
from growmies_testkit.fake_lavalink import FakeLavalink


def is_track_patch(guild_id: int):  # type: ignore[no-untyped-def]
    def pred(r: Any) -> bool:
        return (r.method == "PATCH" and r.path.endswith(f"/players/{guild_id}")
                and bool((r.json or {}).get("track", {}).get("encoded")))
    return pred


class BarePlay(commands.Cog):
    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.track: Any = None

    @nextcord.slash_command(name="bareplay", description="Baseline: play the cached track")
    async def bareplay(self, interaction: nextcord.Interaction) -> None:
        player = self.bot.plugins.plugins["music"].playback.players[interaction.guild_id]
        await player.play(self.track)
        await interaction.response.send_message("ok")


class BarePlugin(Plugin):
    name = "benchbare"
    description = "benchmark baseline"

    def cogs(self, ctx: PluginContext) -> list[commands.Cog]:
        self.cog = BarePlay(ctx.bot)
        return [self.cog]


async def run(runs: int, db_url: str) -> dict[str, list[float]]:
    fake = FakeDiscord()
    await fake.start()
    lavalink = FakeLavalink(player_update_interval=5.0)
    await lavalink.start()
    lavalink.add_track("Bench Song", author="Bench", length_ms=3_600_000)
    guild = fake.create_guild("Bench")
    admin = guild.add_member("admin", admin=True)
    member = guild.add_member("listener")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=fake.token, discord_api_base=fake.api_base,
        database_url=db_url, log_format="json", log_level="WARNING",
        interaction_rate=100_000,
    )
    registry = discover(["music"])
    bare = BarePlugin()
    registry.plugins[bare.name] = bare
    nodes = [{"id": "bench", "uri": lavalink.uri, "password": lavalink.password}]
    bot = await prepare(settings, registry, plugin_settings={"music": {"lavalink_nodes": nodes}})
    task = asyncio.create_task(bot.start(fake.token))
    await bot.commands_synced.wait()
    plugin = bot.plugins.plugins["music"]
    await plugin.playback.wait_for(lambda: bool(plugin.lavalink.connected()))
    via_command: list[float] = []
    via_bare: list[float] = []
    direct: list[float] = []
    try:
        for who in (member, admin):
            await fake.voice_join(who, guild.voice_channel)
        first = await fake.slash(member, "play", {"query": "Bench Song"})  # warms the cache
        await first.response(timeout=10)
        player = plugin.playback.players[guild.id]
        track = player.current
        bare.cog.track = track
        for _ in range(runs):
            skip = await fake.slash(admin, "skip")
            await skip.response(timeout=10)
            since = len(lavalink.requests)
            started = time.monotonic()
            ix = await fake.slash(member, "play", {"query": "Bench Song"})
            rec = await lavalink.wait_for_request(is_track_patch(guild.id), since=since)
            via_command.append(rec.time - started)
            await ix.response(timeout=10)

            since = len(lavalink.requests)
            started = time.monotonic()
            ix = await fake.slash(member, "bareplay")
            rec = await lavalink.wait_for_request(is_track_patch(guild.id), since=since)
            via_bare.append(rec.time - started)
            await ix.response(timeout=10)

            since = len(lavalink.requests)
            started = time.monotonic()
            await player.play(track)
            rec = await lavalink.wait_for_request(is_track_patch(guild.id), since=since)
            direct.append(rec.time - started)
    finally:
        await shutdown(bot)
        task.cancel()
        await lavalink.close()
        await fake.close()
    return {"command": via_command, "bare": via_bare, "direct": direct}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    configure_logging("WARNING", "json", [])
    logging.getLogger().setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite://{Path(tmp) / 'bench.sqlite3'}"
        result = asyncio.run(run(args.runs, url))
    print(f"/play with a cached search result, {args.runs} runs, interaction → player PATCH")
    for label, values in (("/play command", result["command"]),
                          ("bare slash → play", result["bare"]),
                          ("direct Player.play", result["direct"])):
        print(f"{label:20s} median {statistics.median(values) * 1000:7.2f} ms"
              f"  p99 {p99(values) * 1000:7.2f} ms")
    print(f"p99 ratio /play vs bare slash → play: "
          f"{p99(result['command']) / p99(result['bare']):.2f} (target <= 1.5)")
    print(f"p99 ratio /play vs direct Player.play: "
          f"{p99(result['command']) / p99(result['direct']):.2f}")


if __name__ == "__main__":
    main()
