"""The feedback store on SQLite and PostgreSQL: latest signal wins, undo, many profiles at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from paperboy import subscribers as rules
from paperboy.errors import InputError
from paperboy.feedback import spec, specs
from paperboy.profiles.matcher import ProfileSpec
from store.feedback import Feedback, FeedbackStore, Signal, Signals
from store.types import NewSubscriber, PaperFilter
from tests.world import NOW, World, world


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as made:
        yield made


def _profiles(w: World, email: str, *names: str) -> list[int]:
    new = NewSubscriber(
        email, "active", rules.settings(), tuple(rules.profile(n, "diffusion") for n in names)
    )
    subscriber = w.people.add(new, NOW)
    by_name = {p.name: p.id for p in w.people.profiles(subscriber.id)}
    return [by_name[n] for n in names]


def _some_paper(w: World) -> tuple[str, str]:
    paper = w.papers.list_papers(PaperFilter())[0]
    return paper.arxiv_id, paper.title


def test_the_latest_signal_wins_and_undo_forgets_it(w: World) -> None:
    feedback = FeedbackStore(w.engine)
    (pid,) = _profiles(w, "a@example.org", "vision")
    arxiv_id, title = _some_paper(w)
    assert feedback.signal(pid, arxiv_id) is None
    feedback.record(pid, arxiv_id, Signal.LIKE, NOW)
    assert feedback.signal(pid, arxiv_id) == Signal.LIKE
    later = NOW + timedelta(minutes=5)
    feedback.record(pid, arxiv_id, Signal.REJECT, later)  # changed their mind: one row still
    assert feedback.entries(pid) == [Feedback(pid, arxiv_id, Signal.REJECT, later, title)]
    assert feedback.for_profiles([pid]) == {pid: Signals((), (arxiv_id,))}
    assert feedback.undo(pid, arxiv_id) is True
    assert feedback.undo(pid, arxiv_id) is False  # twice is harmless
    assert feedback.entries(pid) == []
    assert feedback.for_profiles([pid]) == {}


def test_entries_are_newest_first_and_name_papers_not_stored(w: World) -> None:
    feedback = FeedbackStore(w.engine)
    (pid,) = _profiles(w, "a@example.org", "vision")
    arxiv_id, title = _some_paper(w)
    feedback.record(pid, arxiv_id, Signal.LIKE, NOW)
    feedback.record(pid, "2401.00001", Signal.LIKE, NOW + timedelta(seconds=1))  # not stored
    assert [(e.arxiv_id, e.title) for e in feedback.entries(pid)] == [
        ("2401.00001", None),
        (arxiv_id, title),
    ]


def test_for_profiles_reads_thousands_of_profiles_at_once(w: World) -> None:
    feedback = FeedbackStore(w.engine)
    a, b, c = _profiles(w, "a@example.org", "one", "two", "three")
    papers = [p.arxiv_id for p in w.papers.list_papers(PaperFilter())[:3]]
    for i, arxiv_id in enumerate(papers):
        feedback.record(a, arxiv_id, Signal.LIKE, NOW + timedelta(seconds=i))
    feedback.record(b, papers[0], Signal.REJECT, NOW)
    feedback.record(b, papers[1], Signal.LIKE, NOW)
    asked = [a, b, c, *range(10_000, 22_000)]  # past one chunk; unknown ids are just absent
    assert feedback.for_profiles(asked) == {
        a: Signals(tuple(papers), ()),  # oldest first
        b: Signals((papers[1],), (papers[0],)),
    }
    assert feedback.for_profiles([]) == {}
    assert feedback.for_profiles([b]) == {b: Signals((papers[1],), (papers[0],))}


def test_a_removed_profile_takes_its_feedback_with_it(w: World) -> None:
    feedback = FeedbackStore(w.engine)
    keep, gone = _profiles(w, "a@example.org", "keep", "gone")
    arxiv_id, _ = _some_paper(w)
    feedback.record(keep, arxiv_id, Signal.LIKE, NOW)
    feedback.record(gone, arxiv_id, Signal.LIKE, NOW)
    w.people.remove_profile("a@example.org", "gone")
    assert feedback.for_profiles([keep, gone]) == {keep: Signals((arxiv_id,), ())}
    with pytest.raises(InputError, match="no longer exists"):
        feedback.record(gone, arxiv_id, Signal.REJECT, NOW)
    w.people.forget("a@example.org")
    assert feedback.for_profiles([keep]) == {}


def test_a_profile_and_its_feedback_as_the_matchers_spec(w: World) -> None:
    feedback = FeedbackStore(w.engine)
    a, b = _profiles(w, "a@example.org", "one", "two")
    papers = [p.arxiv_id for p in w.papers.list_papers(PaperFilter())[:2]]
    feedback.record(a, papers[0], Signal.LIKE, NOW)
    feedback.record(a, papers[1], Signal.REJECT, NOW)
    subscriber = w.people.require("a@example.org")
    profiles = w.people.profiles(subscriber.id)
    assert specs(profiles, feedback) == [
        ProfileSpec(
            a, subscriber.id, "one", "diffusion", liked=(papers[0],), rejected=(papers[1],)
        ),
        ProfileSpec(b, subscriber.id, "two", "diffusion"),
    ]
    assert spec(profiles[1]) == ProfileSpec(b, subscriber.id, "two", "diffusion")
