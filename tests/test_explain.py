"""How a query was understood: explicit grouping, and warnings for exclusions beside an OR."""

from __future__ import annotations

import pytest

from paperboy.profiles.explain import grouped, warnings, written
from paperboy.profiles.parser import parse

README = '"variational inference" OR bayesian* -survey'


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        (README, '("variational inference" OR (bayesian* -survey))'),
        (
            '("variational inference" OR bayesian*) -survey',
            '(("variational inference" OR bayesian*) -survey)',
        ),
        ("diffusion", "diffusion"),
        ("a b OR c", "((a b) OR c)"),
        ("a OR b c OR d", "(a OR (b c) OR d)"),
        ("NOT (a OR b) c", "(-(a OR b) c)"),
        ("title:llama upvotes>=5 has:code", "(title:llama upvotes>=5 has:code)"),
        ('about:"robot hands" OR like:2407.21783', '(about:"robot hands" OR like:2407.21783)'),
    ],
)
def test_grouped_puts_every_group_in_parentheses(query: str, shown: str) -> None:
    assert grouped(parse(query)) == shown


@pytest.mark.parametrize(
    "query",
    [README, "a b OR c -d", "(a OR b) -c", "-(a OR b) c", 'x OR "y z" NOT w', "-a -b OR c"],
)
def test_the_shown_forms_parse_back_to_the_same_query(query: str) -> None:
    node = parse(query)
    assert parse(grouped(node)) == node
    assert parse(written(node)) == node


def test_the_readme_example_warns_and_says_how_to_write_it() -> None:
    [said] = warnings(parse(README), README)
    assert "-survey applies only to bayesian*" in said
    assert 'write: ("variational inference" OR bayesian*) -survey' in said
    fixed = '("variational inference" OR bayesian*) -survey'
    assert warnings(parse(fixed), fixed) == []


@pytest.mark.parametrize(
    "query",
    [
        "(a OR b) -c",  # the exclusion is outside the group with the OR
        "a OR (b -c)",  # written in parentheses: meant for b only
        "a -b",  # no OR
        "a OR b",  # no exclusion
        '"a OR -b" c',  # inside a phrase: words, not operators
    ],
)
def test_no_warning_when_the_grouping_is_explicit(query: str) -> None:
    assert warnings(parse(query), query) == []


def test_an_exclusion_alone_as_an_alternative_is_named() -> None:
    [said] = warnings(parse("-survey OR llm"), "-survey OR llm")
    assert said.startswith("-survey is an alternative of its own")


def test_warnings_inside_a_group_and_from_the_tree_alone() -> None:
    query = "(diffusion OR flow -survey) video"
    [said] = warnings(parse(query), query)
    assert "-survey applies only to flow" in said
    assert "write: (diffusion OR flow) -survey" in said
    assert warnings(parse(query)) == [said]  # without the text: judged on the tree


def test_several_exclusions_each_get_a_sentence() -> None:
    query = "a OR b -c NOT d"
    said = warnings(parse(query), query)
    assert [s.split(" applies")[0] for s in said] == ["-c", "-d"]
    assert all(s.endswith("write: (a OR b) -c -d") for s in said)
