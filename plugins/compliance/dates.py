"""Reading a typed date of birth and computing an age on the New York calendar date.

Only ISO dates (YYYY-MM-DD) are accepted: 01/02/1990 means January 2 in the US and February 1
elsewhere, and guessing wrong would verify the wrong age.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

# The community is in New Jersey: a birthday counts from midnight Eastern time.
NEW_YORK = ZoneInfo("America/New_York")
OLDEST_PLAUSIBLE_AGE = 120
FORMAT_HINT = "Type your date of birth as YYYY-MM-DD, for example 1990-12-31."

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SLASHED = re.compile(r"^\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}$")


class BadDate(ValueError):
    """A date that cannot be a date of birth; `counts_as_attempt` for plausible-looking guesses."""

    def __init__(self, message: str, *, counts_as_attempt: bool) -> None:
        super().__init__(message)
        self.message = message
        self.counts_as_attempt = counts_as_attempt

    def __str__(self) -> str:
        return self.message


def today_in_new_york(now: datetime | None = None) -> date:
    moment = now if now is not None else datetime.now(NEW_YORK)
    return moment.astimezone(NEW_YORK).date()


def age_on(birth: date, today: date) -> int:
    """Completed years; someone born on Feb 29 turns a year older on Mar 1 in common years."""
    years = today.year - birth.year
    if (today.month, today.day) < (birth.month, birth.day):
        years -= 1
    return years


def parse_birth_date(raw: str, today: date) -> date:
    """The date typed in the modal, or BadDate with a message the member can act on."""
    text = (raw or "").strip()
    if not text:
        raise BadDate(f"The date of birth is empty. {FORMAT_HINT}", counts_as_attempt=False)
    match = _ISO.match(text)
    if match is None:
        if _SLASHED.match(text):
            raise BadDate(
                f"`{text[:20]}` is ambiguous (day/month or month/day?). {FORMAT_HINT}",
                counts_as_attempt=False,
            )
        raise BadDate(f"That is not a date. {FORMAT_HINT}", counts_as_attempt=False)
    year, month, day = (int(part) for part in match.groups())
    try:
        birth = date(year, month, day)
    except ValueError:
        raise BadDate(
            f"{text} does not exist on the calendar. {FORMAT_HINT}", counts_as_attempt=True
        ) from None
    if birth > today:
        raise BadDate("That date of birth is in the future.", counts_as_attempt=True)
    if age_on(birth, today) > OLDEST_PLAUSIBLE_AGE:
        raise BadDate(
            f"That would make you older than {OLDEST_PLAUSIBLE_AGE}; check the year.",
            counts_as_attempt=True,
        )
    return birth
