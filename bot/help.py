"""`/help`: the commands this member can use in this server, one page per plugin.

Listed: the core's commands and those of every plugin turned on in this server; a command
that needs a permission (Discord's default member permissions or the core's
`requires_permissions`) only for members who have it. 21+ commands are listed for everyone,
marked "21+", and for an unverified member with "verify first": Discord's own command picker
already shows every member their names and descriptions, so hiding them in /help would hide
nothing, only leave the member wondering what verification unlocks. What they answer stays
behind the age gate.

The list is worked out once when /help runs and kept in the paginator's state, so paging
shows the same list and needs no member lookup per click.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nextcord

from bot.components.registry import Page
from bot.contract import command_permissions, member_has
from bot.gating import gate_for, required_feature

if TYPE_CHECKING:
    from bot.client import GrowmiesBot

HELP_PAGES = "core.help"
CORE_TITLE = "core"
# Lines per page: an embed description holds 4096 characters; 12 short entries read well.
PER_PAGE = 12
ADULT_MARK = "🔞 21+"


@dataclass(frozen=True)
class HelpEntry:
    plugin: str
    name: str
    description: str
    adults_only: bool
    staff: bool


def _leaves(cmd: Any) -> Iterable[list[Any]]:
    """Each runnable command under `cmd` as its chain, leaf first (groups cannot be run)."""
    children = getattr(cmd, "children", None) or {}
    if not children:
        yield [cmd]
        return
    for child in children.values():
        for chain in _leaves(child):
            yield [*chain, cmd]


def _default_permissions(cmd: Any) -> set[str]:
    value = cmd.get_default_member_permissions_value() if hasattr(
        cmd, "get_default_member_permissions_value") else None
    if not value:
        return set()
    return {name for name, on in nextcord.Permissions(int(value)) if on}


async def entries_for(bot: GrowmiesBot, interaction: nextcord.Interaction) -> list[HelpEntry]:
    guild_id = interaction.guild_id
    member = interaction.user
    assert member is not None
    enabled: dict[str, bool] = {}
    found: list[HelpEntry] = []
    seen: set[str] = set()
    for cmd in bot.get_all_application_commands():
        if not isinstance(cmd, nextcord.SlashApplicationCommand):
            continue
        if not cmd.is_global and guild_id not in (cmd.guild_ids or ()):
            continue
        owner = bot.plugins.owner_of_cog(cmd.parent_cog)
        if owner is not None:
            if owner not in enabled:
                enabled[owner] = await bot.services.toggles.is_enabled(guild_id, owner)
            if not enabled[owner]:
                continue
        plugin = bot.plugins.plugins.get(owner) if owner else None
        top_perms = _default_permissions(cmd)
        for chain in _leaves(cmd):
            full = " ".join(c.name for c in reversed(chain))
            if full in seen:
                continue
            seen.add(full)
            perms = set(top_perms)
            for c in chain:
                perms |= command_permissions(c.callback)
            if perms and not member_has(member, perms):
                continue
            gate = gate_for(plugin, f"/{full}", [c.callback for c in chain])
            feature = await required_feature(gate, guild_id)
            found.append(HelpEntry(owner or CORE_TITLE, full, chain[0].description or "",
                                   adults_only=feature is not None, staff=bool(perms)))
    return sorted(found, key=lambda e: (e.plugin != CORE_TITLE, e.plugin, e.name))


# The names Discord's own settings use where the API's differ.
UI_NAMES = {"manage_guild": "Manage Server", "view_channel": "View Channels",
            "moderate_members": "Timeout Members"}


def permission_name(flag: str) -> str:
    return UI_NAMES.get(flag, flag.replace("_", " ").title())


def command_overview(bot: GrowmiesBot) -> str:
    """The README's command table, from the commands registered by the core and every loaded
    plugin (tests/test_help.py fails when the README drifts from it)."""
    rows = ["| Command | Plugin | Who | What it does |", "| --- | --- | --- | --- |"]
    seen: set[str] = set()
    found: list[tuple[str, str, str, str]] = []
    for cmd in bot.get_all_application_commands():
        if not isinstance(cmd, nextcord.SlashApplicationCommand):
            continue
        owner = bot.plugins.owner_of_cog(cmd.parent_cog)
        plugin = bot.plugins.plugins.get(owner) if owner else None
        for chain in _leaves(cmd):
            full = " ".join(c.name for c in reversed(chain))
            if full in seen:
                continue
            seen.add(full)
            perms = _default_permissions(cmd)
            for c in chain:
                perms |= command_permissions(c.callback)
            gate = gate_for(plugin, f"/{full}", [c.callback for c in chain])
            who = []
            if gate.gated:
                who.append("21+" + (" (an admin may open it)" if gate.open_when else ""))
            if perms:
                who.append("staff (" + ", ".join(sorted(map(permission_name, perms))) + ")")
            found.append((owner or CORE_TITLE, full, "; ".join(who) or "everyone",
                          (chain[0].description or "").replace("|", "/")))
    found.sort(key=lambda r: (r[0] != CORE_TITLE, r[0], r[1]))
    rows += [f"| `/{name}` | {plugin} | {who} | {what} |" for plugin, name, who, what in found]
    return "\n".join(rows)


def pages_of(entries: list[HelpEntry], verified: bool) -> list[dict[str, Any]]:
    """Pages as plain data (kept in the paginator's state): a title and its lines."""
    by_plugin: dict[str, list[HelpEntry]] = {}
    for entry in entries:
        by_plugin.setdefault(entry.plugin, []).append(entry)
    pages: list[dict[str, Any]] = []
    for plugin, items in by_plugin.items():
        lines = []
        for e in items:
            marks = []
            if e.adults_only:
                marks.append(ADULT_MARK if verified else f"{ADULT_MARK}, verify first")
            if e.staff:
                marks.append("staff")
            suffix = f" · *{', '.join(marks)}*" if marks else ""
            lines.append(f"`/{e.name}` — {e.description[:100]}{suffix}")
        chunks = [lines[i:i + PER_PAGE] for i in range(0, len(lines), PER_PAGE)]
        for number, chunk in enumerate(chunks, 1):
            title = plugin if len(chunks) == 1 else f"{plugin} ({number}/{len(chunks)})"
            pages.append({"title": title, "plugin": plugin, "lines": chunk})
    return pages


def jumps_of(pages: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """The select per plugin: each plugin's name and the index of its first page."""
    jumps: list[tuple[str, int]] = []
    for index, page in enumerate(pages):
        if not jumps or jumps[-1][0] != page["plugin"]:
            jumps.append((page["plugin"], index))
    return jumps


def intro(verified: bool, any_adult: bool) -> str:
    if any_adult and not verified:
        return ("Commands marked 🔞 21+ need age verification in this server: run `/verify` "
                "to unlock them.")
    return "What you can use in this server."


class HelpPages:
    """The core's page source for /help: renders the pages stored in the paginator's state."""

    async def page_count(self, params: dict[str, Any]) -> int:
        return max(len(params.get("pages", [])), 1)

    async def render(self, params: dict[str, Any], page: int) -> Page:
        pages = params.get("pages", [])
        embed = nextcord.Embed(title="Help")
        if not pages:
            embed.description = "There are no commands you can use here right now."
            return Page(embed=embed)
        current = pages[min(page, len(pages) - 1)]
        embed.title = f"Help · {current['title']}"
        embed.description = (params.get("intro", "") + "\n\n" + "\n".join(current["lines"]))[
            :4096]
        return Page(embed=embed)
