"""Matching by meaning (issue 16) with a fake Meaning: the combination logic, feedback, ranking,
reasons, and that keyword-only work never asks meaning anything.

The fake decides closeness by a hash of (want, arXiv id), independent of the batch, as the real
one promises; so the matcher (one question per batch, bitsets) must equal the reference evaluator
(one paper at a time) on any query, setting and feedback. Like the real one, a want's ~hints
raise its cut-off and a paper containing them gains: a hint lost, or given to the wrong atom,
changes what is close.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from paperboy.profiles.ast import About, Field, Like, Term, semantic_atoms
from paperboy.profiles.document import PaperLike
from paperboy.profiles.matcher import Matcher, ProfileSpec, ranked
from paperboy.profiles.parser import parse
from paperboy.profiles.reference import has_term, liked_want, profile_matches
from paperboy.semantic.closeness import Closeness, Want
from tests.cli import run
from tests.papers import saved_papers

PAPERS = saved_papers()


def _hash(*parts: object) -> int:
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:8], 16)


class FakeMeaning:
    """Closeness by hash: a score 0-10 per (want, paper); close at 6 + step (narrower is
    higher); held back when a hash of (rejected, paper) says so. Counts what it is asked.

    A want with ~hints needs ``HINT_RAISE`` more, and a paper gains ``HINT_BONUS`` x the share
    of the want's distinct hints it contains (as the reference reads a term), as the real
    meaning does with its IDF weights."""

    model_id = "fake-model"
    HINT_RAISE = 1.0
    HINT_BONUS = 2.5

    def __init__(self) -> None:
        self.asked: list[int] = []  # wants per close() call
        self.wants: list[Want] = []  # every want asked, in order
        self.held: list[tuple[str, ...]] = []
        self.whys: list[tuple[Want, str]] = []

    @classmethod
    def score(cls, want: Want, paper: PaperLike) -> float:
        base = _hash(want.atom, want.liked, want.rejected, paper.arxiv_id) % 1000 / 100
        return base + cls.hint_gain(want, paper)

    @classmethod
    def hint_gain(cls, want: Want, paper: PaperLike) -> float:
        """What the want's hints add for this paper (0 without hints)."""
        hints = set(want.hints)
        found = sum(has_term(h, paper) for h in hints)
        return cls.HINT_BONUS * found / len(hints) if hints else 0.0

    @classmethod
    def is_close(cls, want: Want, paper: PaperLike) -> bool:
        raised = cls.HINT_RAISE if want.hints else 0.0
        return cls.score(want, paper) >= 6 + want.step + raised

    @staticmethod
    def is_held_back(rejected: tuple[str, ...], paper: PaperLike) -> bool:
        return _hash(rejected, paper.arxiv_id) % 5 == 0

    def close(self, wants: Sequence[Want], papers: Sequence[PaperLike]) -> list[Closeness]:
        self.asked.append(len(wants))
        self.wants.extend(wants)
        return [
            Closeness(
                sum(1 << i for i, p in enumerate(papers) if self.is_close(w, p)),
                tuple(self.score(w, p) for p in papers),
            )
            for w in wants
        ]

    def held_back(self, rejected: tuple[str, ...], papers: Sequence[PaperLike]) -> int:
        self.held.append(rejected)
        return sum(1 << i for i, p in enumerate(papers) if self.is_held_back(rejected, p))

    def why(self, want: Want, paper: PaperLike) -> str:
        self.whys.append((want, paper.arxiv_id))
        if isinstance(want.atom, Like):
            return f"close to {want.atom.arxiv_ids[0]}"
        return f"{paper.title} (about {want.atom.text})"


def expected(spec: ProfileSpec, meaning: FakeMeaning | None) -> set[tuple[int, str]]:
    node = parse(spec.query)
    step = spec.step_for(meaning.model_id) if meaning else 0
    return {
        (spec.profile_id, p.arxiv_id)
        for p in PAPERS
        if profile_matches(
            node,
            p,
            meaning.is_close if meaning else None,
            meaning.is_held_back if meaning else None,
            step=step,
            liked=spec.liked,
            rejected=spec.rejected,
        )
    }


def found(specs: list[ProfileSpec], meaning: FakeMeaning | None) -> set[tuple[int, str]]:
    return {(m.profile_id, m.paper.arxiv_id) for m in Matcher(specs, meaning).match(PAPERS)}


QUERIES = [
    'about:"speculative decoding for LLM serving" -survey upvotes>=3',
    "like:2407.21783",
    'diffusion -about:"video generation"',
    'about:"video generation" OR title:llama',
    'NOT (about:"agents" like:2403.13802,2407.21783)',
    "(about:robotics OR about:retrieval) has:code",
    # ~hints: never required, each atom asked with those of its group and the groups around it
    'about:"language model agents" ~agent* ~title:llama',
    '(like:2407.21783 ~"language model") OR about:"video generation" ~video -survey',
    'about:"reasoning" (like:2403.13802 OR about:"diffusion models" ~diffus*) ~title:model',
    'NOT (about:"surveys of a field" ~survey) upvotes>=1',
]


@pytest.mark.parametrize("query", QUERIES)
def test_each_semantic_query_matches_what_the_reference_says(query: str) -> None:
    meaning = FakeMeaning()
    spec = ProfileSpec(1, 1, "p", query)
    result = found([spec], meaning)
    assert result == expected(spec, meaning)
    assert meaning.asked == [len(set(semantic_atoms(parse(query))))]  # one call, each atom once


def test_each_atom_is_asked_with_the_hints_of_its_groups_outer_first() -> None:
    meaning = FakeMeaning()
    query = 'about:"reasoning" (like:2403.13802 OR about:"diffusion models" ~diffus*) ~title:model'
    Matcher([ProfileSpec(1, 1, "p", query)], meaning).match(PAPERS)
    model, diffus = Term("model", Field.TITLE), Term("diffus", prefix=True)
    assert {(w.atom, w.hints) for w in meaning.wants} == {
        (About("reasoning"), (model,)),
        (Like(("2403.13802",)), (model,)),
        (About("diffusion models"), (model, diffus)),
    }


def test_the_same_atom_with_and_without_hints_is_two_questions() -> None:
    meaning = FakeMeaning()
    query = 'about:"language model agents" ~agent* OR about:"language model agents"'
    result = {p for _, p in found([ProfileSpec(1, 1, "p", query)], meaning)}
    agent = Term("agent", prefix=True)
    bare = Want(About("language model agents"))
    hinted = dataclasses.replace(bare, hints=(agent,))
    assert meaning.asked == [2]
    assert set(meaning.wants) == {bare, hinted}
    close = FakeMeaning.is_close
    assert result == {p.arxiv_id for p in PAPERS if close(bare, p) or close(hinted, p)}
    # the fake's hint moves papers both ways (so a hint lost or misplaced shows): some papers
    # containing it join, some lacking it leave
    gained = [p for p in PAPERS if close(hinted, p) and not close(bare, p)]
    lost = [p for p in PAPERS if close(bare, p) and not close(hinted, p)]
    assert gained
    assert lost
    assert all(has_term(agent, p) for p in gained)
    assert not any(has_term(agent, p) for p in lost)


def test_the_query_combines_meaning_with_words_and_filters() -> None:
    meaning = FakeMeaning()
    query = 'about:"speculative decoding for LLM serving" -survey upvotes>=3'
    result = {p for _, p in found([ProfileSpec(1, 1, "p", query)], meaning)}
    want = Want(About("speculative decoding for LLM serving"))
    close = {p.arxiv_id for p in PAPERS if FakeMeaning.is_close(want, p)}
    assert result  # the fake finds some papers close, and some of them pass the rest
    for paper in PAPERS:
        says_survey = (
            "survey"
            in " ".join(
                [paper.title, paper.summary or "", paper.ai_summary or "", *paper.ai_keywords]
            )
            .lower()
            .split()
        )
        if paper.arxiv_id in result:
            assert paper.arxiv_id in close
            assert paper.upvotes >= 3
            assert not says_survey
    assert close - result  # and the filters took some out


def test_closeness_step_moves_the_threshold_and_only_for_its_model() -> None:
    query = 'about:"large language models"'
    sizes = {
        step: len(found([ProfileSpec(1, 1, "p", query, closeness=step)], FakeMeaning()))
        for step in (-3, 0, 3)
    }
    assert sizes[-3] > sizes[0] > sizes[3]
    other = ProfileSpec(1, 1, "p", query, closeness=3, closeness_model="another-model")
    assert len(found([other], FakeMeaning())) == sizes[0]  # a step set for another model: 0
    mine = ProfileSpec(1, 1, "p", query, closeness=3, closeness_model="fake-model")
    assert len(found([mine], FakeMeaning())) == sizes[3]


def test_feedback_likes_add_close_papers_and_rejects_take_out() -> None:
    meaning = FakeMeaning()
    plain = ProfileSpec(1, 1, "p", "title:llama")
    liked = ProfileSpec(2, 1, "p", "title:llama", liked=("2403.13802",))
    base = {p for _, p in found([plain], meaning)}
    grown = {p for _, p in found([liked], meaning)}
    assert base < grown  # a keyword-only profile with likes also finds papers close to them
    extra = grown - base
    want = liked_want(0, ("2403.13802",), ())
    assert all(FakeMeaning.is_close(want, p) for p in PAPERS if p.arxiv_id in extra)

    victim = sorted(base)[0]
    rejecting = ProfileSpec(3, 1, "p", "title:llama", rejected=(victim,))
    kept = {p for _, p in found([rejecting], meaning)}
    assert victim not in kept  # the rejected paper itself never comes back
    held = {p.arxiv_id for p in PAPERS if FakeMeaning.is_held_back((victim,), p)}
    assert kept == base - {victim} - held
    assert found([rejecting], meaning) == expected(rejecting, meaning)


def test_without_meaning_a_semantic_profile_matches_nothing_and_is_reported() -> None:
    specs = [
        ProfileSpec(1, 1, "topic", '-about:"surveys"'),  # NOT of nothing would be everything
        ProfileSpec(2, 1, "words", "title:llama", liked=("2403.13802",), rejected=("2407.21783",)),
    ]
    matcher = Matcher(specs)
    assert [s.profile_id for s in matcher.without_meaning] == [1]
    assert matcher.rejected == []
    result = {(m.profile_id, m.paper.arxiv_id) for m in matcher.match(PAPERS)}
    assert {pid for pid, _ in result} == {2}
    assert (2, "2407.21783") not in result  # an exact rejection holds without meaning
    assert result == expected(specs[0], None) | expected(specs[1], None)


def test_keyword_profiles_never_ask_meaning() -> None:
    meaning = FakeMeaning()
    result = Matcher([ProfileSpec(1, 1, "p", "diffusion OR llama")], meaning).match(PAPERS)
    matches = ranked(result)
    assert matches
    assert meaning.asked == []
    assert meaning.held == []
    assert meaning.whys == []
    assert all(m.reasons == () and m.meaning_score == 0 for m in matches)
    assert [m.score for m in matches] == [m.word_score for m in matches]


def test_one_question_per_batch_for_every_profile_and_distinct_wants_once() -> None:
    meaning = FakeMeaning()
    specs = [
        ProfileSpec(i, i, "p", q)
        for i, q in enumerate(['about:"agents"', 'about:"agents" -survey', "like:2407.21783"] * 50)
    ]
    Matcher(specs, meaning).match(PAPERS)
    assert meaning.asked == [2]  # 150 profiles, two distinct wants, one call


def test_matches_rank_by_meaning_and_words_and_say_why_lazily() -> None:
    meaning = FakeMeaning()
    query = 'about:"language model agents" OR title:llama'
    matches = ranked(Matcher([ProfileSpec(1, 1, "p", query)], meaning).match(PAPERS))
    assert meaning.whys == []  # nothing asked until a reason is read
    want = Want(About("language model agents"))
    for m in matches:
        close = FakeMeaning.is_close(want, m.paper)
        assert m.meaning_score == (FakeMeaning.score(want, m.paper) if close else 0)
        assert m.score == m.word_score + m.meaning_score
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    top = matches[0]
    assert top.reasons == (
        (f"{top.paper.title} (about language model agents)",)
        if FakeMeaning.is_close(want, top.paper)
        else ()
    )
    words_only = [m for m in matches if not FakeMeaning.is_close(want, m.paper)]
    assert words_only
    assert all(m.reasons == () for m in words_only)
    near = [m for m in matches if FakeMeaning.is_close(want, m.paper)]
    assert near
    asked = len(meaning.whys)
    assert near[0].reasons == (f"{near[0].paper.title} (about language model agents)",)
    assert near[0].reasons
    assert len(meaning.whys) <= asked + 1  # asked at most once more, then kept


def test_a_liked_profile_says_close_to_the_example() -> None:
    meaning = FakeMeaning()
    spec = ProfileSpec(1, 1, "p", '"no paper says this"', liked=("2403.13802",))
    matches = list(Matcher([spec], meaning).match(PAPERS))
    assert matches
    assert all(m.reasons == ("close to 2403.13802",) for m in matches)
    assert all(m.word_score == 0 and m.score > 0 for m in matches)


def test_profile_test_shows_why_and_takes_a_closeness(tmp_path: Path) -> None:
    """`profile test` on the demo papers with the lexical fallback (the model's own figures are
    the semantic helpers' tests): each paper on a line of its own, the reason indented below."""
    assert run(tmp_path, "demo").returncode == 0
    query = 'about:"video generation with diffusion models" -survey'
    counts = {}
    for step in ("-3", "0", "3"):
        result = run(
            tmp_path, "profile", "test", query, "--closeness", step, PAPERBOY_SEMANTIC="off"
        )
        assert result.returncode == 0, result.stderr
        assert "about: and like: use lexical similarity" in result.stderr
        counts[step] = int(result.stdout.split(" of 161 papers")[0].split()[-1])
        lines = result.stdout.splitlines()
        firsts = [i for i, line in enumerate(lines) if re.match(r"\d{4}\.\d{5}  ", line)]
        assert firsts or counts[step] == 0
        for i in firsts:
            assert lines[i + 1].startswith("    why: ")
    assert counts["-3"] >= counts["0"] >= counts["3"]
    assert counts["-3"] > counts["3"]
    assert run(tmp_path, "profile", "test", "x", "--closeness", "9").returncode == 2
    bad = run(tmp_path, "profile", "test", "like:2407.2178")
    assert bad.returncode == 2
    assert "'2407.2178' is not an arXiv id" in bad.stderr


def test_profile_help_explains_about_and_like(tmp_path: Path) -> None:
    said = run(tmp_path, "profile", "help").stdout
    for piece in (
        'about:"speculative decoding for LLM serving" -survey upvotes>=3',
        "about:robotics",
        "like:2407.21783,2501.00001",
        "--closeness -1",
        "at most 10 in a query, 20 ids in a like:",
    ):
        assert piece in said


def test_the_web_query_help_explains_about_and_like() -> None:
    from mailer.render import environment

    env = environment()
    for name in ("web/signup.html.j2", "web/manage.html.j2"):
        source = env.loader.get_source(env, name)[0] if env.loader else ""
        env.parse(source)  # still a valid template
        assert 'about:"speculative decoding for LLM serving"' in source
        assert "like:2407.21783" in source
