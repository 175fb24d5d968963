"""The New Jersey compliance checker: strict parsing of what a member plans, and what NJ law
says about each part, with sources. Information, not legal advice."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

GRAMS_PER_OUNCE = Decimal("28.3495")
# Adults 21+ may possess up to six ounces of usable cannabis (CREAMMA, P.L.2021, c.16).
NJ_POSSESSION_LIMIT_OZ = Decimal(6)
NJ_POSSESSION_LIMIT_G = NJ_POSSESSION_LIMIT_OZ * GRAMS_PER_OUNCE

AMOUNT_FORMAT = "Write the amount as a number and a unit, like “1 oz”, “3.5 g” or “28 g”."
# Plain positive decimals only: no signs, exponents ("1e9"), words or fractions.
_AMOUNT = re.compile(
    r"^(?P<number>\d{1,6}(?:\.\d{1,3})?)\s*(?P<unit>g|grams?|oz|ounces?)\.?$", re.IGNORECASE
)

SOURCE_CRC = "NJ Cannabis Regulatory Commission — https://www.nj.gov/cannabis/"
SOURCE_CREAMMA = "CREAMMA, P.L.2021, c.16 (N.J.S.A. 24:6I-31 et seq.)"
SOURCE_POSSESSION = "N.J.S.A. 2C:35-10 (possession)"
SOURCE_DUI = "N.J.S.A. 39:4-50 (driving while intoxicated)"
DISCLAIMER = (
    "*This is general information about New Jersey law for adults 21+, not legal advice. "
    "Laws and local ordinances change; check the CRC or a lawyer before you act.*"
)


@dataclass(frozen=True)
class Amount:
    grams: Decimal
    shown: str


def parse_amount(raw: str) -> Amount:
    """"1 oz", "28 g", "3.5 grams" -> grams. Anything else raises ValueError with the format."""
    text = " ".join(raw.strip().split())
    match = _AMOUNT.match(text)
    if match is None:
        raise ValueError(AMOUNT_FORMAT)
    try:
        number = Decimal(match.group("number"))
    except InvalidOperation:
        raise ValueError(AMOUNT_FORMAT) from None
    if number <= 0:
        raise ValueError("The amount must be more than zero. " + AMOUNT_FORMAT)
    unit = match.group("unit").casefold()
    ounces = unit.startswith("o")
    grams = number * GRAMS_PER_OUNCE if ounces else number
    return Amount(grams=grams, shown=f"{number.normalize():f} {'oz' if ounces else 'g'}")


PLACE_PRIVATE = ("home", "house", "apartment", "my place", "private", "residence", "backyard",
                 "yard", "friend's", "friends")
PLACE_VEHICLE = ("car", "vehicle", "truck", "van", "uber", "lyft", "taxi", "bus", "train")
PLACE_PUBLIC = ("park", "street", "sidewalk", "beach", "boardwalk", "public", "school",
                "campus", "bar", "restaurant", "concert", "stadium", "mall", "work", "office",
                "outside", "parking", "festival", "hotel lobby")
PLACE_LOUNGE = ("lounge", "consumption area")


def classify_place(raw: str) -> str:
    text = raw.casefold()
    # Order matters: "parking lot in my car" is a vehicle; "public park" is public.
    for kind, words in (("lounge", PLACE_LOUNGE), ("vehicle", PLACE_VEHICLE),
                        ("public", PLACE_PUBLIC), ("private", PLACE_PRIVATE)):
        if any(re.search(rf"\b{re.escape(w)}\b", text) for w in words):
            return kind
    return "unknown"


def parse_yes_no(raw: str) -> bool:
    value = raw.strip().casefold().rstrip(".!")
    if value in {"yes", "y", "yeah", "yep", "true"}:
        return True
    if value in {"no", "n", "nope", "false"}:
        return False
    raise ValueError("answer yes or no")


def classify_source(raw: str) -> str:
    text = raw.casefold()
    if re.search(r"\b(unlicensed|not licensed|dealer|plug|street|friend|online|mail|"
                 r"out of state|another state|pa|ny|grow(?:n)? (?:it )?myself)\b", text):
        return "unlicensed"
    if re.search(r"\b(dispensary|dispensaries|licensed|crc|atc|retailer)\b", text):
        return "licensed"
    return "unknown"


@dataclass(frozen=True)
class Finding:
    topic: str
    verdict: str  # "ok", "warning" or "illegal"
    text: str
    source: str


ICONS = {"ok": "✅", "warning": "⚠️", "illegal": "⛔"}


def check_plan(amount: Amount, place: str, driving: bool, source: str) -> list[Finding]:
    findings: list[Finding] = []
    limit = f"{NJ_POSSESSION_LIMIT_OZ} oz (about {NJ_POSSESSION_LIMIT_G:.0f} g)"
    if amount.grams <= NJ_POSSESSION_LIMIT_G:
        findings.append(Finding(
            "Possession", "ok",
            f"{amount.shown} is within the {limit} adults 21+ may possess.",
            SOURCE_CREAMMA,
        ))
    else:
        findings.append(Finding(
            "Possession", "illegal",
            f"{amount.shown} is over the {limit} limit for adults 21+; possessing more is an "
            "offense.",
            f"{SOURCE_CREAMMA}; {SOURCE_POSSESSION}",
        ))
    kind = classify_place(place)
    place_text = {
        "private": "Private property is where adults may consume, with the owner's consent "
                   "(landlords and hotels may forbid it).",
        "lounge": "Only a licensed consumption lounge may allow on-site use; check its licence.",
        "vehicle": "Consuming in a vehicle is prohibited, moving or parked, and open "
                   "packages in the passenger area can be treated as consumption.",
        "public": "Public consumption is prohibited in New Jersey (streets, parks, beaches, "
                  "boardwalks, schools); towns may fine it.",
        "unknown": "Public consumption is prohibited; consume only on private property with "
                   "the owner's consent or in a licensed consumption lounge.",
    }[kind]
    findings.append(Finding(
        "Place", {"private": "ok", "lounge": "warning", "unknown": "warning"}.get(kind, "illegal"),
        place_text, f"{SOURCE_CREAMMA}; {SOURCE_CRC}",
    ))
    if driving:
        findings.append(Finding(
            "Driving", "illegal",
            "Driving under the influence of cannabis is illegal (DUI): penalties include licence "
            "suspension and fines. Wait until you are unimpaired or don't drive.",
            SOURCE_DUI,
        ))
    else:
        findings.append(Finding(
            "Driving", "ok", "Good: not driving. Driving while impaired by cannabis is a DUI.",
            SOURCE_DUI,
        ))
    source_kind = classify_source(source)
    source_text = {
        "licensed": "Buying from a CRC-licensed dispensary is the legal way to buy.",
        "unlicensed": "Buying from anyone but a licensed dispensary (a friend, a dealer, online, "
                      "another state) is illegal; purchase only from licensed dispensaries.",
        "unknown": "Purchase only from dispensaries licensed by the CRC; the CRC publishes the "
                   "list of licensed retailers.",
    }[source_kind]
    findings.append(Finding(
        "Purchase", {"licensed": "ok", "unlicensed": "illegal"}.get(source_kind, "warning"),
        source_text, SOURCE_CRC,
    ))
    return findings


def render_findings(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"{ICONS[f.verdict]} **{f.topic}** — {f.text}\n   ↳ Source: {f.source}")
    lines.append(
        "🏠 Home cultivation is not permitted for recreational users in New Jersey."
    )
    lines.append("\n" + DISCLAIMER)
    return "\n".join(lines)
