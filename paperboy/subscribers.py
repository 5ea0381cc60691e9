"""Subscriber rules: what a valid address, zone, hour, frequency and profile look like.

Pure functions that either return clean values or raise InputError with one clear sentence; the
CLI, the importer and (later) the web forms all go through them before anything is written.
"""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import available_timezones

from paperboy.errors import InputError
from paperboy.profiles.parser import parse
from store.types import Action as Action  # stored states and their moves: the store's
from store.types import Frequency as Frequency
from store.types import NewProfile, SubscriberSettings
from store.types import Status as Status
from store.types import allows as allows
from store.types import transition as transition

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_PAPERS_LIMIT = 100
_PROFILE_NAME = re.compile(r"^[\w][\w .\-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 but tab, LF, CR; and DEL
_SEND_TIME = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?")  # [0-9], not \d: ASCII digits only


def normalise_email(address: str) -> str:
    """A syntactically valid address, normalised; compared case-insensitively."""
    # Imported here: compiling its grammar costs every CLI command ~20 ms (issue 17).
    from email_validator import EmailNotValidError, validate_email

    try:
        # ASCII only: digests go out without SMTPUTF8, and the headers are built for ASCII.
        valid = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as e:
        raise InputError(
            f"{shown(address.strip())} is not a valid email address: {e}",
            hint="write it as name@example.org",
        ) from e
    return (valid.ascii_email or valid.normalized).lower()  # a domain in IDNA (xn--) form


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(name: str) -> str:
    cleaned = name.strip()
    if cleaned not in _zones():
        raise InputError(
            f"unknown time zone {shown(cleaned)}",
            hint="use an IANA name such as Europe/London, America/New_York or Asia/Tokyo",
        )
    return cleaned


def send_hour(hour: int) -> int:
    if not 0 <= hour <= 23:
        raise InputError(f"send hour {hour} is not between 0 and 23", hint="8 means 08:00 local")
    return hour


def send_time(text: str | int) -> tuple[int, int]:
    """A local send time: "8", "08:30" or "2:30" -> (hour, minute).

    Digits are ASCII only: ``str.isdigit()`` and ``int()`` also take "²", "①" or "٣" (and
    int() refuses 5,000 nines with a ValueError of its own), so a regex decides, then int().
    """
    found = _SEND_TIME.fullmatch(str(text).strip())
    if found is None:
        raise InputError(
            f"send time {shown(text)} is not an hour or HH:MM", hint="write 8 or 08:30"
        )
    hour, minute = found.group(1), found.group(2)
    if minute and not 0 <= int(minute) <= 59:
        raise InputError(f"send time {shown(text)}: minutes run from 00 to 59")
    return send_hour(int(hour)), int(minute or 0)


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut short: an error message never echoes a huge input back in full."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def weekday(name: str) -> int:
    key = name.strip().lower()[:3]
    if key not in WEEKDAYS:
        raise InputError(
            f"{shown(name)} is not a weekday", hint=f"use one of {', '.join(WEEKDAYS)}"
        )
    return WEEKDAYS.index(key)


def frequency(name: str) -> Frequency:
    try:
        return Frequency(name.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in Frequency)
        raise InputError(
            f"{shown(name)} is not a frequency", hint=f"use one of {choices}"
        ) from None


def max_papers(count: int) -> int:
    if not 1 <= count <= MAX_PAPERS_LIMIT:
        raise InputError(f"maximum papers {count} is not between 1 and {MAX_PAPERS_LIMIT}")
    return count


def settings(
    *,
    zone: str = "UTC",
    hour: int | str = 8,
    every: str = Frequency.DAILY,
    day: str = "mon",
    limit: int = 20,
    send_empty: bool = False,
) -> SubscriberSettings:
    """Validated settings from what a person typed (``hour`` may be "08:30")."""
    at_hour, at_minute = send_time(hour)
    return SubscriberSettings(
        time_zone=time_zone(zone),
        send_hour=at_hour,
        send_minute=at_minute,
        frequency=frequency(every),
        weekday=weekday(day),
        max_papers=max_papers(limit),
        send_empty=send_empty,
    )


def profile(name: str, query: str) -> NewProfile:
    """A valid profile: a short name and a query that parses (errors name the column)."""
    cleaned = name.strip()
    if not _PROFILE_NAME.match(cleaned):
        raise InputError(
            f"profile name {shown(name)} is not usable",
            hint="1 to 64 letters, digits, spaces, dots, dashes or underscores",
        )
    control = _CONTROL.search(query)
    if control:  # NUL: PostgreSQL refuses the write; none of them means anything in a query
        raise InputError(
            f"the query has a control character ({control.group()!r}) at column"
            f" {control.start() + 1}",
            hint="type the query again without it",
        )
    parse(query, cleaned)  # raises ProfileSyntaxError naming the column
    return NewProfile(name=cleaned, query=" ".join(query.split()))
