"""A simulated month through the real dispatcher, a pinned clock stepping every hour:
subscribers in Tokyo, London, New York and Los Angeles, daily, weekdays and weekly, across the
US and EU daylight-saving changes. Every digest at the right local hour, none twice, none missed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailer.transports import NullTransport
from paperboy.subscribers import WEEKDAYS
from scraper.models import FetchOutcome, Verdict, View
from store.types import FetchRecord, IngestBatch
from tests.world import world

PEOPLE = [  # (address, zone, hour, frequency, weekday)
    ("tokyo@example.org", "Asia/Tokyo", 9, "daily", 0),
    ("london@example.org", "Europe/London", 8, "daily", 0),
    ("london-wk@example.org", "Europe/London", 7, "weekdays", 0),
    ("ny@example.org", "America/New_York", 2, "daily", 0),  # 02:00 does not exist on 8 March
    ("ny-week@example.org", "America/New_York", 18, "weekly", 4),  # Fridays
    ("la@example.org", "America/Los_Angeles", 6, "weekdays", 0),
]


def expected(
    zone: str, hour: int, frequency: str, weekday: int, start: datetime, end: datetime
) -> list[str]:
    """The send times by the calendar, worked out without Paperboy: each local day that
    qualifies, at the local hour (or, when the clocks jump over it, the first time after), in
    UTC; a send time already past when the simulation starts happens at the start, once."""
    found = []
    day = start.astimezone(ZoneInfo(zone)).date()
    while day <= end.date():
        ok = (
            frequency == "daily"
            or (frequency == "weekdays" and day.weekday() < 5)
            or (frequency == "weekly" and day.weekday() == weekday)
        )
        if ok:
            local = datetime.combine(day, time(hour), ZoneInfo(zone))
            utc = local.astimezone(UTC)
            # A local hour that the spring change skips (02:00 on 8 March in New York) maps, with
            # the offset from before the change, to the first local time after it (03:00 EDT).
            if utc < start and day == start.astimezone(ZoneInfo(zone)).date():
                utc = start  # missed before we started: sent once, at once
            if start <= utc < end:
                found.append(utc.strftime("%m-%d %H:%M"))
        day += timedelta(days=1)
    return found


@pytest.mark.parametrize(
    ("first", "last"),
    [(date(2026, 3, 2), date(2026, 4, 1)), (date(2026, 10, 16), date(2026, 11, 15))],
    ids=["spring", "autumn"],
)
def test_a_month_of_digests(sqlite_url: str, first: date, last: date) -> None:
    start = datetime.combine(first, time(0), UTC)
    end = datetime.combine(last, time(0), UTC)
    with world(sqlite_url, papers=()) as w:
        for address, zone, hour, frequency, weekday in PEOPLE:
            w.subscribe(
                address,
                zone=zone,
                hour=hour,
                every=frequency,
                day=WEEKDAYS[weekday],
                send_empty=True,
                profiles={"p": "diffusion"},
            )
        now = start
        while now < end:  # every hour: a fetch (keeps the sources fresh), then a dispatch
            w.papers.ingest(IngestBatch(fetch=_fetch(now)))
            dispatcher = w.dispatcher(now)
            dispatcher.compose()
            dispatcher.deliver(NullTransport, workers=1)
            now += timedelta(hours=1)
        sent: dict[str, list[str]] = {}
        for d in sorted(w.ledger.deliveries(limit=10_000, state="sent"), key=lambda d: d.id):
            assert d.sent_at is not None
            sent.setdefault(d.recipient, []).append(d.sent_at.strftime("%m-%d %H:%M"))
    # Papers are first seen before the subscribers' windows start, so each digest is a
    # "nothing today" note: the schedule is what is under test.
    for address, zone, hour, frequency, weekday in PEOPLE:
        assert sent.get(address, []) == expected(zone, hour, frequency, weekday, start, end), (
            address
        )
    assert sum(len(v) for v in sent.values()) > 100


def _fetch(now: datetime) -> FetchRecord:
    outcome = FetchOutcome(View.DAY, now.date().isoformat(), "replay", Verdict.EMPTY, now, now)
    return FetchRecord(
        source=outcome.view.value,
        period=outcome.period,
        url=outcome.url,
        verdict=outcome.verdict.value,
        started_at=now,
        finished_at=now,
    )
