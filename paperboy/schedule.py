"""When a subscriber is due: pure functions of (zone, send hour, frequency, last digest, now).

A digest belongs to a *period* (a local day, or an ISO week for weekly digests); the store keeps
at most one digest per (subscriber, period), so whatever runs when, each period sends once.
Local wall-clock time decides: on a spring-forward day a 02:30 send time is due from 03:00, and
in the repeated autumn hour the period has already been sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from store.types import Frequency

WEEKDAYS_ONLY = range(5)  # Monday to Friday


@dataclass(frozen=True, slots=True)
class Timing:
    """What scheduling needs to know of a subscriber."""

    time_zone: str
    send_hour: int
    frequency: Frequency
    weekday: int = 0  # for weekly: 0 = Monday
    send_minute: int = 0

    def __post_init__(self) -> None:
        # "weekly" as typed or stored becomes Frequency.WEEKLY (an unknown one: ValueError).
        if not isinstance(self.frequency, Frequency):  # a member already: no Enum call
            object.__setattr__(self, "frequency", Frequency(self.frequency))


def period_of(timing: Timing, now: datetime) -> str | None:
    """The period a digest sent now belongs to, or None if no digest is due at all today."""
    local = now.astimezone(ZoneInfo(timing.time_zone))
    if timing.frequency is Frequency.WEEKLY:
        if local.weekday() != timing.weekday:
            return None
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if timing.frequency is Frequency.WEEKDAYS and local.weekday() not in WEEKDAYS_ONLY:
        return None
    return local.date().isoformat()


def due_period(timing: Timing, now: datetime, sent_periods: frozenset[str]) -> str | None:
    """The period to send now, if the local send hour has come and it was not sent yet."""
    period = period_of(timing, now)
    if period is None or period in sent_periods:
        return None
    local = now.astimezone(ZoneInfo(timing.time_zone))
    return period if (local.hour, local.minute) >= (timing.send_hour, timing.send_minute) else None


def default_window(timing: Timing) -> timedelta:
    """How far back the very first digest looks (later ones start where the last one ended)."""
    if timing.frequency is Frequency.WEEKLY:
        return timedelta(days=7)
    if timing.frequency is Frequency.WEEKDAYS:
        return timedelta(days=3)  # a Monday first digest covers the weekend too
    return timedelta(days=1)


def retry_deadline(timing: Timing, created_at: datetime) -> datetime:
    """Keep retrying a digest until the next one is due; after that a newer one supersedes it."""
    weekly = timing.frequency is Frequency.WEEKLY
    return created_at + (timedelta(days=7) if weekly else timedelta(days=1))
