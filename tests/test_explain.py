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


HINTED = 'about:"LLM agents that operate computers" ~GUI ~"screen parsing" ~title:agent*'


def test_hints_are_shown_with_their_mark_in_the_group_of_their_topic() -> None:
    assert grouped(parse(HINTED)) == (
        '(about:"LLM agents that operate computers" ~GUI ~"screen parsing" ~title:agent*)'
    )
    assert grouped(parse("like:2407.21783 ~a OR b")) == "((like:2407.21783 ~a) OR b)"


@pytest.mark.parametrize(
    "query", [HINTED, 'about:"robot hands" ~grasp* -survey OR like:2407.21783 ~b']
)
def test_the_shown_forms_keep_the_hints_beside_their_topic(query: str) -> None:
    node = parse(query)
    assert parse(grouped(node)) == node
    assert parse(written(node)) == node


def test_plain_words_beside_about_are_said_to_be_required_and_the_hints_suggested() -> None:
    query = 'about:"LLM agents that operate computers" gui agents'
    [said] = warnings(parse(query), query)
    assert said.startswith("gui and agents are required beside about: (AND)")
    assert "write ~gui ~agents to make them hints" in said
    suggested = 'about:"LLM agents that operate computers" ~gui ~agents'
    assert warnings(parse(suggested), suggested) == []


def test_one_required_word_beside_like_keeps_its_field_and_phrase_in_the_hint() -> None:
    query = 'like:2407.21783 ~gui title:"screen parsing" -survey'
    [said] = warnings(parse(query), query)
    assert said.startswith('title:"screen parsing" is required beside like: (AND)')
    assert 'write ~title:"screen parsing" to make it a hint' in said
    assert "-survey" not in said  # an exclusion beside a topic is meant as one


@pytest.mark.parametrize(
    "query",
    [
        'about:"robot hands" -gripper upvotes>=3 has:code',  # exclusions and filters only
        'about:"robot hands" (gripper OR grasp)',  # a group of its own: the words are meant
        'about:"robot hands" OR gripper',  # an alternative, not required beside the topic
        '-(about:"robot hands" gripper) video',  # under an exclusion
        "gripper grasp",  # no topic
    ],
)
def test_no_required_words_warning_where_no_topic_group_has_plain_words(query: str) -> None:
    assert warnings(parse(query), query) == []


def test_both_kinds_of_warning_in_one_query_and_from_the_tree_alone() -> None:
    query = 'about:"robot hands" gripper OR b -c'
    said = warnings(parse(query), query)
    assert [s.split(" ")[0] for s in said] == ["-c", "gripper"]
    assert warnings(parse(query)) == said
    inner = '(about:"robot hands" gripper) OR video'  # inside a group: still said
    assert [s.split(" ")[0] for s in warnings(parse(inner), inner)] == ["gripper"]
