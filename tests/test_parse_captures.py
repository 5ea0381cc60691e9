"""Every saved capture parses to its expected papers, which agree with the raw data."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from paperboy.errors import ParseError
from scraper.parse_html import _from_cards
from tests.conftest import HF
from tests.parsing import page_json, parse_capture

CAPTURES = sorted(
    p for p in HF.iterdir() if p.suffix in {".json", ".html", ".xml"} and ".expected." not in p.name
)
UPDATE = os.environ.get("UPDATE_EXPECTED") == "1"


def test_every_capture_has_an_expectation() -> None:
    assert len(CAPTURES) == 9, "shared/hf-pages holds nine captures; all are copied"
    for capture in CAPTURES:
        assert capture.with_name(capture.name + ".expected.json").exists() or UPDATE, capture.name


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_capture_parses_to_expected(capture: Path) -> None:
    expected_file = capture.with_name(capture.name + ".expected.json")
    try:
        actual = page_json(parse_capture(capture))
    except ParseError as e:
        actual = {"error": "ParseError", "message": e.message}
    if UPDATE:
        expected_file.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n")
    expected = json.loads(expected_file.read_text())
    assert actual == expected
    if "error" not in expected:
        assert expected["count"] > 0, "a capture with papers must never parse to nothing"


@pytest.mark.parametrize(
    "capture", [p for p in CAPTURES if p.suffix == ".json"], ids=lambda p: p.name
)
def test_json_expectations_match_the_raw_entries(capture: Path) -> None:
    raw = json.loads(capture.read_bytes())
    if isinstance(raw, dict):  # the error body
        with pytest.raises(ParseError, match="expected a JSON list"):
            parse_capture(capture)
        return
    papers = parse_capture(capture).papers
    assert [p.arxiv_id for p in papers] == [e["paper"]["id"] for e in raw]
    assert [p.upvotes for p in papers] == [e["paper"]["upvotes"] for e in raw]
    assert [p.title for p in papers] == [" ".join(e["paper"]["title"].split()) for e in raw]
    assert all(p.published_at is not None for p in papers)
    assert all(p.author_count == len(p.authors) > 0 for p in papers)


def test_html_props_and_cards_agree() -> None:
    """The DOM fallback and the data-props describe the same 31 papers in the same order."""
    html = (HF / "hf-daily-2026-07-02.html").read_text()
    props = parse_capture(HF / "hf-daily-2026-07-02.html")
    cards = _from_cards(LexborHTMLParser(html).css("article"), "cards")
    assert html.count("<article") == 31
    assert len(props.papers) == len(cards) == 31
    assert props.period == "2026-07-02"
    for a, b in zip(props.papers, cards, strict=True):
        assert (a.arxiv_id, a.title, a.upvotes, a.submitter) == (
            b.arxiv_id,
            b.title,
            b.upvotes,
            b.submitter,
        )
        assert a.organization == b.organization
        assert (a.num_comments or 0) == b.num_comments
    # The list is upvote-sorted on the page.
    assert [p.upvotes for p in cards] == sorted((p.upvotes for p in cards), reverse=True)


def test_rss_expectation_matches_the_items() -> None:
    body = (HF / "thirdparty-rss-hf-weekly-2026-08-03.xml").read_text()
    papers = parse_capture(HF / "thirdparty-rss-hf-weekly-2026-08-03.xml").papers
    links = re.findall(r"<link>https://arxiv.org/abs/([^<]+)</link>", body)
    assert [p.arxiv_id for p in papers] == links
    assert len(papers) == 6
    assert all(p.summary and p.authors for p in papers)
