"""A second source beside Hugging Face: a third-party RSS feed built from its papers.

Hugging Face publishes no feed of its own; mirrors (python-feedgen style, e.g.
huangboming/huggingface-daily-paper-feed) republish its lists as RSS. An operator whose network
cannot reach hf.co, or who wants a second opinion, points ``PAPERBOY_FEED_URL`` at one. The feed
is fetched through a polite client bound to its host (its robots.txt; on Hugging Face's own host,
the site's client and spacing) and its papers are filed under the ``feed`` view for the day they
were seen, like trending. It is a second opinion: the store lets it add papers and fill gaps,
never rewrite what Hugging Face said of a paper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime

from base.clock import Clock
from base.errors import BadAnswer, FetchError, PaperboyError, ParseError
from scraper import fields
from scraper.fetch import Fetcher, error_kind
from scraper.http import PoliteHttp
from scraper.models import FetchOutcome, ParsePath, Validators, Verdict, View
from scraper.parse_rss import parse_feed
from scraper.robots import RobotsGate
from scraper.sources import Source, feed_origin
from scraper.tally import counting_requests

log = logging.getLogger(__name__)
_FEED_TYPES = "application/rss+xml, application/xml;q=0.9, text/xml;q=0.8"


Connect = Callable[[str], AbstractContextManager[PoliteHttp]]  # origin -> a client for one run


class FeedFetcher:
    """Fetches the feed source; never raises (whatever goes wrong is a ``broken`` outcome).

    ``connect`` opens a polite client bound to the feed's origin for one fetch (one feed a run:
    closed afterwards, robots.txt asked afresh; the wiring hands over the site's client when
    the feed lives on Hugging Face's host, so the two share their spacing).
    """

    def __init__(self, url: str, connect: Connect, clock: Clock) -> None:
        self._origin, self._path = feed_origin(url)
        self._url = f"{self._origin}{self._path}"
        self._connect, self._clock = connect, clock

    def fetch(self, source: Source, validators: Validators | None = None) -> FetchOutcome:
        with counting_requests() as tally:
            outcome = self._guarded(validators)
        return replace(outcome, requests=tally.count)

    def api_url(self, source: Source) -> str:
        return self._url

    def _guarded(self, validators: Validators | None) -> FetchOutcome:
        started = self._clock()
        url = self._url
        try:
            with self._connect(self._origin) as http:
                RobotsGate(http, self._origin).check(self._path)
                answer = http.get(self._path, validators=validators, accept=_FEED_TYPES)
            if answer.status_code == 304:
                return replace(
                    self._outcome(started, answer.url, Verdict.NOT_MODIFIED, 304),
                    validators=answer.validators,
                )
            if answer.status_code != 200:
                raise BadAnswer(
                    answer.url,
                    f"the feed answered HTTP {answer.status_code}",
                    status_code=answer.status_code,
                )
            page = parse_feed(answer.body, f"feed {answer.url}")
        except (FetchError, ParseError) as e:
            return self._broken(started, url, e)
        except Exception as e:  # the last boundary of one source; the run goes on with the rest
            log.exception("unexpected error while fetching the feed %s", url)
            problem = fields.clip(f"unexpected error: {type(e).__name__}: {e}", 300)
            return self._broken(started, url, PaperboyError(problem))
        verdict = Verdict.OK if page.papers else Verdict.EMPTY
        return replace(
            self._outcome(started, answer.url, verdict, answer.status_code),
            papers=page.papers,
            path=ParsePath.FEED,
            validators=answer.validators,
        )

    def _outcome(self, started: datetime, url: str, verdict: Verdict, status: int) -> FetchOutcome:
        return FetchOutcome(
            view=View.FEED,
            period=self._clock().date().isoformat(),
            url=url,
            verdict=verdict,
            started_at=started,
            finished_at=self._clock(),
            status_code=status,
        )

    def _broken(self, started: datetime, url: str, error: PaperboyError) -> FetchOutcome:
        kind = error_kind(error)
        log.warning("the feed %s is broken: %s", url, error.message)
        return replace(
            self._outcome(started, url, Verdict.BROKEN, 0),
            status_code=error.status_code if isinstance(error, FetchError) else None,
            error=error.message,
            error_kind=kind,
        )


class Sources:
    """One Fetcher for every source: the feed's to its own fetcher, the rest to Hugging Face."""

    def __init__(self, main: Fetcher, feed: Fetcher | None) -> None:
        self._main, self._feed = main, feed

    def fetch(self, source: Source, validators: Validators | None = None) -> FetchOutcome:
        return self._pick(source).fetch(source, validators)

    def api_url(self, source: Source) -> str:
        return self._pick(source).api_url(source)

    def _pick(self, source: Source) -> Fetcher:
        if source.view is not View.FEED:
            return self._main
        if self._feed is None:
            raise PaperboyError(
                "no feed is configured", hint="set PAPERBOY_FEED_URL to a feed's address"
            )
        return self._feed
