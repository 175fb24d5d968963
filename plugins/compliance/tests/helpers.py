"""A tiny gated plugin standing in for "any cannabis feature", and registry helpers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import nextcord
from nextcord.ext import commands

from bot.api import Plugin, PluginContext, adults_only

# The test kit's start_bot takes a registry but offers no public way to add a plugin object
# to it; the core's own test helper builds one (see the lead's tests/probe_plugin.py).
from tests.probe_plugin import registry_with


class StrainCog(commands.Cog, name="strainprobe"):
    def __init__(self, plugin: StrainProbe) -> None:
        self.plugin = plugin

    @nextcord.slash_command(name="strainprobe", description="A 21+ feature for tests")
    @adults_only("strainprobe.menu")
    async def menu(self, interaction: nextcord.Interaction) -> None:
        self.plugin.served += 1
        await interaction.response.send_message("21+ strain menu", ephemeral=True)


class StrainProbe(Plugin):
    name = "strainprobe"
    description = "Test-only 21+ feature"

    def __init__(self) -> None:
        self.served = 0

    def cogs(self, ctx: PluginContext) -> Sequence[commands.Cog]:
        return [StrainCog(self)]


def registry(*extra: Plugin) -> Any:
    """The installed compliance plugin, plus `extra` plugin objects."""
    return registry_with(*extra, allow=["compliance"])


def button_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", [])
            for c in row.get("components", []) if "custom_id" in c]


def content(ix_response: dict[str, Any]) -> str:
    return str((ix_response.get("data") or {}).get("content") or "")


@contextlib.contextmanager
def database_down() -> Iterator[None]:
    """Every query on the default connection fails, as when the server is unreachable."""
    from tortoise import Tortoise

    cls = type(Tortoise.get_connection("default"))
    names = ("execute_query", "execute_query_dict", "execute_insert", "execute_many",
             "execute_script")
    originals = {name: getattr(cls, name) for name in names}

    async def down(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database down")

    for name in names:
        setattr(cls, name, down)
    try:
        yield
    finally:
        for name, func in originals.items():
            setattr(cls, name, func)


async def verify(fake: Any, member: Any) -> None:
    """`member` verifies 21+ through /verify's form."""
    await (await fake.slash(member, "verify")).response()
    done = await fake.submit_modal(member, "compliance:dob",
                                   {"dob": "1990-06-15", "attest": "yes"})
    assert "verified as 21+" in content(await done.response())


async def adults_only_channel(fake: Any, world: Any, name: str = "21-plus-lounge") -> Any:
    """A channel the admin marks 21+: only the verified role (and the bot) may view it."""
    from growmies_testkit.fake_discord.permissions import Permission

    view = int(Permission.VIEW_CHANNEL)
    guild = world.guild
    verified = guild.add_role("Verified 21+")
    await (await fake.slash(world.admin, "verification settings",
                            {"verified_role": verified})).response()
    lounge = guild.add_text_channel(name)
    guild.set_permission_overwrite(lounge, guild.everyone, deny=view)
    guild.set_permission_overwrite(lounge, verified, allow=view)
    guild.set_permission_overwrite(lounge, guild.bot_member, allow=view)
    await fake.settle()
    marked = await fake.slash(world.admin, "verification adult-channel add", {"channel": lounge})
    assert "is now a 21+ channel" in content(await marked.response())
    return lounge


async def import_and_confirm(fake: Any, admin: Any, upload: tuple[str, bytes]
                             ) -> tuple[dict[str, Any], Any]:
    """`admin` runs /levels import with `upload` and presses Import: (dry run, the click)."""
    ask = await fake.slash(admin, "levels import", {"file": upload})
    prompt = await ask.wait_original()
    yes = await fake.click(admin, prompt, next(c for c in button_ids(prompt) if "cf.yes" in c))
    await yes.response()
    return prompt, yes
