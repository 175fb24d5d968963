"""Start-up to the first command sync with every installed plugin, on a database that is
already migrated (the everyday restart), in a fresh interpreter so imports are really paid.

Prints the import time of the core and of each plugin (its entry point, models and cogs'
modules), the time `prepare()` takes (database, migrations check, plugin setup), and the
time to the first command sync against the test kit's fake Discord.

    python bench/startup.py
    python bench/startup.py --database-url postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from typing import Any

from growmies_testkit.databases import throwaway_database_sync

CHILD = r'''
import asyncio, importlib, json, sys, time
t0 = time.perf_counter()
from importlib import metadata
import bot.app
core = time.perf_counter() - t0
imports = {}
for ep in sorted(metadata.entry_points(group="growmies.plugins"), key=lambda e: e.name):
    started = time.perf_counter()
    plugin = ep.load()
    if getattr(plugin, "models", None):
        importlib.import_module(plugin.models)
    imports[ep.name] = time.perf_counter() - started

from bot.app import prepare, shutdown
from bot.settings import Settings
from growmies_testkit.fake_discord import FakeDiscord


async def main() -> None:
    fake = FakeDiscord()
    await fake.start()
    fake.create_guild("Bench")
    settings = Settings(_env_file=None, discord_token=fake.token,
                        discord_api_base=fake.api_base, database_url=sys.argv[1],
                        log_format="json", log_level="WARNING")
    started = time.perf_counter()
    bot = await prepare(settings)
    prepared = time.perf_counter() - started
    task = asyncio.create_task(bot.start(fake.token))
    await bot.commands_synced.wait()
    synced = time.perf_counter() - started
    await shutdown(bot)
    task.cancel()
    await fake.close()
    print(json.dumps({"core": core, "imports": imports, "prepare": prepared,
                      "synced": synced, "plugins": sorted(bot.plugins.plugins)}))


asyncio.run(main())
'''


def run_child(url: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", CHILD, url], capture_output=True, text=True,
                         timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


async def migrate(url: str) -> None:
    from bot.app import prepare, shutdown
    from bot.settings import Settings

    settings = Settings(_env_file=None, discord_token="x" * 24,  # type: ignore[call-arg]
                        database_url=url, log_format="json", log_level="WARNING")
    bot = await prepare(settings)
    await shutdown(bot)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # A database of its own, never the one named (see growmies_testkit.databases).
    with throwaway_database_sync(args.database_url or "", prefix="growmies_bench") as url:
        asyncio.run(migrate(url))  # the first start migrates; the measured ones find it done
        runs = [run_child(url) for _ in range(args.runs)]
    best = min(runs, key=lambda r: float(r["synced"]))
    print(f"plugins: {', '.join(best['plugins'])}  (best of {args.runs} fresh interpreters)")
    print(f"import bot.app           {best['core'] * 1000:8.1f} ms")
    for name, seconds in best["imports"].items():
        print(f"import plugin {name:10s} {seconds * 1000:8.1f} ms")
    print(f"prepare() (database, plugin setup) {best['prepare'] * 1000:8.1f} ms")
    print(f"start-up to first command sync, migrated database: {best['synced']:.3f} s "
          "(target <= 0.5 s; imports are paid before this)")


if __name__ == "__main__":
    main()
