"""`scripts/run --check`: start the bot as a real process against the test kit's fake Discord
and ask `/help` as a new, unverified member, the way a person would after cloning.

Nothing outside a temporary directory is touched: no .env is read or written (the temporary
directory is the bot's GROWMIES_HOME) and the database is a throwaway SQLite file. Prints how
long the whole thing took, counted from `scripts/run` starting (set-up included).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from growmies_testkit.fake_discord import FakeDiscord
from growmies_testkit.world import make_world

ROOT = Path(__file__).resolve().parent.parent
# Set by scripts/run when it starts, so the time printed includes set-up.
STARTED = float(os.environ.get("GROWMIES_CHECK_STARTED") or time.time())


async def check() -> int:
    async with FakeDiscord() as fake:
        world = make_world(fake)
        with tempfile.TemporaryDirectory(prefix="growmies-check-") as tmp:
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("DISCORD_", "DATABASE_", "GROWMIES_", "LOG_"))}
            env.update({"DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.api_base,
                        "GROWMIES_HOME": tmp, "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"})
            log = Path(tmp) / "bot.log"
            with log.open("wb") as sink:
                proc = await asyncio.create_subprocess_exec(
                    str(ROOT / ".venv" / "bin" / "growmies"), "run", env=env, cwd=tmp,
                    stdout=sink, stderr=sink)
                try:
                    ready = asyncio.gather(fake.wait_for_command("help", timeout=120),
                                           fake.wait_until_connected(timeout=120))
                    exited = asyncio.ensure_future(proc.wait())
                    done, _ = await asyncio.wait({ready, exited},
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if exited in done:
                        ready.cancel()
                        print("run --check: FAILED: the bot exited before it was ready; its "
                              "log:\n" + log.read_text(errors="replace")[-3000:],
                              file=sys.stderr)
                        return 1
                    exited.cancel()
                    ix = await fake.slash(world.member, "help")
                    message = await ix.wait_original(timeout=15)
                    text = fake.text_of(message)
                finally:
                    if proc.returncode is None:
                        proc.send_signal(signal.SIGTERM)
                        await asyncio.wait_for(proc.wait(), 60)
    listed = sum(1 for line in text.splitlines() if line.startswith("`/"))
    if not ix.ephemeral or "Help · core" not in text or listed == 0:
        print(f"run --check: FAILED: /help answered unexpectedly:\n{text}", file=sys.stderr)
        return 1
    elapsed = time.time() - STARTED
    print(text)
    print(f"run --check: OK: a new member's /help was answered (ephemeral, {listed} commands "
          f"on page 1) by `growmies run` against the fake Discord, {elapsed:.1f} s after "
          "scripts/run started (set-up included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(check()))
