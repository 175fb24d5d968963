"""Compliance rules for what goes to and comes from the model: which replies promote illegal or
unsafe activity (replaced by a refusal), mentions that must never ping, disclaimers and the
safety-reminder cadence. Whether a text is about cannabis at all is classifier.py's job."""

from __future__ import annotations

import re
import unicodedata

_NEGATION = re.compile(
    r"\b(never|don't|do not|doesn't|does not|shouldn't|should not|avoid|illegal|unlawful|"
    r"not (safe|legal|allowed|permitted)|unsafe|dangerous|against the law|prohibited|"
    r"no one|nobody|wait|unless|refrain|instead|sober|designated|impair\w*|dui|dwi|arrest\w*|"
    r"penalt\w*|away from|out of reach|keep \w+ from|licen[cs]ed|requires? a licen[cs]e)\b",
    re.IGNORECASE,
)
# Each rule: an activity and a qualifier that together promote harm, in one sentence.
_UNSAFE_RULES: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    (
        "impaired_driving",
        re.compile(r"\b(drive|driving|drove|behind the wheel|operate a vehicle)\b", re.I),
        re.compile(r"\b(high|stoned|baked|blazed|after (smoking|dabbing|using|consuming|an "
                   r"edible|edibles))\b", re.I),
    ),
    (
        "unlicensed_sales",
        re.compile(r"\b(sell|selling|sold|deal|dealing|flip|flipping|resell)\b", re.I),
        re.compile(r"\b(weed|cannabis|bud|flower|edibles?|carts?|ounces?|grams?|eighths?|zips?"
                   r"|pounds?|without a licen[cs]e|on the side|to your friends)\b", re.I),
    ),
    (
        "minors",
        re.compile(r"\b(minors?|kids?|child(ren)?|teens?|teenagers?|underage|under 21|"
                   r"1[0-9][- ]year[- ]olds?|high school(ers)?)\b", re.I),
        re.compile(r"\b(give|share|sell|smoke|use|try|consume|dose|get them|let them|buy)\b",
                   re.I),
    ),
)
_EVASION = re.compile(
    r"\b(without (getting )?caught|avoid (the )?(cops|police)|hide it from|beat a (drug )?"
    r"test|pass a (drug )?test|fake (an )?id)\b",
    re.IGNORECASE,
)
_UNLICENSED = re.compile(r"\bwithout (a |any )?licen[cs]e\b(?!.*\b(illegal|never)\b)", re.I)
_SENTENCE = re.compile(r"(?<=[.!?\n])\s+")

REFUSAL = (
    "I can't help with that. Driving after using cannabis, selling it without a licence and "
    "any use by people under 21 are illegal in New Jersey and unsafe. I'm happy to help with "
    "legal, responsible use instead."
)
SAFETY_REMINDER = (
    "🌿 *Reminder: cannabis is for adults 21+ only. Start low and go slow, store it away from "
    "children and pets, and never drive after using it.*"
)
# One reminder every this many cannabis answers per member: often enough to be seen, not
# so often that members learn to skip it.
REMINDER_EVERY = 5

DISCLAIMERS = {
    "strain": "*Educational information only, not medical advice. Effects vary from person "
              "to person.*",
    "grow": "*Educational information only. Home cultivation is not permitted for "
            "recreational users in New Jersey; only licensed cultivators may grow.*",
    "legal": "*General information about New Jersey law, not legal advice. Laws change; check "
             "the NJ Cannabis Regulatory Commission (nj.gov/cannabis) or ask a lawyer.*",
    "medical": "*Not medical advice; talk to a healthcare provider.*",
    "chat": "*Educational information only; not medical or legal advice. NJ law applies "
            "to adults 21+.*",
}


def normalise(text: str) -> str:
    """NFKC, without control characters (they can hide words from the checks)."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")


def unsafe_reason(text: str) -> str | None:
    """The rule a reply breaks, if it promotes impaired driving, unlicensed sales or use by
    minors. Sentences that warn against the activity ("never drive high") pass."""
    for sentence in _SENTENCE.split(normalise(text)):
        if _NEGATION.search(sentence) and not _UNLICENSED.search(sentence):
            continue
        for name, activity, qualifier in _UNSAFE_RULES:
            if activity.search(sentence) and qualifier.search(sentence):
                return name
    return None


def request_refusal_reason(text: str, *, strict: bool) -> str | None:
    """Requests refused before any tokens are spent: evading police or tests always; in
    strict mode also requests that state one of the unsafe activities outright."""
    clean = normalise(text)
    if _EVASION.search(clean):
        return "evasion"
    if strict:
        return unsafe_reason(clean)
    return None


_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ID_MENTION = re.compile(r"<@([!&]?)(\d+)>")


def neutralise_mentions(text: str) -> str:
    """Break every mention with a zero-width space, on top of allowed_mentions=none, so model
    output cannot ping anyone even if it is later reposted by something less careful."""
    text = _MASS_MENTION.sub(lambda m: "@\u200b" + m.group(1), text)
    return _ID_MENTION.sub(lambda m: f"<@\u200b{m.group(1)}{m.group(2)}>", text)


def disclaimer_for(kind: str, *, legal_required: bool, cannabis: bool) -> str | None:
    if kind == "legal":
        return DISCLAIMERS["legal"] if legal_required else None
    if kind in DISCLAIMERS and kind != "chat":
        return DISCLAIMERS[kind]
    if cannabis and legal_required:
        return DISCLAIMERS["chat"]
    return None
