"""Whether fetching is fresh enough to compose digests (pure functions of fetch rows and now).

Freshness is judged on the lists that feed today's digests, never on a backfill of the past:
a failed `paperboy fetch --date 2025-10-03` must not stop today's mail, and a successful one
is no sign that today's list was looked at. A fetch *counts* when its list was current at the
moment it ran: the daily list of that day or of the three days before (the latest list is
Friday's until Monday's is out), that ISO week's and that month's lists, trending, keyword
searches and the third-party feed when one is set (every list `run-once`/`serve` fetch). A
daily, weekly or monthly list of an older period is a backfill and is ignored.

Digests are composed only when (1) a counting fetch succeeded in the last 36 hours and (2) the
newest counting fetch of the daily list is not broken, a broken fetch of a day older than one
already fetched well being a backfill too (a failed `fetch --date` of yesterday after today's
list came in fine).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from scraper.models import GOOD_VERDICTS, Verdict, View
from store.types import Fetch

FRESH_FOR = timedelta(hours=36)  # a digest needs a good fetch of a current list this recent
LATEST_LAG = timedelta(days=3)  # how far the latest daily list may trail the day it is fetched

Wanted = tuple[View, str | None]  # (source, period): None means any period


def is_latest(fetch: Fetch) -> bool:
    """A fetch of "the latest daily list" (no date asked for): filed under the day the site
    answered with, which may be any day (a site that stopped listing new days), or under the
    day it ran when it broke before an answer came."""
    return (
        fetch.source == View.DAY and "date=" not in fetch.url and "/papers/date/" not in fetch.url
    )


def counts(fetch: Fetch) -> bool:
    """Whether this fetch looked at a list that feeds the digests of its day (not a backfill)."""
    at = fetch.finished_at.astimezone(UTC)
    if fetch.source == View.DAY:
        return is_latest(fetch) or fetch.period >= (at - LATEST_LAG).date().isoformat()
    if fetch.source == View.WEEK:
        return fetch.period == _week(at.date())
    if fetch.source == View.MONTH:
        return fetch.period == f"{at:%Y-%m}"
    return fetch.source in (View.TRENDING, View.SEARCH, View.FEED)


def wanted(now: datetime) -> list[Wanted]:
    """The lists whose newest fetches decide freshness at ``now`` (what to read from the store)."""
    oldest = (now - FRESH_FOR).astimezone(UTC).date()
    newest = now.astimezone(UTC).date()
    days = [oldest - LATEST_LAG + timedelta(days=n) for n in range((newest - oldest).days + 4)]
    ends = (oldest, newest)
    return [
        *((View.DAY, d.isoformat()) for d in days),
        *dict.fromkeys((View.WEEK, _week(d)) for d in ends),
        *dict.fromkeys((View.MONTH, f"{d:%Y-%m}") for d in ends),
        (View.TRENDING, None),
        (View.SEARCH, None),
        (View.FEED, None),
    ]


def stale(fetches: Sequence[Fetch], now: datetime) -> str | None:
    """Why digests must not be composed now, or None when fetching is fresh."""
    current = [f for f in fetches if counts(f)]
    good = [f.finished_at for f in current if f.verdict in GOOD_VERDICTS]
    if not good or now - max(good) > FRESH_FOR:
        return (
            f"no successful fetch in the last {FRESH_FOR // timedelta(hours=1)} hours of the lists "
            "that feed today's digests "
            "(see `paperboy fetches`)"
        )
    days = [f for f in current if f.source == View.DAY]
    newest_good = max((f.period for f in days if f.verdict in GOOD_VERDICTS), default="")
    # A broken fetch of a day older than one fetched well is a backfill of the past; a fetch of
    # the latest list is never one, whatever day it is filed under.
    latest = max(
        (f for f in days if f.verdict in GOOD_VERDICTS or is_latest(f) or f.period >= newest_good),
        key=lambda f: f.id,
        default=None,
    )
    if latest is not None and latest.verdict == Verdict.BROKEN:
        return f"the last fetch of the daily list is broken: {latest.error}"
    return None


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
