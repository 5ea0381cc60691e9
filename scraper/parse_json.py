"""Parse Hugging Face's paper-list JSON (API answers and the HTML data-props) into ScrapedPaper.

One schema tolerant of 2024 to 2026: optional keys are omitted (sometimes null), unknown keys are
ignored, and a missing required key is a ParseError that names where it was missing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn

from base.errors import ParseError
from scraper import fields
from scraper.models import ScrapedPaper

_THUMBNAILS = "/social-thumbnails/"
REQUIRED_PAPER_KEYS = ("id", "title", "summary", "authors", "publishedAt", "upvotes")


class _Entry:
    """Typed access to one list entry, raising ParseError with the entry's path on bad data."""

    def __init__(self, source: str, where: str, raw: Mapping[str, Any]) -> None:
        self.source, self.where = source, where
        paper = raw.get("paper")
        if not isinstance(paper, Mapping):
            self.fail("paper", "missing required key 'paper'")
        for key in REQUIRED_PAPER_KEYS:
            if key not in paper:
                self.fail(f"paper.{key}", f"missing required key {key!r}")
        self.raw: Mapping[str, Any] = raw
        self.paper: Mapping[str, Any] = paper

    def fail(self, key: str, problem: str) -> NoReturn:
        raise ParseError(self.source, f"{self.where}.{key}", problem)

    def text(self, key: str, limit: int) -> str:
        value = self.paper[key]
        if not isinstance(value, str):
            self.fail(f"paper.{key}", f"expected a string, got {type(value).__name__}")
        return fields.clean_text(value, limit)

    def optional_text(
        self, mapping: Mapping[str, Any], key: str, limit: int = fields.MAX_NAME
    ) -> str | None:
        value = mapping.get(key)
        return fields.clean_text(value, limit) or None if isinstance(value, str) else None

    def integer(self, mapping: Mapping[str, Any], key: str, *, required: bool) -> int | None:
        value = mapping.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            if not fields.in_range(value):
                self.fail(key, f"{_shown(value)} is out of range (0 to {fields.MAX_COUNT})")
            return value
        if value is not None or required:
            self.fail(key, f"expected an integer, got {type(value).__name__}")
        return None

    def instant(self, mapping: Mapping[str, Any], key: str) -> datetime | None:
        value = mapping.get(key)
        if value is None:
            return None
        try:
            return fields.instant(str(value))
        except ValueError as e:
            self.fail(key, f"not a date: {_shown(value)} ({e})")

    def strings(self, mapping: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = mapping.get(key)
        if not isinstance(value, list):
            return ()
        texts = (fields.clean_text(v, fields.MAX_KEYWORD) for v in value if isinstance(v, str))
        return tuple(t for t in texts if t)[: fields.MAX_KEYWORDS]


def load_json(text: str | bytes, source: str, where: str = "") -> object:
    """``json.loads`` whose every failure is a ParseError: bad syntax or encoding, an integer
    of thousands of digits, or nesting deeper than Python's recursion limit."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ParseError(source, where, "the JSON is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, the int digits limit
        problem = e.msg if isinstance(e, json.JSONDecodeError) else type(e).__name__
        raise ParseError(source, where, f"not JSON ({problem})") from e


def parse_entries(data: object, source: str) -> tuple[ScrapedPaper, ...]:
    """Every entry of a list answer, in the answer's order. ``source`` names it in errors."""
    if not isinstance(data, list):
        raise ParseError(source, "", f"expected a JSON list of papers, got {type(data).__name__}")
    papers = []
    for index, raw in enumerate(data):
        if not isinstance(raw, Mapping):
            raise ParseError(source, f"[{index}]", "expected an object")
        papers.append(_paper(_Entry(source, f"[{index}]", raw)))
    return tuple(papers)


def _paper(entry: _Entry) -> ScrapedPaper:
    paper, raw = entry.paper, entry.raw
    arxiv_id = fields.arxiv_id(paper["id"])
    if arxiv_id is None:
        entry.fail("paper.id", f"not an arXiv id: {_shown(paper['id'])}")
    authors, author_count = _authors(entry, paper["authors"])
    organization = _mapping(raw.get("organization")) or _mapping(paper.get("organization"))
    return ScrapedPaper(
        arxiv_id=str(arxiv_id),
        title=entry.text("title", fields.MAX_TITLE),
        summary=entry.text("summary", fields.MAX_ABSTRACT) or None,
        upvotes=entry.integer(paper, "upvotes", required=True) or 0,
        authors=authors,
        author_count=author_count,
        organization=entry.optional_text(organization, "fullname")
        or entry.optional_text(organization, "name"),
        organization_slug=entry.optional_text(organization, "name"),
        published_at=entry.instant(paper, "publishedAt"),
        submitted_on_daily_at=_submitted_on_daily(entry),
        submitter=_submitter(entry),
        num_comments=entry.integer(raw, "numComments", required=False),
        github_repo=fields.web_url(paper.get("githubRepo")),
        github_stars=entry.integer(paper, "githubStars", required=False),
        project_page=fields.web_url(paper.get("projectPage")),
        ai_summary=entry.optional_text(paper, "ai_summary", fields.MAX_AI_SUMMARY),
        ai_keywords=entry.strings(paper, "ai_keywords"),
        thumbnail=_thumbnail(raw),
        media_urls=_media(raw, paper),
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _authors(entry: _Entry, value: object) -> tuple[tuple[str, ...], int]:
    """The first MAX_AUTHORS names, and how many authors there were."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        entry.fail("paper.authors", "expected a list of authors")
    names = []
    for author in value:
        if isinstance(author, Mapping) and not author.get("hidden", False):
            name = author.get("name")
            cleaned = fields.clean_text(name, fields.MAX_NAME) if isinstance(name, str) else ""
            if cleaned:
                names.append(cleaned)
    return tuple(names[: fields.MAX_AUTHORS]), min(len(names), fields.MAX_COUNT)


def _submitted_on_daily(entry: _Entry) -> datetime | None:
    # Since March 2025 the paper says so itself; before, the entry's publishedAt was the moment
    # it was submitted to Daily Papers (after that it became a shifted copy of paper.publishedAt).
    explicit = entry.instant(entry.paper, "submittedOnDailyAt")
    if explicit is not None:
        return explicit
    if "submittedOnDailyBy" in entry.paper or "isAuthorParticipating" in entry.raw:
        return None
    return entry.instant(entry.raw, "publishedAt")


def _submitter(entry: _Entry) -> str | None:
    for mapping, keys in (
        (_mapping(entry.raw.get("submittedBy")), ("name", "user")),
        (_mapping(entry.paper.get("submittedOnDailyBy")), ("name", "user")),
    ):
        for key in keys:
            found = entry.optional_text(mapping, key)
            if found:
                return found
    return None


def _thumbnail(raw: Mapping[str, Any]) -> str | None:
    # Until June 2024 the thumbnail came as the single `mediaUrl`.
    legacy = raw.get("mediaUrl")
    if isinstance(legacy, str) and _THUMBNAILS in legacy:
        return fields.web_url(legacy)
    return fields.web_url(raw.get("thumbnail"))


def _media(raw: Mapping[str, Any], paper: Mapping[str, Any]) -> tuple[str, ...]:
    candidates: list[object] = []
    for mapping in (raw, paper):
        value = mapping.get("mediaUrls")
        if isinstance(value, list):
            candidates.extend(value)
    legacy = raw.get("mediaUrl")
    if isinstance(legacy, str) and _THUMBNAILS not in legacy:
        candidates.append(legacy)
    urls = (fields.web_url(c) for c in candidates[: fields.MAX_MEDIA * 4])
    return tuple(dict.fromkeys(u for u in urls if u))[: fields.MAX_MEDIA]


def _shown(value: object) -> str:
    """A scraped value quoted in an error message, cut short (it may be a megabyte)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
