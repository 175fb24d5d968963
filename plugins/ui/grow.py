"""The grow wizard's answers and the guide built from them: the knowledge base first, the
plugin's own shipped text when the knowledge base has nothing (or the llm plugin is off)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.api import KnowledgeHit
from plugins.ui.cards import NJ_HOME_GROW_NOTE

# Each question's options: canonical value -> words a member may type for it.
GOALS = {
    "yield": ("yield", "big", "harvest", "amount", "quantity", "most"),
    "quality": ("quality", "flavor", "flavour", "potency", "terpenes", "taste"),
    "discreet": ("discreet", "stealth", "smell", "small", "quiet"),
    "learning": ("learning", "learn", "hobby", "fun", "experiment"),
}
EXPERIENCE = {
    "beginner": ("beginner", "new", "first", "none", "novice"),
    "intermediate": ("intermediate", "some", "few"),
    "experienced": ("experienced", "expert", "advanced", "pro", "many"),
}
SPACES = {
    "closet": ("closet", "cabinet", "cupboard", "box"),
    "tent": ("tent", "grow tent"),
    "room": ("room", "basement", "garage", "spare"),
    "outdoor": ("outdoor", "outside", "garden", "greenhouse", "balcony"),
}
MEDIUMS = {
    "soil": ("soil", "dirt", "organic", "living soil"),
    "coco": ("coco", "coir", "coconut"),
    "hydro": ("hydro", "hydroponic", "hydroponics", "dwc", "aeroponic", "nft"),
}
LIGHTING = {
    "led": ("led", "leds", "full spectrum"),
    "hps": ("hps", "mh", "hid", "high pressure sodium"),
    "cfl": ("cfl", "fluorescent", "t5"),
    "sun": ("sun", "sunlight", "natural", "none", "window"),
}


def chooser(options: dict[str, tuple[str, ...]], what: str) -> Callable[[str], str]:
    """A form validator mapping free text to one option, or a message listing the options."""

    def pick(raw: str) -> str:
        text = " ".join(raw.casefold().split())
        for value, words in options.items():
            if text == value or text in words:
                return value
        for value, words in options.items():
            if any(word in text.split() for word in words):
                return value
        raise ValueError(f"pick a {what}: " + ", ".join(options))

    return pick


def placeholder(options: dict[str, tuple[str, ...]]) -> str:
    return " / ".join(options)


GOAL_TIPS = {
    "yield": "Train plants flat (low-stress training, SCROG) so every top gets light, and "
             "choose a heavy-yielding, forgiving cultivar.",
    "quality": "Keep flowering temperatures moderate, avoid over-feeding late, and dry slowly "
               "(about 60 °F / 60 % RH for 10–14 days) before a cure of several weeks.",
    "discreet": "Carbon filter on the exhaust, compact autoflowering or indica-leaning "
                "cultivars, and a light-tight space.",
    "learning": "Start with one or two plants of an easy cultivar and keep a log of "
                "feeding, pH, temperature and humidity.",
}
EXPERIENCE_TIPS = {
    "beginner": "Forgiving setups first: soil, LED, an easy strain (e.g. Northern Lights or "
                "Blue Dream); change one thing at a time.",
    "intermediate": "Dial in environment: VPD, a runoff EC/pH check, and training.",
    "experienced": "Fine-tune cultivar selection, crop steering and post-harvest handling.",
}
SPACE_TIPS = {
    "closet": "A closet heats up fast: budget light wattage for the area and move air "
              "constantly; short cultivars fit best.",
    "tent": "A tent makes light, airflow and smell control easy: inline fan plus carbon filter.",
    "room": "A whole room needs sealing, reflective walls and climate control.",
    "outdoor": "Outdoors depends on season, privacy and pests; choose mould-resistant "
               "cultivars for humid climates.",
}
MEDIUM_TIPS = {
    "soil": "Soil buffers mistakes; water when the pot feels light, pH around 6.0–7.0.",
    "coco": "Coco grows fast but needs frequent fertigation and pH 5.8–6.2; never let it dry out.",
    "hydro": "Hydro is the fastest and least forgiving: watch pH 5.5–6.1, water temperature "
             "and root health daily.",
}
LIGHTING_TIPS = {
    "led": "Full-spectrum LED runs cool and efficient; follow the maker's hanging height.",
    "hps": "HPS gives strong flowering light and lots of heat: plan exhaust capacity.",
    "cfl": "CFL/T5 suits seedlings and clones; it is weak for flowering.",
    "sun": "Sunlight is free; photoperiod plants flower as nights reach about 12 hours.",
}


@dataclass(frozen=True)
class GrowPlan:
    goal: str
    experience: str
    space: str
    medium: str
    lighting: str

    def query(self) -> str:
        return (f"grow guide {self.goal} {self.space} {self.medium} {self.lighting} "
                f"{self.experience}")


def shipped_guide(plan: GrowPlan) -> list[str]:
    return [
        f"🎯 **Goal — {plan.goal}:** {GOAL_TIPS[plan.goal]}",
        f"🧑‍🌾 **Experience — {plan.experience}:** {EXPERIENCE_TIPS[plan.experience]}",
        f"📦 **Space — {plan.space}:** {SPACE_TIPS[plan.space]}",
        f"🪴 **Medium — {plan.medium}:** {MEDIUM_TIPS[plan.medium]}",
        f"💡 **Lighting — {plan.lighting}:** {LIGHTING_TIPS[plan.lighting]}",
    ]


def render_guide(plan: GrowPlan, hits: Sequence[KnowledgeHit]) -> str:
    """The guide text (fits an embed description: at most 4,096 characters)."""
    lines = [NJ_HOME_GROW_NOTE, ""]
    if hits:
        lines.append("**From the community knowledge base**")
        for hit in hits:
            source = f" — <{hit.source_url}>" if hit.source_url else ""
            lines.append(f"• **{hit.title}**{source}\n{hit.content[:600]}")
        lines.append("")
        lines.append("**Quick notes for your setup**")
    lines.extend(shipped_guide(plan))
    text = "\n".join(lines)
    if len(text) > 4096:
        # Keep the legal note and the shipped notes; trim knowledge-base excerpts first.
        text = "\n".join([NJ_HOME_GROW_NOTE, "", *shipped_guide(plan)])
    return text[:4096]
