"""Who is due when: local hours across time zones and both DST changes (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paperboy.schedule import Timing, due_period, period_of


def hourly(start: str, hours: int) -> list[datetime]:
    first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return [first + timedelta(minutes=30 * i) for i in range(hours * 2)]


def sends(timing: Timing, start: str, hours: int) -> list[tuple[str, str]]:
    """Run the due check every half hour; record (UTC time, period) of each send."""
    sent: set[str] = set()
    found = []
    for now in hourly(start, hours):
        period = due_period(timing, now, frozenset(sent))
        if period:
            sent.add(period)
            found.append((now.strftime("%m-%d %H:%M"), period))
    return found


def test_daily_in_london_at_8() -> None:
    assert sends(Timing("Europe/London", 8, "daily"), "2026-07-01T00:00", 48) == [
        ("07-01 07:00", "2026-07-01"),  # 08:00 BST
        ("07-02 07:00", "2026-07-02"),
    ]


def test_spring_forward_0230_still_sends_once() -> None:
    # 2026-03-08 in New York: 02:00 EST jumps to 03:00 EDT; 02:30 local never happens.
    found = sends(Timing("America/New_York", 2, "daily"), "2026-03-08T05:30", 6)
    assert found == [("03-08 07:00", "2026-03-08")]  # 03:00 EDT, the first local hour >= 2


def test_autumn_repeated_hour_sends_once() -> None:
    # 2026-10-25 in London: 01:00-02:00 happens twice.
    found = sends(Timing("Europe/London", 1, "daily"), "2026-10-24T23:30", 6)
    assert found == [("10-25 00:00", "2026-10-25")]  # the first 01:00 (BST)


def test_weekdays_skip_the_weekend_in_tokyo() -> None:
    found = sends(Timing("Asia/Tokyo", 9, "weekdays"), "2026-07-03T00:00", 96)  # Fri .. Mon
    assert [p for _, p in found] == ["2026-07-03", "2026-07-06"]


def test_weekly_on_friday_in_los_angeles() -> None:
    found = sends(
        Timing("America/Los_Angeles", 7, "weekly", weekday=4), "2026-06-29T00:00", 24 * 14
    )
    assert found == [("07-03 14:00", "2026-W27"), ("07-10 14:00", "2026-W28")]


def test_a_missed_window_sends_once_later_that_day() -> None:
    timing = Timing("Europe/London", 8, "daily")
    late = datetime(2026, 7, 2, 20, 0, tzinfo=UTC)  # the server was down all morning
    assert due_period(timing, late, frozenset()) == "2026-07-02"
    assert due_period(timing, late, frozenset({"2026-07-02"})) is None


def test_period_is_the_local_date() -> None:
    just_after_midnight_tokyo = datetime(2026, 7, 1, 15, 30, tzinfo=UTC)  # 00:30 on 2 July
    assert period_of(Timing("Asia/Tokyo", 0, "daily"), just_after_midnight_tokyo) == "2026-07-02"


def test_a_0230_send_time_on_the_spring_forward_day_sends_once() -> None:
    # 2026-03-08 in New York: 02:30 never happens; due from 03:00 EDT, once.
    found = sends(Timing("America/New_York", 2, "daily", send_minute=30), "2026-03-08T05:30", 6)
    assert found == [("03-08 07:00", "2026-03-08")]


def test_a_0130_send_time_in_the_repeated_autumn_hour_sends_once() -> None:
    # 2026-11-01 in New York: 01:00-02:00 happens twice (EDT, then EST).
    found = sends(Timing("America/New_York", 1, "daily", send_minute=30), "2026-11-01T04:00", 6)
    assert found == [("11-01 05:30", "2026-11-01")]  # 01:30 EDT; the 01:30 EST is skipped


def test_minutes_count() -> None:
    found = sends(Timing("Europe/London", 8, "daily", send_minute=30), "2026-07-01T06:00", 4)
    assert found == [("07-01 07:30", "2026-07-01")]  # 08:30 BST, not 08:00
