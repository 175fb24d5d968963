"""Component handlers and block callbacks: strain card buttons, pickers, explore, forms' ends.

All state is in the core's component store (restart-proof). The plugin is rated adults_only,
so the router asks the age gate on every click, whoever's message the control sits on; the
rows also name their feature (age_feature) so denials on controls are audited under it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nextcord
from nextcord.ui import Select

from bot.api import (
    ControlExpired,
    Option,
    Page,
    PluginComponents,
    UserError,
    button,
    controls,
    user_of,
    uses_state,
)
from plugins.ui import cards, compliance, grow, strains
from plugins.ui.models import Strain

if TYPE_CHECKING:
    from bot.api import ComponentContext, PluginContext

STRAIN_FEATURE = "strain"
# Kinds of the component state rows this module creates; each handler accepts only its own
# (`uses_state`), so a row made for one control can't drive another action.
CARD = "card"
PICKER = "picker"
EXPLORE = "explore"
CARD_TTL = timedelta(days=30)
PICKER_TTL = timedelta(hours=2)
STRAIN_PAGES = "ui.strains"
OPEN_CARD = "ui.open_card"
PICKER_MAX = 1000
XP_GROW_WIZARD = 5
XP_COMPLIANCE_CHECK = 5


async def send_card(ctx: PluginContext, interaction: nextcord.Interaction, strain: Strain,
                    *, shared: bool = False) -> None:
    """The strain card with Details / Effects / Growing. The buttons have no owner: where a
    card is public (a channel only verified members read) any of them may press; each press
    still asks the age gate. `shared` (the /strain info answer): public where only verified
    members can read the channel, else only to the member; a card opened from a private list
    stays private."""
    state = await ctx.components.create(
        CARD, {"strain_id": strain.id}, owner=None, guild_id=interaction.guild_id,
        ttl=CARD_TTL, age_feature=STRAIN_FEATURE,
    )
    view = controls(
        button("Details", ctx.components.custom_id("strain.details", state),
               style=nextcord.ButtonStyle.primary),
        button("Effects", ctx.components.custom_id("strain.effects", state)),
        button("Growing", ctx.components.custom_id("strain.grow", state)),
    )
    embed = cards.strain_card(strain)
    if shared:
        await ctx.send_adult(interaction, embed=embed, view=view)
    else:
        await interaction.send(embed=embed, view=view, ephemeral=True)


async def _card_strain(ctx: ComponentContext) -> Strain:
    strain = await Strain.get_or_none(id=int(ctx.data.get("strain_id", 0)))
    if strain is None:
        raise ControlExpired("this strain was removed; look it up again with /strain info")
    return strain


@uses_state(CARD)
async def on_details(ctx: ComponentContext) -> None:
    strain = await _card_strain(ctx)
    hits = await ctx.services.knowledge.search(ctx.guild_id, f"{strain.name} strain", 3)
    await ctx.send(embed=cards.strain_details(strain, hits))


@uses_state(CARD)
async def on_effects(ctx: ComponentContext) -> None:
    await ctx.send(embed=cards.strain_effects(await _card_strain(ctx)))


@uses_state(CARD)
async def on_growing(ctx: ComponentContext) -> None:
    await ctx.send(embed=cards.strain_growing(await _card_strain(ctx)))


def strain_select(components: PluginComponents, state_id: str, action: str, rows: list[Strain],
                  placeholder: str) -> Select[Any]:
    return Select(
        custom_id=components.custom_id(action, state_id), placeholder=placeholder,
        options=[nextcord.SelectOption(label=s.name[:100], value=str(s.id),
                                       description=cards.choice_label(s)[:100])
                 for s in rows[:25]],
    )


async def send_recommendations(ctx: PluginContext, interaction: nextcord.Interaction,
                               effect: str, experience: str | None) -> None:
    rows = await strains.recommend(effect, experience)
    if not rows:
        raise UserError(f"No strains list **{effect}** as an effect yet.")
    state = await ctx.components.create(
        PICKER, {"ids": [s.id for s in rows]}, owner=user_of(interaction),
        guild_id=interaction.guild_id, ttl=PICKER_TTL, age_feature=STRAIN_FEATURE,
    )
    level = experience or "any experience"
    embed = cards.strain_list(f"Strains for feeling {effect.lower()} ({level})", rows)
    if experience == "beginner":
        embed.description = (embed.description or "") + (
            "\n\nNew to cannabis? Start low (2.5–5 mg THC in edibles, one small puff), "
            "wait, and never drive impaired."
        )
    embed.set_footer(text=cards.DISCLAIMER)
    await interaction.send(
        embed=embed, ephemeral=True,
        view=controls(strain_select(ctx.components, state.id, "strain.pick", rows,
                                    "Open a strain card…")),
    )


async def send_explorer(ctx: PluginContext, interaction: nextcord.Interaction) -> None:
    state = await ctx.components.create(
        EXPLORE, {}, owner=user_of(interaction), guild_id=interaction.guild_id,
        ttl=PICKER_TTL, age_feature=STRAIN_FEATURE,
    )
    counts = {key: await strains.category_count(key) for key in strains.CATEGORIES}
    select: Select[Any] = Select(
        custom_id=ctx.components.custom_id("explore.cat", state),
        placeholder="Pick a category…",
        options=[nextcord.SelectOption(label=f"{label} ({counts[key]})", value=key)
                 for key, label in strains.CATEGORIES.items()],
    )
    await interaction.send("🌿 **Strain explorer** — pick a category.", view=controls(select),
                           ephemeral=True)


class StrainPages:
    """Paginator source: one page of one category, read with LIMIT/OFFSET on demand."""

    async def page_count(self, params: dict[str, Any]) -> int:
        total = await strains.category_count(str(params.get("category", "all")))
        return max(1, -(-total // strains.PAGE_SIZE))

    async def render(self, params: dict[str, Any], page: int) -> Page:
        category = str(params.get("category", "all"))
        rows = await strains.category_page(category, page)
        label = strains.CATEGORIES.get(category, "Strains")
        title = label if "strain" in label.casefold() else f"{label} strains"
        return Page(embed=cards.strain_list(title, rows, start=page * strains.PAGE_SIZE))


class StrainControls:
    """The handlers that answer with new controls of their own (a card, a paginator, a
    picker), so they need the plugin's context: built in setup with it."""

    def __init__(self, plugin_ctx: PluginContext) -> None:
        self.plugin_ctx = plugin_ctx

    @uses_state(PICKER)
    async def on_pick(self, ctx: ComponentContext) -> None:
        allowed = {str(i) for i in ctx.data.get("ids", [])}
        values = ctx.values
        if not values or values[0] not in allowed:
            raise ControlExpired()
        strain = await Strain.get_or_none(id=int(values[0]))
        if strain is None:
            raise ControlExpired("this strain was removed")
        await send_card(self.plugin_ctx, ctx.interaction, strain)

    @uses_state(EXPLORE)
    async def on_explore_category(self, ctx: ComponentContext) -> None:
        values = ctx.values
        if not values or values[0] not in strains.CATEGORIES:
            raise ControlExpired()
        category = values[0]
        # The picker keeps its options in one state row; past this, /strain info autocompletes.
        names = await strains.category_names(category, limit=PICKER_MAX + 1)
        if not names:
            raise UserError("No strains in that category yet.")
        prompt = "Open a card from this list:"
        if len(names) > PICKER_MAX:
            names = names[:PICKER_MAX]
            prompt = (f"Open a card (the first {PICKER_MAX} by name; find any other strain "
                      "with /strain info):")
        await self.plugin_ctx.paginate(ctx.interaction, STRAIN_PAGES, {"category": category},
                                       ephemeral=True, age_feature=STRAIN_FEATURE)
        await self.plugin_ctx.select(
            ctx.interaction, [Option(name, name, kind) for name, kind in names], OPEN_CARD,
            prompt=prompt, placeholder="Strain…", age_feature=STRAIN_FEATURE,
        )

    async def open_card(self, ctx: ComponentContext, result: dict[str, Any]) -> None:
        strain = await strains.find_strain(str(result.get("value", "")))
        if strain is None:
            raise UserError("That strain is no longer in the list.")
        await send_card(self.plugin_ctx, ctx.interaction, strain)


async def grow_done(ctx: ComponentContext, result: dict[str, Any]) -> None:
    answers = result["answers"]
    plan = grow.GrowPlan(goal=answers["goal"], experience=answers["experience"],
                         space=answers["space"], medium=answers["medium"],
                         lighting=answers["lighting"])
    hits = await ctx.services.knowledge.search(ctx.guild_id, plan.query(), 3)
    embed = nextcord.Embed(title="🌱 Your grow guide", description=grow.render_guide(plan, hits))
    embed.set_footer(text="Knowledge base" if hits else "Growmies starter guide")
    await ctx.services.audit.record(
        "ui.grow_wizard.completed", guild_id=ctx.guild_id, actor_id=ctx.user_id,
        target="grow_wizard", details={**answers, "knowledge_hits": len(hits)},
    )
    await ctx.services.xp.award(ctx.guild_id, ctx.user_id, XP_GROW_WIZARD, "ui.grow_wizard")
    await ctx.send(embed=embed)


async def compliance_done(ctx: ComponentContext, result: dict[str, Any]) -> None:
    answers = result["answers"]
    amount = compliance.parse_amount(answers["amount"])
    findings = compliance.check_plan(amount, answers["place"], bool(answers["driving"]),
                                     answers["source"])
    embed = nextcord.Embed(title="⚖️ What New Jersey law says about your plan",
                           description=compliance.render_findings(findings)[:4096])
    await ctx.services.audit.record(
        "ui.compliance.checked", guild_id=ctx.guild_id, actor_id=ctx.user_id,
        target="compliance_check",
        details={f.topic.lower(): f.verdict for f in findings},
    )
    await ctx.services.xp.award(ctx.guild_id, ctx.user_id, XP_COMPLIANCE_CHECK,
                                "ui.compliance_check")
    await ctx.send(embed=embed)


def _merged_fields(strain: Strain | None, answers: dict[str, Any]) -> strains.StrainFields:
    """Form answers over the current strain: a blank edit field keeps the stored value."""

    def pick(key: str, current: Any) -> Any:
        value = answers.get(key)
        return current if value in (None, "", []) else value

    thc = pick("thc", None)
    cbd = pick("cbd", None)
    return strains.StrainFields(
        name=pick("name", strain.name if strain else ""),
        type=pick("type", strain.type if strain else ""),
        thc=strains.parse_percent_range(thc) if thc else (strain.thc_min, strain.thc_max)
        if strain else (0.0, 0.0),
        cbd=strains.parse_percent_range(cbd) if cbd else (strain.cbd_min, strain.cbd_max)
        if strain else (0.0, 0.0),
        effects=pick("effects", strain.effects if strain else []),
        flavors=pick("flavors", strain.flavors if strain else []),
        description=pick("description", strain.description if strain else ""),
        source_url=pick("source", strain.source_url if strain else ""),
        growing=strain.growing if strain else {},
    )


async def strain_saved(ctx: ComponentContext, result: dict[str, Any]) -> None:
    payload = result.get("payload", {})
    strain_id = payload.get("strain_id")
    current = await Strain.get_or_none(id=int(strain_id)) if strain_id else None
    if strain_id and current is None:
        raise UserError("That strain no longer exists.")
    fields = _merged_fields(current, result["answers"])
    try:
        saved = await strains.save_strain(fields, strain_id=current.id if current else None,
                                          actor_id=ctx.user_id)
    except strains.StrainDataError as exc:
        raise UserError(str(exc)) from None
    action = "ui.strain.edited" if current else "ui.strain.added"
    await ctx.services.audit.record(action, guild_id=ctx.guild_id, actor_id=ctx.user_id,
                                    target=saved.name, details={"strain_id": saved.id})
    verb = "Updated" if current else "Added"
    await ctx.send(f"{verb} **{saved.name}**.", embed=cards.strain_card(saved))
