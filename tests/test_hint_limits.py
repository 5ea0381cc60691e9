"""A query's ~hints are capped: each is a gather over every batch for every hinted want."""

from __future__ import annotations

import pytest

from paperboy.errors import ProfileSyntaxError
from paperboy.profiles.ast import Hint, to_query
from paperboy.profiles.explain import grouped, written
from paperboy.profiles.parser import MAX_HINTS, parse


def _hints(node: object) -> int:
    children = getattr(node, "children", ())
    return sum(_hints(c) for c in children) + isinstance(node, Hint)


def test_the_most_hints_a_query_may_hold_are_accepted_and_round_trip() -> None:
    query = 'about:"web agents" ' + " ".join(f"~word{i}" for i in range(MAX_HINTS))
    node = parse(query)
    assert _hints(node) == MAX_HINTS
    assert parse(to_query(node)) == node


def test_one_hint_more_is_refused_at_its_column() -> None:
    head = 'about:"web agents" ' + " ".join(f"~w{i}" for i in range(MAX_HINTS))
    query = f"{head} ~extra"
    with pytest.raises(ProfileSyntaxError) as caught:
        parse(query)
    assert f"more than {MAX_HINTS} ~hints" in str(caught.value)
    assert caught.value.column == len(head) + 2


def test_hints_in_nested_groups_count_together() -> None:
    half = MAX_HINTS // 2 + 1
    inner = " ".join(f"~a{i}" for i in range(half))
    outer = " ".join(f"~b{i}" for i in range(half))
    with pytest.raises(ProfileSyntaxError, match="~hints"):
        parse(f'(about:"web agents" {inner} OR like:2407.21783) {outer}')


@pytest.mark.parametrize(
    "query", ['-NOT about:"robot arms"', 'NOT -title:"robot arms"', '--abstract:"robot arms" x']
)
def test_a_double_exclusion_of_a_field_phrase_prints_to_a_form_that_parses_back(
    query: str,
) -> None:
    """explain writes NOT NOT x as --x; before a field's phrase that was refused."""
    node = parse(query)
    assert parse(written(node)) == node
    assert parse(grouped(node)) == node
