"""The matcher agrees with the one-query-one-paper reference evaluator, and explains itself."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.errors import ProfileSyntaxError
from paperboy.profiles.ast import Field
from paperboy.profiles.document import _field_text, _Recent, analyse
from paperboy.profiles.highlight import snippet, spans
from paperboy.profiles.matcher import Matcher, ProfileSpec, ranked
from paperboy.profiles.parser import parse
from paperboy.profiles.reference import profile_matches
from tests.papers import by_id, saved_papers
from tests.test_query_language import MEANING_QUERIES, QUERIES
from tests.test_semantic_query import FakeMeaning

PAPERS = saved_papers()


def valid(query: str) -> bool:
    try:
        parse(query)
    except ProfileSyntaxError:
        return False
    return True


@settings(max_examples=60, deadline=None)
@given(st.lists(QUERIES.filter(valid), min_size=1, max_size=25))
def test_matcher_equals_the_reference_on_random_profiles(queries: list[str]) -> None:
    specs = [ProfileSpec(i, i % 7, f"p{i}", q) for i, q in enumerate(queries)]
    found = {(m.profile_id, m.paper.arxiv_id) for m in Matcher(specs).match(PAPERS)}
    expected = {
        (spec.profile_id, paper.arxiv_id)
        for spec in specs
        for paper in PAPERS
        if profile_matches(parse(spec.query), paper)  # about:/like: need meaning: nothing
    }
    assert found == expected


IDS = [p.arxiv_id for p in PAPERS]
FEEDBACK = st.lists(st.sampled_from(IDS[:40]), max_size=3, unique=True).map(tuple)
SPECS = st.builds(
    lambda q, step, liked, rejected, model: (q, step, liked, rejected, model),
    st.one_of(QUERIES, MEANING_QUERIES).filter(valid),
    st.integers(-3, 3),
    FEEDBACK,
    FEEDBACK,
    st.sampled_from([None, "fake-model", "another-model"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(SPECS, min_size=1, max_size=25), st.booleans())
def test_matcher_equals_the_reference_with_meaning_and_feedback(
    drawn: list[tuple[str, int, tuple[str, ...], tuple[str, ...], str | None]], with_meaning: bool
) -> None:
    """The combination logic: about:/like: under AND, OR, NOT with words and filters, ~hints
    (each atom asked with those of its groups: the fake's closeness depends on them), each
    profile's closeness step (for its model), likes that add papers, rejections that remove."""
    specs = [
        ProfileSpec(i, i % 7, f"p{i}", q, step, liked, rejected, model)
        for i, (q, step, liked, rejected, model) in enumerate(drawn)
    ]
    meaning = FakeMeaning() if with_meaning else None
    matcher = Matcher(specs, meaning)
    found = {(m.profile_id, m.paper.arxiv_id) for m in matcher.match(PAPERS)}
    expected = {
        (spec.profile_id, paper.arxiv_id)
        for spec in specs
        for paper in PAPERS
        if profile_matches(
            parse(spec.query),
            paper,
            meaning.is_close if meaning else None,
            meaning.is_held_back if meaning else None,
            step=spec.step_for("fake-model"),
            liked=spec.liked,
            rejected=spec.rejected,
        )
    }
    assert found == expected
    assert meaning is None or len(meaning.asked) <= 1  # one question per batch at most


def test_many_profiles_and_subscribers_at_once() -> None:
    specs = [
        ProfileSpec(1, 10, "video", "video diffusion"),
        ProfileSpec(2, 10, "llama", "title:llama"),
        ProfileSpec(3, 20, "llama", "title:llama"),
        ProfileSpec(4, 30, "nothing", '"no paper says this"'),
    ]
    result = Matcher(specs).match(PAPERS)
    assert result.subscribers() == {10, 20}
    llama = {m.paper.arxiv_id for m in result.for_subscriber(20)}
    assert "2407.21783" in llama
    assert llama <= {m.paper.arxiv_id for m in result.for_subscriber(10)}
    assert len(result) == len(list(result))


def test_a_match_says_which_terms_hit_where() -> None:
    (match,) = [
        m
        for m in Matcher([ProfileSpec(1, 1, "p", 'title:llama "foundation models" -survey')]).match(
            PAPERS
        )
        if m.paper.arxiv_id == "2407.21783"
    ]
    hits = {(h.term, h.field) for h in match.hits}
    assert ("title:llama", Field.TITLE) in hits
    assert ('"foundation models"', Field.ABSTRACT) in hits
    assert all(h.term != "survey" for h in match.hits)  # excluded terms are not reasons
    assert match.score == 3 + 1  # title weight + abstract weight


def test_ranking_is_strength_then_upvotes_then_recency_and_deterministic() -> None:
    result = list(Matcher([ProfileSpec(1, 1, "p", "diffusion OR video")]).match(PAPERS))
    order = ranked(result)
    keys = [(-m.score, -m.paper.upvotes) for m in order]
    assert keys == sorted(keys)
    assert ranked(list(reversed(result))) == order
    assert order[0].score >= order[-1].score


def test_a_broken_stored_profile_is_skipped_not_fatal() -> None:
    matcher = Matcher([ProfileSpec(1, 1, "old", "(unclosed"), ProfileSpec(2, 1, "ok", "llama")])
    assert len(matcher) == 1
    (rejected, error) = matcher.rejected[0]
    assert rejected.profile_id == 1
    assert "profile 'old': missing ')'" in str(error)
    assert any(m.profile_id == 2 for m in matcher.match(PAPERS))


def test_no_papers_or_no_profiles() -> None:
    assert len(Matcher([ProfileSpec(1, 1, "p", "llama")]).match([])) == 0
    assert len(Matcher([]).match(PAPERS)) == 0


def test_highlight_spans_follow_the_analysis() -> None:
    paper = by_id("2403.13535")
    text = paper.summary or ""
    found = spans(text, [(("high", "fidelity"), False)])
    assert found
    assert all(text[s:e].lower().replace(" ", "-") == "high-fidelity" for s, e in found)
    title = "Hierarchical Patch Diffusion Models"
    assert [title[s:e] for s, e in spans(title, [(("model",), False), (("diffus",), True)])] == [
        "Diffusion",
        "Models",
    ]
    cut, inside = snippet("x " * 300 + "diffusion here", [(600, 609)], width=80)
    assert cut.startswith("…")
    assert [cut[s:e] for s, e in inside] == ["diffusion"]


def test_a_paper_seen_again_reuses_its_analysis_and_reads_its_numbers_afresh() -> None:
    paper = by_id("2407.21783")
    first = analyse(paper)
    again = analyse(dataclasses.replace(paper, upvotes=paper.upvotes + 7))
    assert again.fields is first.fields  # same id and texts: the words are not worked out again
    assert again.upvotes == paper.upvotes + 7  # the numbers are the paper's own, every time
    edited = analyse(dataclasses.replace(paper, title="Neural Radiance Fields"))
    assert edited.fields is not first.fields
    assert edited.fields[Field.TITLE].has_phrase(("neural", "radiance", "field"))
    assert not edited.fields[Field.TITLE].has_phrase(("llama",))
    renamed = analyse(dataclasses.replace(paper, arxiv_id="2407.99999"))
    assert renamed.fields is not first.fields  # keyed by id as well as by text


def test_the_analysis_cache_is_bounded_least_recently_used() -> None:
    recent = _Recent(2)
    recent.put("a", {})
    recent.put("b", {})
    assert recent.get("a") == {}  # "a" is now the most recent
    recent.put("c", {})
    assert len(recent) == 2
    assert recent.get("b") is None
    assert recent.get("a") == {}
    assert recent.get("c") == {}


def test_a_phrase_never_spans_two_values_or_part_of_a_word() -> None:
    authors = _field_text(["Ann Lee", "Bob Ray"])
    assert authors.words == ("ann", "lee", "", "bob", "ray")
    assert authors.has_phrase(("ann", "lee"))
    assert authors.has_phrase(("bob", "ray"))
    assert not authors.has_phrase(("lee", "bob"))
    assert not authors.has_phrase(("nn", "lee"))
    assert not authors.has_phrase(("ann", "le"))
    assert _field_text([None, ""]).words == ()
    assert _field_text(["Cats"]).vocabulary == ("cat",)
    assert _field_text(["Cats"]).raw == ("cats",)


def test_profiles_mixing_terms_groups_filters_and_not_agree_with_the_reference() -> None:
    queries = [
        'llama (diffusion OR "foundation models" OR -survey) upvotes>=3',
        "(video OR title:llama OR has:code) -(survey OR benchmark)",
        "(diffus* OR model) (upvotes<5 OR stars>=10) -video",
        "(-llama) OR (diffusion video)",
    ]
    specs = [ProfileSpec(i, i, f"p{i}", q) for i, q in enumerate(queries)]
    found = {(m.profile_id, m.paper.arxiv_id) for m in Matcher(specs).match(PAPERS)}
    expected = {
        (spec.profile_id, paper.arxiv_id)
        for spec in specs
        for paper in PAPERS
        if profile_matches(parse(spec.query), paper)
    }
    assert found == expected
    assert found
