"""Bad input: a clear ParseError naming where, never a crash and never a silent empty list."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.errors import ParseError
from scraper.models import ParsePath
from scraper.parse_html import parse_page
from scraper.parse_json import REQUIRED_PAPER_KEYS, parse_entries
from scraper.parse_rss import parse_feed
from tests.conftest import capture

ENTRIES: list[dict[str, Any]] = json.loads(capture("hf-api-daily-papers-2026-05-08.json"))
HTML = capture("hf-daily-2026-07-02.html").decode()


@pytest.mark.parametrize("key", REQUIRED_PAPER_KEYS)
def test_missing_required_key_is_named(key: str) -> None:
    entries = copy.deepcopy(ENTRIES[:3])
    del entries[2]["paper"][key]
    with pytest.raises(ParseError) as info:
        parse_entries(entries, "api")
    assert info.value.where == f"[2].paper.{key}"
    assert f"missing required key {key!r}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_keys_are_ignored_and_optional_ones_may_be_null() -> None:
    entries = copy.deepcopy(ENTRIES[:1])
    entries[0]["brandNewKey"] = {"x": 1}
    entries[0]["paper"]["githubStars"] = None
    entries[0]["paper"]["ai_summary"] = None
    (paper,) = parse_entries(entries, "api")
    assert paper.arxiv_id == ENTRIES[0]["paper"]["id"]
    assert paper.github_stars is None
    assert paper.ai_summary is None


def test_the_2024_flat_shape_is_a_parse_error() -> None:
    """September 2024: the search API briefly returned flat items (huggingface_hub #2553)."""
    flat = [{"id": "2409.00001", "title": "T", "thumbnailUrl": "https://x/y.png", "source": "hf"}]
    with pytest.raises(ParseError, match=r"missing required key 'paper' at \[0\]\.paper"):
        parse_entries(flat, "search")


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda p: p.__setitem__("upvotes", "many"), "upvotes"),
        (lambda p: p.__setitem__("id", "../../etc/passwd"), "paper.id"),
        (lambda p: p.__setitem__("publishedAt", "yesterday"), "publishedAt"),
        (lambda p: p.__setitem__("title", 42), "paper.title"),
        (lambda p: p.__setitem__("authors", "A. Author"), "paper.authors"),
    ],
)
def test_wrong_types_are_parse_errors(mutate: Any, where: str) -> None:
    entries = copy.deepcopy(ENTRIES[:1])
    mutate(entries[0]["paper"])
    with pytest.raises(ParseError) as info:
        parse_entries(entries, "api")
    assert info.value.where.endswith(where)


def test_unsafe_link_schemes_are_dropped() -> None:
    entries = copy.deepcopy(ENTRIES[:1])
    entries[0]["paper"]["githubRepo"] = "javascript:alert(1)"
    entries[0]["paper"]["projectPage"] = "data:text/html,<script>alert(1)</script>"
    entries[0]["thumbnail"] = "https://cdn-thumbnails.huggingface.co/x.png\r\nX-Injected: 1"
    (paper,) = parse_entries(entries, "api")
    assert paper.github_repo is None
    assert paper.project_page is None
    assert paper.thumbnail is None


def test_markup_changed_so_nothing_parses() -> None:
    """Cards are present but no longer look like paper cards, and the island is gone."""
    changed = HTML.replace('data-target="DailyPapers"', 'data-target="PapersGrid"').replace(
        'href="/papers/', 'href="/p/'
    )
    with pytest.raises(ParseError, match=r"31 cards on the page but no paper in them"):
        parse_page(changed, "page")


def test_page_without_island_or_cards() -> None:
    with pytest.raises(ParseError, match="no DailyPapers data-props and no <article>"):
        parse_page("<html><body><h1>Daily Papers</h1></body></html>", "page")


def test_broken_props_fall_back_to_the_cards() -> None:
    start = HTML.index('data-props="', HTML.index('data-target="DailyPapers"'))
    broken = HTML[: start + 12] + "{not json" + HTML[start + 12 :]
    page = parse_page(broken, "page")
    assert page.path is ParsePath.DOM
    assert len(page.papers) == 31


def test_empty_day_in_props_is_a_valid_empty_list() -> None:
    html = (
        '<main><div class="SVELTE_HYDRATER contents" data-target="DailyPapers" data-props="'
        "{&quot;dateString&quot;:&quot;2026-07-03&quot;,&quot;dailyPapers&quot;:[]}"
        '"></div></main>'
    )
    page = parse_page(html, "page")
    assert page.papers == ()
    assert page.period == "2026-07-03"


def test_props_with_neither_list_is_an_error_when_no_cards() -> None:
    html = '<div data-target="DailyPapers" data-props="{&quot;x&quot;:1}"></div>'
    with pytest.raises(ParseError, match="no 'dailyPapers' list"):
        parse_page(html, "page")


def test_rss_that_is_not_xml() -> None:
    with pytest.raises(ParseError, match="not a well-formed RSS feed"):
        parse_feed(b"<rss><channel><item>", "feed")


def test_rss_entity_expansion_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel/></rss>'
    with pytest.raises(ParseError):
        parse_feed(bomb, "feed")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_parse_or_raise_parse_error(body: bytes) -> None:
    for parse in (parse_page, parse_feed):
        try:
            page = parse(body, "fuzz")
        except ParseError:
            continue
        assert all(p.arxiv_id and p.title for p in page.papers)
    try:
        data = json.loads(body)
    except ValueError:
        return
    with contextlib.suppress(ParseError):
        parse_entries(data, "fuzz")


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["paper", "id", "title", "upvotes", "x"]), children)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_any_json_shape_parses_or_raises_parse_error(data: object) -> None:
    try:
        papers = parse_entries(data, "fuzz")
    except ParseError:
        return
    assert isinstance(papers, tuple)
