"""The pure planner: plain values in, a digest plan out; no database, no SMTP, no clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest

from paperboy import planner
from paperboy.digest import Selection, select
from paperboy.planner import DigestPlan, Withheld
from paperboy.profiles.matcher import Match, Matcher, ProfileSpec
from scraper.models import ScrapedPaper
from store.types import Subscriber

# Thursday 2 July 2026, 09:30 UTC (10:30 in London).
NOW = datetime.fromisoformat("2026-07-02T09:30:00+00:00")
READER = Subscriber(
    id=7,
    email="reader@example.org",
    status="active",
    time_zone="Europe/London",
    send_hour=8,
    frequency="daily",
    weekday=0,
    max_papers=10,
    send_empty=False,
    created_at=NOW - timedelta(days=90),
    updated_at=NOW - timedelta(days=90),
    confirmed_at=NOW - timedelta(days=90),
    unsubscribed_at=None,
)


@dataclass(frozen=True, slots=True)
class Seen(ScrapedPaper):
    first_seen_at: datetime | None = None


def paper(n: int, words: str, *, seen: datetime = NOW - timedelta(hours=1)) -> Seen:
    return Seen(arxiv_id=f"2607.{n:05d}", title=f"{words} {n}", upvotes=100 - n, first_seen_at=seen)


def matches(papers: list[Seen], profiles: dict[str, str], sid: int = READER.id) -> list[Match]:
    specs = [ProfileSpec(i, sid, name, q) for i, (name, q) in enumerate(profiles.items(), 1)]
    return Matcher(specs).match(papers).for_subscriber(sid)


def planned(subscriber: Subscriber, found: list[Match], **kw: object) -> DigestPlan:
    decided = planner.plan(
        subscriber,
        "2026-07-02",
        found,
        previous_end=kw.pop("previous_end", None),  # type: ignore[arg-type]
        now=kw.pop("now", NOW),  # type: ignore[arg-type]
    )
    assert isinstance(decided, DigestPlan), decided
    return decided


# -- kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("found", "send_empty", "kind"),
    [
        (1, False, "papers"),
        (1, True, "papers"),
        (0, True, "nothing"),  # a note for those who asked for one
        (0, False, "skipped"),  # recorded, never mailed
    ],
)
def test_kind(found: int, send_empty: bool, kind: str) -> None:
    papers = [paper(n, "diffusion") for n in range(found)]
    plan = planned(replace(READER, send_empty=send_empty), matches(papers, {"v": "diffusion"}))
    assert plan.kind == kind
    assert plan.mailed is (kind != "skipped")


# -- shares and trimming ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broad", "narrow", "cap", "shown"),
    [
        (20, 2, 10, {"broad": 8, "narrow": 2}),  # the narrow profile is never crowded out
        (20, 20, 10, {"broad": 5, "narrow": 5}),
        (20, 20, 5, {"broad": 3, "narrow": 2}),  # the first group one more when it does not divide
        (3, 1, 10, {"broad": 3, "narrow": 1}),  # under the cap: everything
        (0, 4, 3, {"narrow": 3}),
    ],
)
def test_the_cap_is_shared_between_profiles(
    broad: int, narrow: int, cap: int, shown: dict[str, int]
) -> None:
    papers = [paper(n, "diffusion") for n in range(broad)]
    papers += [paper(100 + n, "robotics") for n in range(narrow)]
    plan = planned(
        replace(READER, max_papers=cap),
        matches(papers, {"broad": "diffusion", "narrow": "robotics"}),
    )
    assert {name: len(found) for name, found in plan.selection.sections} == shown
    assert len(plan.shown) == sum(shown.values())
    assert len(plan.shown) + len(plan.hidden) == broad + narrow
    assert not set(plan.shown) & set(plan.hidden)


def test_a_paper_two_profiles_match_is_shown_once_in_its_best() -> None:
    both = paper(1, "diffusion robotics")
    plan = planned(READER, matches([both], {"a": "diffusion", "b": "diffusion AND robotics"}))
    assert plan.shown == (both.arxiv_id,)
    assert plan.hidden == ()


@pytest.mark.parametrize(
    ("size_per_paper", "limit", "shown"),
    [
        (100, 10_000, 12),  # fits: untouched
        (100, 1_000, 8),  # 12 -> 8 (two thirds), 800 bytes fit
        (100, 500, 5),  # 12 -> 8 -> 5
        (100, 50, 1),  # never fits: one paper is always shown
    ],
)
def test_trimming_to_the_size_limit(size_per_paper: int, limit: int, shown: int) -> None:
    papers = [paper(n, "diffusion") for n in range(8)] + [
        paper(50 + n, "robotics") for n in range(4)
    ]
    selection = select(matches(papers, {"a": "diffusion", "b": "robotics"}), 20)
    rendered: list[int] = []

    def render(s: Selection) -> int:
        rendered.append(s.shown)
        return s.shown * size_per_paper

    fitted, size = planner.fit(selection, render, lambda n: n, limit)
    assert fitted.shown == shown
    assert size == shown * size_per_paper  # what was rendered last is what is returned
    assert fitted.paper_ids == selection.paper_ids  # the rest are linked, never dropped
    assert {name for name, _ in fitted.sections} == {"a", "b"} or shown < 2  # still shared
    assert rendered[-1] == shown


# -- the window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "previous_end", "start"),
    [
        ("daily", None, NOW - timedelta(days=1)),  # a first digest: the frequency's span
        ("weekdays", None, NOW - timedelta(days=3)),  # a Monday's first covers the weekend
        ("weekly", None, NOW - timedelta(days=7)),
        ("daily", NOW - timedelta(days=12), NOW - timedelta(days=12)),  # after a pause: all since
        ("weekly", NOW - timedelta(days=7), NOW - timedelta(days=7)),
        ("weekdays", NOW - timedelta(days=3, hours=2), NOW - timedelta(days=3, hours=2)),
    ],
)
def test_the_window_starts_where_the_previous_digest_ended(
    frequency: str, previous_end: datetime | None, start: datetime
) -> None:
    subscriber = replace(READER, frequency=frequency)
    plan = planned(subscriber, [], previous_end=previous_end)
    assert (plan.window_start, plan.window_end) == (start, NOW)


def test_papers_outside_the_window_are_left_out() -> None:
    start = NOW - timedelta(days=2)
    papers = [
        paper(1, "diffusion", seen=start - timedelta(seconds=1)),  # the previous digest's
        paper(2, "diffusion", seen=start),  # the window is (start, now]
        paper(3, "diffusion", seen=start + timedelta(seconds=1)),
        paper(4, "diffusion", seen=NOW),
        paper(5, "diffusion", seen=NOW + timedelta(seconds=1)),  # the next one's
    ]
    plan = planned(READER, matches(papers, {"v": "diffusion"}), previous_end=start)
    assert set(plan.selection.paper_ids) == {"2607.00003", "2607.00004"}


# -- the deadline and who is due -------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "deadline"),
    [
        ("daily", NOW + timedelta(days=1)),
        ("weekdays", NOW + timedelta(days=1)),
        ("weekly", NOW + timedelta(days=7)),
    ],
)
def test_a_digest_is_retried_until_the_next_one_is_due(frequency: str, deadline: datetime) -> None:
    assert planned(replace(READER, frequency=frequency), []).deadline == deadline


@pytest.mark.parametrize(
    ("changes", "sent", "period"),
    [
        ({}, frozenset(), "2026-07-02"),
        ({}, frozenset({"2026-07-02"}), None),  # sent already: never twice
        ({"send_hour": 11}, frozenset(), None),  # 10:30 in London: not yet
        ({"time_zone": "Asia/Tokyo", "send_hour": 18}, frozenset(), "2026-07-02"),
        ({"frequency": "weekly", "weekday": 3}, frozenset(), "2026-W27"),
        ({"frequency": "weekly", "weekday": 0}, frozenset(), None),  # Mondays only
    ],
)
def test_who_is_due(changes: dict[str, object], sent: frozenset[str], period: str | None) -> None:
    subscriber = replace(READER, **changes)  # type: ignore[arg-type]
    assert planner.due([subscriber], {READER.id: sent}, NOW).get(READER.id) == period


# -- withheld --------------------------------------------------------------------------------


def test_stale_fetching_withholds_every_digest_whatever_matched() -> None:
    found = matches([paper(1, "diffusion")], {"v": "diffusion"})
    decided = planner.plan(READER, "2026-07-02", found, previous_end=None, now=NOW, stale="down")
    assert decided == Withheld(READER.id, READER.email, ("down",), stale=True)


def test_a_refused_profile_withholds_that_subscribers_digest_and_says_what_to_do() -> None:
    decided = planner.plan(
        READER, "2026-07-02", [], previous_end=None, now=NOW, refused=["query too long"]
    )
    assert isinstance(decided, Withheld)
    assert not decided.stale
    assert decided.reasons[0].startswith("query too long; fix or remove that profile")
