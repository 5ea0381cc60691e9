"""~hints beside about:/like: (paperboy.profiles.ast.Hint): which atoms take which hints, and
what they do to the real VectorMeaning on the captured papers (lexical embedder: fast and
deterministic).

A hint is never required: a want with hints needs ``k_hinted`` instead of ``k``, and a paper
gains ``hint_bonus`` x the (IDF-weighted) share of the hints it contains. Every expectation
below is worked out from the scores the meaning itself returns for the same topic without
hints, never from ids read off a run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from paperboy.profiles.ast import About, Field, Like, Semantic, Term, hinted_semantic, to_query
from paperboy.profiles.document import PaperLike
from paperboy.profiles.matcher import MEANING_WEIGHT, Matcher, ProfileSpec, ranked
from paperboy.profiles.parser import parse
from paperboy.profiles.reference import has_term, matches
from paperboy.semantic import bm25, score
from paperboy.semantic.background import texts_and_vectors
from paperboy.semantic.closeness import Closeness, Want
from paperboy.semantic.meaning import VectorMeaning
from tests.papers import lexical_meaning, saved_papers
from tests.test_semantic_query import FakeMeaning

PAPERS = saved_papers()
S = score.DEFAULT
TOPIC = About("image generation with diffusion models")
TOPIC_TEXT = 'about:"image generation with diffusion models"'
VIDEO = Term("video")  # said by some papers close to the topic, not by others
CONSISTENCY = Term("consistency")


def bits(mask: int) -> set[int]:
    return {i for i in range(mask.bit_length()) if mask >> i & 1}


def having(term: Term) -> set[int]:
    """The papers (by position) that contain ``term``, as the reference reads it."""
    return {i for i, p in enumerate(PAPERS) if has_term(term, p)}


@pytest.fixture(scope="module")
def meaning() -> VectorMeaning:
    return lexical_meaning(PAPERS)


# Which hints each atom takes (paperboy.profiles.ast.hinted_semantic).

X, Y = About("topic x"), About("topic y")
LIKED = Like(("2407.21783",))
A, B, C = Term("a"), Term("b"), Term("c")

HINTED = [
    ('about:"topic x" ~a ~b', [(X, (A, B))]),
    ('~b about:"topic x" ~a', [(X, (B, A))]),  # in the order written
    ('about:"topic x" ~a ~a', [(X, (A,))]),  # each once
    ('about:"topic x" ~a OR about:"topic y"', [(X, (A,)), (Y, ())]),  # the OR ends the group
    ('(about:"topic x" OR like:2407.21783) ~a ~b', [(X, (A, B)), (LIKED, (A, B))]),
    (
        'about:"topic x" (like:2407.21783 OR about:"topic y" ~a) ~b',  # outer hints first
        [(X, (B,)), (LIKED, (B,)), (Y, (B, A))],
    ),
    (
        'about:"topic x" ~a (about:"topic y" OR (like:2407.21783 ~c OR b) ~b)',
        [(X, (A,)), (Y, (A,)), (LIKED, (A, B, C))],  # a, then b, then c,
    ),
    ('about:"topic x" ~a -(about:"topic y" ~b)', [(X, (A,))]),  # only the positive atoms
    ('about:"topic x" ~title:a ~"a b"', [(X, (Term("a", Field.TITLE), Term("a b", phrase=True)))]),
]


@pytest.mark.parametrize(("query", "hinted"), HINTED, ids=[h[0] for h in HINTED])
def test_each_atom_takes_the_hints_of_its_groups(
    query: str, hinted: list[tuple[Semantic, tuple[Term, ...]]]
) -> None:
    assert hinted_semantic(parse(query)) == hinted


def test_a_parenthesised_group_keeps_its_hints_to_itself() -> None:
    node = parse('about:"topic x" (about:"topic y" ~a) ~b')
    assert hinted_semantic(node) == [(X, (B,)), (Y, (B, A))]
    assert parse(to_query(node)) == node  # and its printed form keeps the group


def test_the_reference_asks_every_atom_with_its_hints_and_the_matcher_the_same() -> None:
    """An atom under a NOT takes only the hints of its own group: the group's hints are for
    what it wants, not for what it excludes."""
    query = 'about:"topic x" ~a -(about:"topic y" ~b) (like:2407.21783 OR diffusion)'
    seen: set[Want] = set()

    def close(want: Want, paper: PaperLike) -> bool:
        seen.add(want)
        return FakeMeaning.is_close(want, paper)

    for paper in PAPERS:
        matches(parse(query), paper, close)
    assert {(w.atom, w.hints) for w in seen} == {(X, (A,)), (Y, (B,)), (LIKED, (A,))}
    fake = FakeMeaning()
    Matcher([ProfileSpec(1, 1, "p", query)], fake).match(PAPERS)
    assert set(fake.wants) == seen


# The real meaning: what a hint does to the cut-off and the scores.


def broad_step() -> int:
    """A closeness step whose cut-off is at most what a paper with every hint needs: the
    papers close at it are those past the cosine floor among those scoring that much."""
    return next(s for s in range(0, -10, -1) if score.cutoff(s) <= S.k_hinted - S.hint_bonus)


def asked(meaning: VectorMeaning, *hints: Term) -> tuple[Closeness, Closeness, Closeness]:
    """The topic without hints, the same broader (for the cosine floor), and with ``hints``;
    the step moves the cut-off only, never a score."""
    plain, broad, hinted = meaning.close(
        [Want(TOPIC), Want(TOPIC, step=broad_step()), Want(TOPIC, hints=hints)], PAPERS
    )
    assert list(broad.scores) == pytest.approx(list(plain.scores))
    return plain, broad, hinted


def close_at(plain: Closeness, broad: Closeness, needed: Callable[[int], float]) -> set[int]:
    """The papers past the floor whose plain score reaches ``needed`` (at least the broad
    cut-off, so the broad want says whether a paper is past the floor)."""
    floor, lowest = bits(broad.mask), score.cutoff(broad_step())
    found = set()
    for i in range(len(PAPERS)):
        assert needed(i) >= lowest - 1e-6
        if plain.scores[i] >= needed(i) and i in floor:
            found.add(i)
    return found


def test_a_hint_never_removes_a_paper_close_enough_without_it(meaning: VectorMeaning) -> None:
    plain, _, hinted = asked(meaning, VIDEO)
    lacking = set(range(len(PAPERS))) - having(VIDEO)
    for i in lacking:
        assert hinted.scores[i] == pytest.approx(plain.scores[i])  # no word, no bonus
    kept = bits(hinted.mask) & lacking
    assert kept == {i for i in bits(plain.mask) & lacking if plain.scores[i] >= S.k_hinted}
    assert kept  # some papers are close enough without the word, and stay
    assert bits(plain.mask) & lacking - kept  # the bar is higher (k_hinted) without it


def test_a_paper_with_every_hint_needs_less_closeness(meaning: VectorMeaning) -> None:
    plain, broad, hinted = asked(meaning, VIDEO, CONSISTENCY)
    both = having(VIDEO) & having(CONSISTENCY)
    for i in both:
        assert hinted.scores[i] == pytest.approx(plain.scores[i] + S.hint_bonus, abs=1e-5)
    lower = S.k_hinted - S.hint_bonus
    assert bits(hinted.mask) & both == close_at(plain, broad, lambda i: lower) & both
    assert bits(hinted.mask) & both - bits(plain.mask)  # some were not close without them


def background_frequency(word: Term) -> int:
    """How many background papers say the word (read as the background's IDF reads it)."""
    (key,) = bm25.terms(word.text)
    return sum(1 for text in texts_and_vectors()[0] if key in bm25.terms(text))


def test_a_paper_with_some_hints_gains_their_share(meaning: VectorMeaning) -> None:
    plain, broad, hinted = asked(meaning, VIDEO, CONSISTENCY)
    gain = [h - p for h, p in zip(hinted.scores, plain.scores, strict=True)]
    only = {
        VIDEO: having(VIDEO) - having(CONSISTENCY),
        CONSISTENCY: having(CONSISTENCY) - having(VIDEO),
    }
    shares = {}
    for term, papers in only.items():
        assert papers
        first = gain[min(papers)]
        assert all(gain[i] == pytest.approx(first, abs=1e-5) for i in papers)  # one share each
        assert 0 < first < S.hint_bonus
        shares[term] = first
    assert shares[VIDEO] + shares[CONSISTENCY] == pytest.approx(S.hint_bonus, abs=1e-5)
    # weighted by IDF over the background: the word fewer background papers say counts more
    rare, common = sorted((VIDEO, CONSISTENCY), key=background_frequency)
    assert background_frequency(rare) < background_frequency(common)
    assert shares[rare] > shares[common] + 0.05
    neither = set(range(len(PAPERS))) - having(VIDEO) - having(CONSISTENCY)
    assert all(gain[i] == pytest.approx(0, abs=1e-6) for i in neither)
    expected = close_at(plain, broad, lambda i: S.k_hinted - gain[i])
    assert bits(hinted.mask) == expected


@pytest.mark.parametrize(
    "hint",
    [
        VIDEO,
        Term("diffus", prefix=True),
        Term("video generation", phrase=True),
        Term("video", Field.TITLE),
        Term("diffusion models", Field.TITLE, phrase=True),
        Term("temporal", Field.ABSTRACT),
    ],
    ids=str,
)
def test_a_hint_is_found_where_the_query_language_finds_the_term(
    meaning: VectorMeaning, hint: Term
) -> None:
    plain, _, hinted = asked(meaning, hint)
    gained = {i for i in range(len(PAPERS)) if hinted.scores[i] > plain.scores[i] + 1e-4}
    assert gained == having(hint)
    assert gained  # the captured papers say each of these somewhere
    for i in gained:
        assert hinted.scores[i] == pytest.approx(plain.scores[i] + S.hint_bonus, abs=1e-5)


def test_the_order_and_repeats_of_hints_change_nothing(meaning: VectorMeaning) -> None:
    wants = [
        Want(TOPIC, hints=(VIDEO, CONSISTENCY)),
        Want(TOPIC, hints=(CONSISTENCY, VIDEO)),
        Want(TOPIC, hints=(VIDEO, CONSISTENCY, VIDEO)),
    ]
    first, *others = meaning.close(wants, PAPERS)
    for other in others:
        assert other.mask == first.mask
        assert list(other.scores) == pytest.approx(list(first.scores))


@pytest.mark.parametrize("size", [1, 7, 9, 50])
def test_a_hinted_paper_is_close_or_not_whatever_its_batch(
    meaning: VectorMeaning, size: int
) -> None:
    wants = [Want(TOPIC, hints=(VIDEO, CONSISTENCY)), Want(LIKED, hints=(Term("llama"),))]
    whole = meaning.close(wants, PAPERS)
    for start in range(0, len(PAPERS), size):
        part = meaning.close(wants, PAPERS[start : start + size])
        for big, small in zip(whole, part, strict=True):
            inside = range(start, min(start + size, len(PAPERS)))
            assert bits(small.mask) == {i - start for i in bits(big.mask) if i in inside}
            assert list(small.scores) == pytest.approx([big.scores[i] for i in inside], abs=1e-5)


def test_a_like_takes_hints_as_an_about_does(meaning: VectorMeaning) -> None:
    llama = Term("llama")
    plain, hinted = meaning.close([Want(LIKED), Want(LIKED, hints=(llama,))], PAPERS)
    for i in range(len(PAPERS)):
        bonus = S.hint_bonus if i in having(llama) else 0.0
        assert hinted.scores[i] == pytest.approx(plain.scores[i] + bonus, abs=1e-5)
    assert bits(hinted.mask) - bits(plain.mask) <= having(llama)  # only the word lets one in


# Through the Matcher: a hint against a required word, and what a Match carries.


def matched(meaning: VectorMeaning, query: str) -> dict[int, float]:
    """The papers (by position) the query matches, with each match's meaning score."""
    found = Matcher([ProfileSpec(1, 1, "p", query)], meaning).match(PAPERS)
    position = {p.arxiv_id: i for i, p in enumerate(PAPERS)}
    return {position[m.paper.arxiv_id]: m.meaning_score for m in found}


def test_a_hint_finds_more_than_the_required_word(meaning: VectorMeaning) -> None:
    plain, broad, _ = asked(meaning)
    with_word = having(VIDEO)
    hinted = set(matched(meaning, f"{TOPIC_TEXT} ~video"))
    required = set(matched(meaning, f"{TOPIC_TEXT} video"))
    bonus = {i: S.hint_bonus if i in with_word else 0.0 for i in range(len(PAPERS))}
    assert hinted == close_at(plain, broad, lambda i: S.k_hinted - bonus[i])
    assert required == bits(plain.mask) & with_word
    assert required < hinted  # each paper AND keeps needs z >= k; with the word, less will do
    assert hinted - with_word  # close enough without the word: AND would have left it out
    assert (hinted & with_word) - required  # with the word but short of k: the hint lets it in


def test_a_match_carries_the_hint_bonus_in_its_scores(meaning: VectorMeaning) -> None:
    plain, _, hinted = asked(meaning, VIDEO)
    result = ranked(
        Matcher([ProfileSpec(1, 1, "p", f"{TOPIC_TEXT} ~video")], meaning).match(PAPERS)
    )
    position = {p.arxiv_id: i for i, p in enumerate(PAPERS)}
    assert result
    raised = 0
    for m in result:
        i = position[m.paper.arxiv_id]
        assert m.meaning_score == pytest.approx(hinted.scores[i])
        if i in having(VIDEO):
            assert m.meaning_score == pytest.approx(plain.scores[i] + S.hint_bonus, abs=1e-5)
            raised += 1
        else:
            assert m.meaning_score == pytest.approx(plain.scores[i])
        assert m.score == pytest.approx(m.word_score + MEANING_WEIGHT * m.meaning_score)
    assert raised
    assert [m.score for m in result] == sorted((m.score for m in result), reverse=True)


def test_the_matcher_asks_the_wants_the_hints_make(meaning: VectorMeaning) -> None:
    """`about:"x" ~w OR about:"x"`: the same topic, hinted and not, is two wants; each side of
    the OR matches what its own want says."""
    plain, _, hinted = asked(meaning, VIDEO)
    both = set(matched(meaning, f"{TOPIC_TEXT} ~video OR {TOPIC_TEXT}"))
    assert both == bits(plain.mask) | bits(hinted.mask)
    assert bits(hinted.mask) - bits(plain.mask)
    assert bits(plain.mask) - bits(hinted.mask)
