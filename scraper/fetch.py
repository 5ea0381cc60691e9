"""Fetch one source: the JSON API first, then the HTML page; decide the health verdict."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from base.clock import Clock
from base.errors import (
    BadAnswer,
    FetchError,
    OverLimit,
    PaperboyError,
    ParseError,
    RateLimited,
    RobotsRefused,
    Unreachable,
)
from scraper import fields
from scraper.http import Answer, PoliteHttp
from scraper.models import (
    FetchOutcome,
    ParsedPage,
    ParsePath,
    ScrapedPaper,
    Validators,
    Verdict,
    View,
)
from scraper.parse_html import parse_page
from scraper.parse_json import load_json, parse_entries
from scraper.robots import RobotsGate
from scraper.sources import API_PAGE_SIZE, Source
from scraper.tally import counting_requests

log = logging.getLogger(__name__)
MAX_API_PAGES = 5  # weekly and monthly lists stop at about 105 papers


class Fetcher(Protocol):
    """What the ingest orchestrator needs from the scraper (tests may hand in a fake)."""

    def fetch(self, source: Source, validators: Validators | None = None) -> FetchOutcome: ...

    def api_url(self, source: Source) -> str:
        """The URL of the list's (first) API request: its validators are kept under it."""
        ...


@dataclass
class _Attempt:
    """What went wrong along the way, for the fetch row when every path fails."""

    errors: list[str] = field(default_factory=list)
    status_code: int | None = None


class _NotModified(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


class HuggingFaceFetcher:
    """Fetches a Source through the polite client, honouring robots.txt."""

    def __init__(self, http: PoliteHttp, robots: RobotsGate, clock: Clock) -> None:
        self._http, self._robots, self._clock = http, robots, clock

    def fetch(self, source: Source, validators: Validators | None = None) -> FetchOutcome:
        """Never raises: whatever goes wrong becomes the source's ``broken`` outcome.

        ``requests`` is what the client really sent: robots.txt, every retry and redirect, every
        page of a paged list and the HTML fallback.
        """
        with counting_requests() as tally:
            outcome = self._guarded(source, validators)
        return replace(outcome, requests=tally.count)

    def api_url(self, source: Source) -> str:
        path, params = source.api_request()
        return self._http.url_for(path, params)

    def _guarded(self, source: Source, validators: Validators | None) -> FetchOutcome:
        started = self._clock()
        attempt = _Attempt()
        try:
            return self._fetch(source, validators, started, attempt)
        except Exception as e:  # the last boundary of one source; the run goes on with the rest
            log.exception("unexpected error while fetching %s", source.label)
            problem = fields.clip(f"unexpected error: {type(e).__name__}: {e}", 300)
            return self._broken(
                source, started, self._page_url(source), attempt, PaperboyError(problem)
            )

    def _fetch(
        self,
        source: Source,
        validators: Validators | None,
        started: datetime,
        attempt: _Attempt,
    ) -> FetchOutcome:
        api_path, _ = source.api_request()
        found: tuple[ParsedPage, Answer] | None = None
        try:
            self._robots.check(api_path)
            found = self._from_api(source, validators, attempt)
        except _NotModified as nm:
            outcome = self._outcome(source, started, Verdict.NOT_MODIFIED, attempt, nm.answer)
            return _same_list(outcome, source, validators)
        except (Unreachable, RobotsRefused, RateLimited, OverLimit) as e:
            return self._broken(source, started, e.url, attempt, e)  # the page would fail too
        except FetchError as e:
            attempt.errors.append(f"API: {e.message}")
            attempt.status_code = e.status_code
        except ParseError as e:
            attempt.errors.append(f"API: {e.message}")
        if found is None:
            try:
                found = self._from_html(source, attempt)
            except (FetchError, ParseError) as e:
                url = e.url if isinstance(e, FetchError) else self._page_url(source)
                return self._broken(source, started, url, attempt, e)
        page, answer = found
        verdict = Verdict.OK if page.papers else Verdict.EMPTY
        return self._outcome(source, started, verdict, attempt, answer, page)

    def _from_api(
        self, source: Source, validators: Validators | None, attempt: _Attempt
    ) -> tuple[ParsedPage, Answer] | None:
        path, params = source.api_request()
        papers: list[ScrapedPaper] = []
        first: Answer | None = None
        for page_number in range(MAX_API_PAGES if source.paginated else 1):
            paged = {**params, "p": page_number} if page_number else params
            answer = self._http.get(
                path, params=paged, validators=None if page_number else validators
            )
            first = first or answer
            if answer.status_code == 304 and page_number == 0:
                raise _NotModified(answer)
            if answer.status_code != 200:
                attempt.status_code = answer.status_code
                attempt.errors.append(f"API: HTTP {answer.status_code}{_error_text(answer)}")
                return None
            batch = _json_papers(answer, f"API {answer.url}")
            papers.extend(p for p in batch if p.arxiv_id not in {q.arxiv_id for q in papers})
            if not source.paginated or len(batch) < API_PAGE_SIZE:
                break
        assert first is not None
        return ParsedPage(papers=tuple(papers), path=ParsePath.API), first

    def _from_html(self, source: Source, attempt: _Attempt) -> tuple[ParsedPage, Answer]:
        path, params = source.page_request()
        self._robots.check(path)
        answer = self._http.get(path, params=params, accept="text/html")
        attempt.status_code = answer.status_code
        if answer.status_code != 200:
            raise BadAnswer(
                answer.url,
                f"page answered HTTP {answer.status_code}",
                status_code=answer.status_code,
            )
        return parse_page(answer.body, f"page {answer.url}"), answer

    def _period(self, source: Source, page: ParsedPage | None) -> str:
        """The period an observation is filed under; trending is filed under the day we saw it."""
        if source.period is not None:
            return source.period
        today = self._clock().date().isoformat()
        return today if source.view is View.TRENDING else _latest_period(page, today)

    def _page_url(self, source: Source) -> str:
        path, _ = source.page_request()
        return path

    def _broken(
        self,
        source: Source,
        started: datetime,
        url: str,
        attempt: _Attempt,
        error: PaperboyError,
    ) -> FetchOutcome:
        kind = error_kind(error)
        status = error.status_code if isinstance(error, FetchError) else attempt.status_code
        message = "; ".join(
            [*attempt.errors, f"page: {error.message}"] if attempt.errors else [error.message]
        )
        log.warning("%s is broken: %s", source.label, message)
        return FetchOutcome(
            view=source.view,
            period=self._period(source, None),
            url=url,
            verdict=Verdict.BROKEN,
            started_at=started,
            finished_at=self._clock(),
            status_code=status or attempt.status_code,
            error=message,
            error_kind=kind,
        )

    def _outcome(
        self,
        source: Source,
        started: datetime,
        verdict: Verdict,
        attempt: _Attempt,
        answer: Answer,
        page: ParsedPage | None = None,
    ) -> FetchOutcome:
        papers = page.papers if page else ()
        return FetchOutcome(
            view=source.view,
            period=self._period(source, page),
            url=answer.url,
            verdict=verdict,
            started_at=started,
            finished_at=self._clock(),
            papers=papers,
            path=page.path if page else None,
            status_code=answer.status_code,
            error="; ".join(attempt.errors) or None,
            validators=answer.validators
            if page is None or page.path is ParsePath.API
            else Validators(),
        )


def error_kind(error: PaperboyError) -> str:
    """What the broken fetch row calls the error: a FetchError's kind, ``parse`` or ``internal``."""
    if isinstance(error, FetchError):
        return error.kind
    return "parse" if isinstance(error, ParseError) else "internal"


def _same_list(
    outcome: FetchOutcome, source: Source, validators: Validators | None
) -> FetchOutcome:
    """A 304 of the latest day is the list the validators came from: file it under that day."""
    if source.view is View.DAY and source.period is None and validators and validators.period:
        return replace(outcome, period=validators.period)
    return outcome


def _json_papers(answer: Answer, source: str) -> tuple[ScrapedPaper, ...]:
    return parse_entries(load_json(answer.body, source), source)


def _error_text(answer: Answer) -> str:
    try:
        data = load_json(answer.body, "")
    except ParseError:
        return ""
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return f" ({fields.clean_text(data['error'], 200)})"
    return ""


def _latest_period(page: ParsedPage | None, today: str) -> str:
    """Which day "the latest list" was: the page says so, or most papers were submitted on it."""
    if page is None:
        return today
    if fields.iso_day(page.period):  # the latest *day*: only a real day names it
        return str(page.period)
    days = Counter(
        p.submitted_on_daily_at.date().isoformat() for p in page.papers if p.submitted_on_daily_at
    )
    return days.most_common(1)[0][0] if days else today
