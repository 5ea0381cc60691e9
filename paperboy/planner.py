"""What a subscriber's digest will be, decided without any I/O: who is due, the window it
covers, what it shows and hides, its kind and how long it may be retried.

(subscriber, profiles refused, matches, previous digest's end, fetch health, now) -> a
``DigestPlan``, or ``Withheld`` when no digest may be composed for them now. The composer
(paperboy.composer) reads the inputs and renders, records and sends what the plan says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from paperboy import digest as digests
from paperboy import schedule
from paperboy.profiles.matcher import Match
from store.types import DigestKind, Subscriber

R = TypeVar("R")
FIX_PROFILE = "fix or remove that profile (`paperboy profile edit` or `paperboy profile remove`)"


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """One digest as it will be composed: everything but its rendering."""

    subscriber_id: int
    recipient: str
    period: str
    kind: DigestKind  # a skipped digest is recorded, never mailed
    selection: digests.Selection
    window_start: datetime
    window_end: datetime
    deadline: datetime  # retried until then; the next digest is due

    @property
    def mailed(self) -> bool:
        return self.kind != DigestKind.SKIPPED

    @property
    def shown(self) -> tuple[str, ...]:
        """The papers the mail shows, section by section."""
        return tuple(m.paper.arxiv_id for _, found in self.selection.sections for m in found)

    @property
    def hidden(self) -> tuple[str, ...]:
        """The matching papers left to the digest's page ("and N more")."""
        shown = set(self.shown)
        return tuple(p for p in self.selection.paper_ids if p not in shown)


@dataclass(frozen=True, slots=True)
class Withheld:
    """No digest for this subscriber now; they stay due, so nothing is skipped for good."""

    subscriber_id: int
    recipient: str
    reasons: tuple[str, ...]
    stale: bool  # fetching is broken or stale (every digest waits), not this subscriber's fault


def timing(s: Subscriber) -> schedule.Timing:
    return schedule.Timing(s.time_zone, s.send_hour, s.frequency, s.weekday, s.send_minute)


def due(
    subscribers: Iterable[Subscriber], sent: Mapping[int, frozenset[str]], now: datetime
) -> dict[int, str]:
    """Each subscriber due now, with the period their digest belongs to."""
    return {
        s.id: period
        for s in subscribers
        if (period := schedule.due_period(timing(s), now, sent.get(s.id, frozenset())))
    }


def preview_period(subscriber: Subscriber, now: datetime) -> str:
    """The period a digest composed now would carry, due or not (today when none is)."""
    return schedule.period_of(timing(subscriber), now) or now.astimezone(UTC).date().isoformat()


def window_start(subscriber: Subscriber, previous_end: datetime | None, now: datetime) -> datetime:
    """Where a digest's window starts: where the previous one ended (so a pause, a weekend or
    an outage loses nothing), or the frequency's own span back for a first digest."""
    return previous_end or now - schedule.default_window(timing(subscriber))


def plan(
    subscriber: Subscriber,
    period: str,
    matches: Sequence[Match],
    *,
    previous_end: datetime | None,
    now: datetime,
    refused: Sequence[str] = (),
    stale: str | None = None,
) -> DigestPlan | Withheld:
    """The digest of ``subscriber`` for ``period``, from every match of their profiles.

    ``refused`` says why a profile of theirs cannot be matched: no digest rather than one that
    leaves a profile out (it would move their window past papers it should show). ``stale``
    says why fetching cannot be trusted: never "nothing new" when we could not look.
    """
    if stale:
        return Withheld(subscriber.id, subscriber.email, (stale,), stale=True)
    if refused:
        reasons = tuple(f"{problem}; {FIX_PROFILE}" for problem in refused)
        return Withheld(subscriber.id, subscriber.email, reasons, stale=False)
    start = window_start(subscriber, previous_end, now)
    selection = digests.select(
        [m for m in matches if digests.in_window(m, start, now)], subscriber.max_papers
    )
    return DigestPlan(
        subscriber_id=subscriber.id,
        recipient=subscriber.email,
        period=period,
        kind=digests.kind(selection, subscriber.send_empty),
        selection=selection,
        window_start=start,
        window_end=now,
        deadline=schedule.retry_deadline(timing(subscriber), now),
    )


def fit(
    selection: digests.Selection,
    render: Callable[[digests.Selection], R],
    size: Callable[[R], int],
    limit: int,
) -> tuple[digests.Selection, R]:
    """Render; while over ``limit`` bytes, show two thirds of the papers (still shared between
    the profiles) and link to the rest; one paper is always shown."""
    while True:
        rendered = render(selection)
        if size(rendered) <= limit or selection.shown <= 1:
            return selection, rendered
        selection = digests.trimmed(selection, max(1, selection.shown * 2 // 3))
