"""A batch analysed and indexed once, matched many times (issue 17: the pages' previews on the
shelf kept in memory): ``Matcher.match_prepared`` on any range of a ``PreparedBatch`` gives what
``Matcher.match`` gives for those papers alone (the same matches, order, hits, scores and
reasons), asks meaning about those papers only, and ``MatchSet.ranked`` is ``ranked`` cut short.
And the vectors kept in memory do not hash again the texts of paper objects seen lately.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.profiles.document import PaperLike
from paperboy.profiles.matcher import Match, Matcher, PreparedBatch, ProfileSpec, ranked
from paperboy.semantic import runtime
from paperboy.semantic.closeness import Closeness, Want
from paperboy.semantic.embedder import Vectors
from paperboy.semantic.runtime import KeptVectors
from paperboy.semantic.vectors import hash_of
from tests.test_matcher import PAPERS, SPECS
from tests.test_semantic_query import FakeMeaning

BATCH = PreparedBatch.of(PAPERS)
Drawn = tuple[str, int, tuple[str, ...], tuple[str, ...], str | None]


class CountingMeaning(FakeMeaning):
    """The fake meaning, noting how many papers each question was about."""

    def __init__(self) -> None:
        super().__init__()
        self.papers: list[int] = []

    def close(self, wants: Sequence[Want], papers: Sequence[PaperLike]) -> list[Closeness]:
        self.papers.append(len(papers))
        return super().close(wants, papers)


def seen(matches: Sequence[Match]) -> list[tuple[object, ...]]:
    return [(m.profile_id, m.paper.arxiv_id, m.hits, m.score, m.reasons) for m in matches]


def specs_of(drawn: list[Drawn]) -> list[ProfileSpec]:
    return [
        ProfileSpec(i, i % 7, f"p{i}", q, step, liked, rejected, model)
        for i, (q, step, liked, rejected, model) in enumerate(drawn)
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(SPECS, min_size=1, max_size=12),
    st.booleans(),
    st.integers(0, len(PAPERS)),
    st.integers(0, len(PAPERS)),
    st.integers(1, 40),
)
def test_a_range_of_a_prepared_batch_matches_as_those_papers_alone(
    drawn: list[Drawn], with_meaning: bool, a: int, b: int, shown: int
) -> None:
    start, stop = min(a, b), max(a, b)
    specs = specs_of(drawn)
    alone = ranked(
        Matcher(specs, FakeMeaning() if with_meaning else None).match(PAPERS[start:stop])
    )
    meaning = CountingMeaning() if with_meaning else None
    found = Matcher(specs, meaning).match_prepared(BATCH, range(start, stop))
    assert seen(ranked(found)) == seen(alone)
    assert len(found) == len(alone)
    assert seen(found.ranked(shown)) == seen(alone[:shown])
    assert seen(found.ranked()) == seen(alone)
    assert all(n == stop - start for n in meaning.papers) if meaning else True


def test_the_whole_batch_and_reuse() -> None:
    specs = [ProfileSpec(1, 1, "a", "diffusion OR agent*"), ProfileSpec(2, 2, "b", "-the")]
    expected = seen(ranked(Matcher(specs).match(PAPERS)))
    for _ in range(2):  # the prepared index answers alike however often it is asked
        assert seen(ranked(Matcher(specs).match_prepared(BATCH))) == expected
    assert len(Matcher(specs).match_prepared(BATCH, range(5, 5))) == 0
    assert len(Matcher([]).match_prepared(BATCH)) == 0


def test_meaning_is_asked_about_the_range_only() -> None:
    meaning = CountingMeaning()
    spec = ProfileSpec(1, 1, "t", 'about:"video generation" OR llama', liked=(PAPERS[3].arxiv_id,))
    found = Matcher([spec], meaning).match_prepared(BATCH, range(10, 30))
    assert meaning.papers == [20]
    assert {m.paper.arxiv_id for m in found} <= {p.arxiv_id for p in PAPERS[10:30]}


class Source:
    """PaperVectors that count the papers they are asked about."""

    def __init__(self) -> None:
        self.asked = 0

    def vectors(self, papers: Sequence[PaperLike]) -> Vectors:
        self.asked += len(papers)
        return np.ones((len(papers), 4), dtype=np.float32)


def test_kept_vectors_hash_a_paper_object_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []

    def counting(paper: PaperLike) -> str:
        hashed.append(paper.arxiv_id)
        return hash_of(paper)

    monkeypatch.setattr(runtime, "hash_of", counting)
    source = Source()
    kept = KeptVectors(source, 4, known=30)
    papers = PAPERS[:20]
    kept.vectors(papers)
    again = kept.vectors(papers)
    assert (len(hashed), source.asked) == (20, 20)  # the second time: no hash, no read
    again[:] = 0  # each answer is the caller's own array
    assert kept.vectors(papers).all()
    changed = dataclasses.replace(papers[0], summary="another abstract entirely")
    kept.vectors([changed, *papers[1:]])
    assert (len(hashed), source.asked) == (21, 21)  # a changed paper: hashed and read again
    copy = dataclasses.replace(papers[1])  # an equal paper, another object: hashed, not read
    kept.vectors([copy])
    assert (len(hashed), source.asked) == (22, 21)
    kept.vectors(PAPERS[20:60])  # more objects than it remembers: the oldest are forgotten
    kept.vectors(papers[2:3])
    assert len(hashed) == 63
