"""Embeds for strains: the card and the Details / Effects / Growing views behind its buttons."""

from __future__ import annotations

from collections.abc import Sequence

import nextcord

from bot.api import KnowledgeHit
from plugins.ui.models import Strain

# Discord caps an embed description at 4,096 characters and a field value at 1,024.
MAX_DESCRIPTION = 4096
MAX_FIELD = 1024
TYPE_COLOURS = {"indica": 0x6A4C93, "sativa": 0xF4A261, "hybrid": 0x2A9D8F}
DISCLAIMER = "For adults 21+. Information only, not medical advice; effects vary by person."


def percent(low: float, high: float) -> str:
    def fmt(value: float) -> str:
        return f"{value:g}"

    return f"{fmt(low)} %" if low == high else f"{fmt(low)}–{fmt(high)} %"


def _base(strain: Strain, title_suffix: str = "") -> nextcord.Embed:
    embed = nextcord.Embed(
        title=f"{strain.name}{title_suffix}"[:256],
        colour=TYPE_COLOURS.get(strain.type, 0x888888),
    )
    if strain.source_url:
        embed.url = strain.source_url
    embed.set_footer(text=DISCLAIMER)
    return embed


def strain_card(strain: Strain) -> nextcord.Embed:
    embed = _base(strain)
    embed.description = strain.description[:MAX_DESCRIPTION] or None
    embed.add_field(name="Type", value=strain.type.title())
    embed.add_field(name="THC", value=percent(strain.thc_min, strain.thc_max))
    embed.add_field(name="CBD", value=percent(strain.cbd_min, strain.cbd_max))
    embed.add_field(name="Effects", value=", ".join(strain.effects)[:MAX_FIELD] or "—",
                    inline=False)
    embed.add_field(name="Flavours", value=", ".join(strain.flavors)[:MAX_FIELD] or "—",
                    inline=False)
    return embed


def strain_details(strain: Strain, hits: Sequence[KnowledgeHit]) -> nextcord.Embed:
    embed = _base(strain, " — details")
    lines = [strain.description or "No description yet."]
    if strain.source_url:
        lines.append(f"\nSource: {strain.source_url}")
    if hits:
        lines.append("\n**From the community knowledge base**")
        for hit in hits:
            source = f" ({hit.source_url})" if hit.source_url else ""
            lines.append(f"• **{hit.title}**{source}: {hit.content[:300]}")
    embed.description = "\n".join(lines)[:MAX_DESCRIPTION]
    return embed


EFFECT_NOTES = {
    "relaxed": "body calm; good for winding down",
    "sleepy": "can sedate; best at night",
    "energetic": "can feel racy for sensitive people",
    "focused": "clear-headed for many people",
    "hungry": "expect the munchies",
    "euphoric": "strong mood lift",
    "creative": "often chosen for creative sessions",
    "uplifted": "mood and energy lift",
    "happy": "generally upbeat",
}


def strain_effects(strain: Strain) -> nextcord.Embed:
    embed = _base(strain, " — effects")
    lines = [
        f"• **{effect}**: {EFFECT_NOTES.get(effect.casefold(), 'commonly reported')}"
        for effect in strain.effects
    ]
    lines.append(
        f"\nTHC {percent(strain.thc_min, strain.thc_max)}, "
        f"CBD {percent(strain.cbd_min, strain.cbd_max)}. "
        "Start low and go slow, especially with edibles; never drive impaired."
    )
    embed.description = "\n".join(lines)[:MAX_DESCRIPTION]
    return embed


NJ_HOME_GROW_NOTE = (
    "⚖️ **New Jersey:** home cultivation is not permitted for recreational users; growing "
    "cannabis at home remains illegal there. This is general horticulture information for "
    "places and licences where growing is lawful."
)


def strain_growing(strain: Strain) -> nextcord.Embed:
    embed = _base(strain, " — growing")
    grow = strain.growing or {}
    lines = []
    if grow.get("difficulty"):
        lines.append(f"• Difficulty: **{grow['difficulty']}**")
    if grow.get("flowering_weeks"):
        lines.append(f"• Flowering: about **{grow['flowering_weeks']} weeks**")
    if grow.get("yield"):
        lines.append(f"• Yield: **{grow['yield']}**")
    if not lines:
        lines.append("No growing notes for this strain yet.")
    lines.append("")
    lines.append(NJ_HOME_GROW_NOTE)
    embed.description = "\n".join(lines)[:MAX_DESCRIPTION]
    return embed


def strain_list(title: str, strains: Sequence[Strain], *, start: int = 0) -> nextcord.Embed:
    lines = [
        f"`{start + i + 1:>3}.` **{s.name}** · {s.type} · THC {percent(s.thc_min, s.thc_max)}"
        f" · CBD {percent(s.cbd_min, s.cbd_max)}"
        for i, s in enumerate(strains)
    ]
    embed = nextcord.Embed(title=title[:256],
                           description="\n".join(lines)[:MAX_DESCRIPTION] or "Nothing here yet.")
    return embed


def choice_label(strain: Strain) -> str:
    """An autocomplete choice: name, type and THC, within Discord's 100 characters."""
    label = f"{strain.name} · {strain.type} · THC {percent(strain.thc_min, strain.thc_max)}"
    return label[:100]
