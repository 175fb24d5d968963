"""`growmies run` as a real process: migrates, connects, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bot.models import GuildPluginState


async def test_growmies_run_serves_commands_and_stops_on_sigterm(fake_discord, world, tmp_path):
    db = tmp_path / "run.sqlite3"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DISCORD_", "DATABASE_", "OPENAI_", "LAVALINK_", "GROWMIES_",
                                "MUSIC_", "LLM_"))}
    env.update({
        "DISCORD_TOKEN": fake_discord.token,
        "DISCORD_API_BASE": fake_discord.api_base,
        "DATABASE_URL": f"sqlite://{db}",
        "LOG_FORMAT": "json",
    })
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake_discord.wait_for_command("plugins", timeout=60)
        await fake_discord.wait_until_connected(timeout=30)
        ix = await fake_discord.slash(world.admin, "plugins disable", {"plugin": "music"})
        resp = await ix.response(timeout=10)
        assert "music** is now off" in resp["data"]["content"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert fake_discord.token not in err.decode()
    # The process wrote to its own SQLite file, which `run` migrated before starting.
    from bot.database import close_database, init_database
    from bot.loader import discover

    await init_database(f"sqlite://{db}", discover().model_modules())
    try:
        row = await GuildPluginState.get(guild_id=world.guild.id, plugin="music")
        assert row.enabled is False
    finally:
        await close_database()
