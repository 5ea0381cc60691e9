"""Frozen types the scraper hands out: parsed papers, sources, and the outcome of one fetch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Verdict(StrEnum):
    """Health of one fetch. Only ``ok`` and ``empty`` may advance any state."""

    OK = "ok"  # papers parsed
    EMPTY = "empty"  # a valid, genuinely empty list (a day with no papers yet)
    NOT_MODIFIED = "not_modified"  # 304: nothing changed since the last fetch
    BROKEN = "broken"  # HTTP error, unreachable, robots, or a page we could not parse


# The fetch worked (a 304 too): what freshness, alerts, the doctor and "fetched lately" count.
GOOD_VERDICTS = (Verdict.OK, Verdict.EMPTY, Verdict.NOT_MODIFIED)
# A body was read and parsed: only these advance state (their validators serve conditional GETs).
PARSED_VERDICTS = (Verdict.OK, Verdict.EMPTY)


class ParsePath(StrEnum):
    """Which representation produced the papers, best first."""

    API = "api"  # /api/daily_papers or /api/papers/search JSON
    PROPS = "props"  # the DailyPapers island's data-props JSON in the HTML page
    DOM = "dom"  # the rendered <article> cards
    FEED = "feed"  # a third-party RSS feed built from Hugging Face's data


# The paths whose answer is a whole list at a stable URL: their validators serve a conditional
# GET of that URL next time (a page reached as a fallback is not what the next request asks for).
CONDITIONAL_PATHS = (ParsePath.API, ParsePath.FEED)


class View(StrEnum):
    """The lists Hugging Face publishes; an observation is kept per (paper, view, period)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    TRENDING = "trending"
    SEARCH = "search"
    FEED = "feed"  # a third-party RSS feed of Hugging Face's papers (PAPERBOY_FEED_URL)


@dataclass(frozen=True, slots=True)
class ScrapedPaper:
    """One paper as a parser saw it; optional fields are None or empty when the page lacks them."""

    arxiv_id: str
    title: str
    upvotes: int
    summary: str | None = None
    authors: tuple[str, ...] = ()
    author_count: int = 0
    organization: str | None = None
    organization_slug: str | None = None
    published_at: datetime | None = None
    submitted_on_daily_at: datetime | None = None
    submitter: str | None = None
    num_comments: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    thumbnail: str | None = None
    media_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """What a parser found in one response: the papers, in page order, and the list's own period."""

    papers: tuple[ScrapedPaper, ...]
    path: ParsePath
    period: str | None = None  # e.g. the props' dateString, when the page says which day it is


@dataclass(frozen=True, slots=True)
class Validators:
    """HTTP cache validators of a previous answer, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None
    # The period that answer was filed under, when the store hands them out: a 304 is that same
    # list again (for the latest day, only the earlier answer said which day it was).
    period: str | None = None


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """Everything one fetch of one source produced, good or bad; the store records all of it."""

    view: View
    period: str
    url: str
    verdict: Verdict
    started_at: datetime
    finished_at: datetime
    papers: tuple[ScrapedPaper, ...] = ()
    path: ParsePath | None = None
    status_code: int | None = None
    error: str | None = None
    error_kind: str | None = None  # network | http | rate_limited | robots | parse
    validators: Validators = field(default_factory=Validators)
    requests: int = 0

    @property
    def duration_ms(self) -> int:
        return round((self.finished_at - self.started_at).total_seconds() * 1000)
