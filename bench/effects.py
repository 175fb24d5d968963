"""An effect change to the filter PATCH reaching the node, against baselines in the same run on
the same connected player:

* `/music equalizer` through the fake Discord and the router (member checks, DJ rule, the
  node's /v4/info filters from cache, the PATCH; the session row and audit come after);
* the plugin's `Effects.equalizer` called from code (the same path without Discord);
* a bare slash command whose handler only calls wavelink's `Player.set_filters`;
* a direct `Player.set_filters` call from code: the Lavalink round trip alone.

The bot runs with only the music plugin, on the fake Discord and FakeLavalink (real sockets,
real nextcord and wavelink, a throwaway SQLite database).

    python bench/effects.py              # 200 runs of each
    python bench/effects.py --runs 1000
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
import wavelink
from nextcord.ext import commands

from bench.support import p99
from bot.app import prepare, shutdown
from bot.contract import MIXED, Plugin, PluginContext
from bot.loader import discover
from bot.logs import configure_logging
from bot.settings import Settings
from growmies_testkit.fake_discord import FakeDiscord
from growmies_testkit.fake_lavalink import FakeLavalink


def is_filter_patch(guild_id: int):  # type: ignore[no-untyped-def]
    def pred(r: Any) -> bool:
        body = r.json or {}
        return (r.method == "PATCH" and r.path.endswith(f"/players/{guild_id}")
                and "filters" in body and not body.get("track"))
    return pred


def gains(i: int) -> float:
    return 0.05 + (i % 10) / 100  # a different gain each run: each is a real change


class BareFilters(commands.Cog):
    def __init__(self, bot: Any) -> None:
        self.bot = bot

    @nextcord.slash_command(name="barefilters", description="Baseline: set a filter")
    async def barefilters(self, interaction: nextcord.Interaction, gain: float) -> None:
        player = self.bot.plugins.plugins["music"].playback.players[interaction.guild_id]
        filters = wavelink.Filters()
        filters.equalizer.set(bands=[{"band": 2, "gain": gain}])
        await player.set_filters(filters)
        await interaction.response.send_message("ok")


class BarePlugin(Plugin):
    name = "benchbare"
    description = "benchmark baseline"
    rating = MIXED  # like music: the baseline must not pay for an age check music skips

    def cogs(self, ctx: PluginContext) -> list[commands.Cog]:
        return [BareFilters(ctx.bot)]


async def run(runs: int, db_url: str) -> dict[str, list[float]]:
    fake = FakeDiscord()
    await fake.start()
    lavalink = FakeLavalink(player_update_interval=5.0)
    await lavalink.start()
    lavalink.add_track("Bench Song", author="Bench", length_ms=3_600_000)
    guild = fake.create_guild("Bench")
    member = guild.add_member("listener")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=fake.token, discord_api_base=fake.api_base,
        database_url=db_url, log_format="json", log_level="WARNING",
        interaction_rate=100_000, interaction_burst=100_000,
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
    out: dict[str, list[float]] = {"command": [], "service": [], "bare": [], "direct": []}

    async def timed(key: str, action: Any) -> Any:
        since = len(lavalink.requests)
        started = time.monotonic()
        result = await action()
        try:
            rec = await lavalink.wait_for_request(is_filter_patch(guild.id), since=since)
        except TimeoutError:
            if hasattr(result, "response"):
                print(key, await result.response())
            raise
        out[key].append(rec.time - started)
        return result

    try:
        await fake.voice_join(member, guild.voice_channel)
        first = await fake.slash(member, "play", {"query": "Bench Song"})
        await first.response(timeout=10)
        player = plugin.playback.players[guild.id]
        channel = guild.voice_channel.id
        for i in range(runs):
            gain = gains(i)

            async def command(gain: float = gain) -> Any:
                return await fake.slash(member, "music equalizer", {"band": 2, "gain": gain})

            ix = await timed("command", command)
            await ix.response(timeout=10)

            async def service(gain: float = gain + 0.01) -> Any:
                return await plugin.effects.equalizer(guild.id, member.id, channel, 2, gain,
                                                      is_dj=False)

            await timed("service", service)

            async def bare_command(gain: float = gain) -> Any:
                return await fake.slash(member, "barefilters", {"gain": gain})

            ix = await timed("bare", bare_command)
            await ix.response(timeout=10)

            async def direct(gain: float = gain + 0.01) -> Any:
                filters = wavelink.Filters()
                filters.equalizer.set(bands=[{"band": 2, "gain": gain}])
                return await player.set_filters(filters)

            await timed("direct", direct)
    finally:
        await shutdown(bot)
        task.cancel()
        await lavalink.close()
        await fake.close()
    return out


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
    print(f"Effect change → filter PATCH at the node, {args.runs} runs of each")
    for label, key in (("/music equalizer", "command"), ("Effects.equalizer", "service"),
                       ("bare slash → set", "bare"), ("direct set_filters", "direct")):
        values = result[key]
        print(f"{label:20s} median {statistics.median(values) * 1000:7.2f} ms"
              f"  p99 {p99(values) * 1000:7.2f} ms")
    print(f"p99 ratio Effects.equalizer vs direct set_filters: "
          f"{p99(result['service']) / p99(result['direct']):.2f} (target <= 1.5)")
    print(f"p99 ratio /music equalizer vs bare slash → set_filters: "
          f"{p99(result['command']) / p99(result['bare']):.2f} (target <= 1.5)")
    print(f"p99 ratio /music equalizer vs direct set_filters: "
          f"{p99(result['command']) / p99(result['direct']):.2f}")
    med = {k: statistics.median(v) for k, v in result.items()}
    # Medians too: on a busy machine a p99 of a few ms is mostly other processes' time slices.
    print(f"median ratios: Effects.equalizer/direct {med['service'] / med['direct']:.2f}, "
          f"/music equalizer/bare slash {med['command'] / med['bare']:.2f}")


if __name__ == "__main__":
    main()
