"""When a subscriber's next digest comes, and how a mail says it (pure: timing and now in).

The next digest is the first local send time after ``now`` whose period is not the one being
composed, on a day the frequency sends: so a digest composed late names tomorrow's, not itself.
On a spring-forward day a send time that does not exist comes when the clocks jump past it (as
paperboy.schedule makes it due); in the repeated autumn hour it comes the first time round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from paperboy.schedule import Timing, period_of
from store.types import Frequency

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LOOK_AHEAD = 15  # days: a weekly digest's next send is at most 14 days after a late one


@dataclass(frozen=True, slots=True)
class Upcoming:
    """The subscriber's cadence and their next send time, local to their zone."""

    at: datetime  # aware, in the subscriber's zone
    cadence: str  # "every day at 08:00 (Europe/London time)"

    @property
    def label(self) -> str:
        """ "Friday 3 July at 08:00" """
        return f"{self.at:%A} {self.at.day} {self.at:%B} at {self.at:%H:%M}"


def cadence(timing: Timing) -> str:
    hour = f"{timing.send_hour:02d}:{timing.send_minute:02d} ({timing.time_zone} time)"
    if timing.frequency is Frequency.WEEKLY:
        return f"every {DAY_NAMES[timing.weekday]} at {hour}"
    if timing.frequency is Frequency.WEEKDAYS:
        return f"Monday to Friday at {hour}"
    return f"every day at {hour}"


def next_send(timing: Timing, period: str, now: datetime) -> datetime:
    """The moment the digest after ``period``'s is due, in the subscriber's zone."""
    zone = ZoneInfo(timing.time_zone)
    today = now.astimezone(zone).date()
    wall = time(timing.send_hour, timing.send_minute)
    for days in range(_LOOK_AHEAD):
        at = _first_at_or_after(datetime.combine(today + timedelta(days=days), wall), zone)
        following = period_of(timing, at)
        if at > now and following is not None and following != period:
            return at
    raise ValueError(f"no send time within {_LOOK_AHEAD} days for {timing}")  # unreachable


@lru_cache(maxsize=1024)
def upcoming(timing: Timing, period: str, now: datetime) -> Upcoming:
    """Cached: a run composes at one ``now``, for subscribers who mostly share a timing."""
    return Upcoming(next_send(timing, period, now), cadence(timing))


def _first_at_or_after(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant whose local time is ``wall`` or later (a gap's end when it is skipped)."""
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return first  # it exists (the first of two in the repeated hour)
    # In a spring-forward gap: step from the earlier reading until the local clock has passed it.
    at = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while at.astimezone(zone).replace(tzinfo=None) < wall:
        at += timedelta(minutes=1)
    return at.astimezone(zone)
