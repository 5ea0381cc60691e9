"""The profile query language on real papers: what each query must and must not match."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.errors import ProfileSyntaxError
from paperboy.profiles.ast import And, Field, Not, Or, Term, to_query
from paperboy.profiles.matcher import Matcher, ProfileSpec
from paperboy.profiles.parser import parse
from paperboy.profiles.reference import matches
from tests.papers import by_id, saved_papers

# (query, papers it must match, papers it must not match), facts read from the captures.
TABLE = [
    # the user's own keywords
    ('"variational inference"', [], ["2406.04329"]),  # says "variational" but not the phrase
    ("variational", ["2406.04329"], ["2403.13802"]),
    ("high-fidelity", ["2403.13535", "2406.04338"], ["2403.13802"]),
    ('"high fidelity"', ["2403.13535", "2406.04338"], []),  # hyphen and space are equal
    # case, whole words, plurals, accents
    ("DIFFUSION", ["2403.13802", "2406.07792"], ["2407.21783"]),
    ("cat", [], ["2406.08392"]),  # its abstract says "concatenate"
    ("concatenat*", ["2406.08392"], ["2403.13802"]),
    ("title:model", ["2407.21783", "2403.13802"], ["2605.05242"]),  # "Models" and "Model"
    ("author:celebi", ["2407.21783"], ["2403.13802"]),  # Onur Çelebi
    ('author:"Jimmy Lin"', ["2605.05242"], ["2407.21783"]),
    ('author:"Lin Jimmy"', [], ["2605.05242"]),
    # fields and filters
    ('org:"tiger lab"', ["2605.05242"], ["2403.13802"]),  # TIGER-Lab
    ('keyword:"agentic search"', ["2605.05242"], ["2403.13248"]),
    ("title:llama", ["2407.21783", "2302.13971"], ["2403.13248"]),
    ("upvotes>=80", ["2605.05242"], ["2403.13248"]),
    ("has:code retrieval", ["2605.05242"], ["2403.13248"]),
    ("stars>=100", ["2605.05242"], ["2403.13248"]),
    # boolean structure
    ("diffusion -video", ["2403.13802"], ["2406.07792"]),
    ("(video OR audio) diffusion", ["2406.07792", "2406.07686"], ["2403.13802"]),
    ("llama OR mamba", ["2407.21783", "2403.13802"], ["2403.13248"]),
    ("NOT diffusion", ["2407.21783"], ["2403.13802"]),
]


@pytest.mark.parametrize(("query", "hit", "miss"), TABLE, ids=[t[0] for t in TABLE])
def test_query_on_real_papers(query: str, hit: list[str], miss: list[str]) -> None:
    node = parse(query)
    result = {
        m.paper.arxiv_id for m in Matcher([ProfileSpec(1, 1, "t", query)]).match(saved_papers())
    }
    for arxiv_id in hit:
        assert matches(node, by_id(arxiv_id)), f"{query} should match {arxiv_id}"
        assert arxiv_id in result
    for arxiv_id in miss:
        assert not matches(node, by_id(arxiv_id)), f"{query} should not match {arxiv_id}"
        assert arxiv_id not in result


def test_the_tree_of_a_full_query() -> None:
    node = parse('(diffusion OR "flow matching") video -survey title:llm* upvotes>=5')
    assert isinstance(node, And)
    assert node.children[0] == Or((Term("diffusion"), Term("flow matching", phrase=True)))
    assert node.children[2] == Not(Term("survey"))
    assert node.children[3] == Term("llm", Field.TITLE, prefix=True)
    assert to_query(node) == '(diffusion OR "flow matching") video NOT survey title:llm* upvotes>=5'


MALFORMED = [
    ("vision", "(diffusion OR video", "missing ')' for this '(' at column 1"),
    ("vision", "diffusion video)", "unexpected ')' at column 16"),
    ("vision", "video (cats OR dogs) )", "unexpected ')' at column 22"),
    ("vision", "diffusion OR", "expected a term after 'OR' at column 11"),
    ("vision", "NOT", "expected a term after 'NOT' at column 1"),
    ("vision", 'title:"neural radiance', 'unterminated phrase: expected a closing " at column 7'),
    ("vision", '""', "empty phrase"),
    ("vision", "venue:neurips", "unknown field 'venue'"),
    ("vision", "upvotes>=many", "expected a whole number after 'upvotes>=' at column 1"),
    ("vision", "has:paper", "unknown has:paper"),
    ("vision", "di*", "a prefix needs at least 3 letters"),
    ("vision", "dif*usion", "'*' may only end a word"),
    ("vision", "", "the query is empty"),
    ("vision", "()", "empty parentheses: expected a term at column 2"),
    ("vision", "title: diffusion", "expected a word or a phrase after 'title:' at column 7"),
]


@pytest.mark.parametrize(
    ("name", "query", "message"), MALFORMED, ids=[m[1] or "empty" for m in MALFORMED]
)
def test_malformed_queries_name_the_column(name: str, query: str, message: str) -> None:
    with pytest.raises(ProfileSyntaxError) as info:
        parse(query, name)
    assert message in str(info.value)
    assert str(info.value).startswith("profile 'vision': ")
    assert isinstance(info.value, ValueError)


# Random queries: sequences of pieces people type, many of them malformed on purpose.
PIECES = st.sampled_from(
    [
        "diffusion",
        "Video",
        "llama",
        "models",
        "high-fidelity",
        "agent*",
        "retriev*",
        '"language model"',
        '"video generation"',
        "(",
        ")",
        "OR",
        "AND",
        "NOT",
        "-",
        "-survey",
        "title:llama",
        'abstract:"reinforcement learning"',
        "author:lin",
        'org:"tiger lab"',
        "keyword:rl",
        "upvotes>=10",
        "stars>5",
        "has:code",
        "has:project",
        "naïve",
        "Çelebi",
        "3D",
        "GPT-4",
    ]
)
QUERIES = st.lists(PIECES, min_size=1, max_size=9).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(QUERIES)
def test_every_accepted_query_round_trips_through_its_printed_form(query: str) -> None:
    try:
        node = parse(query)
    except ProfileSyntaxError:
        return
    assert parse(to_query(node)) == node


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_profile_syntax_error(query: str) -> None:
    try:
        node = parse(query)
    except ProfileSyntaxError as e:
        column = e.column
        assert 1 <= column <= len(query) + 1
        return
    assert parse(to_query(node)) == node
