"""What one unattended run does: which lists to fetch now, then fetch, compose and deliver."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailer.transports import Transport
from paperboy.dispatch import Dispatcher, Report
from paperboy.errors import ProfileSyntaxError
from paperboy.ingest import Ingestor, IngestReport
from paperboy.profiles.ast import Field, positive_terms
from paperboy.profiles.parser import parse
from scraper import sources
from scraper.models import Verdict, View
from scraper.sources import MAX_QUERY_LENGTH as MAX_SEARCH
from scraper.sources import Source
from store.repository import SqlStore

DAILY_VIEWS_EVERY = timedelta(hours=20)  # the week and month lists, and searches: once a day
MAX_SEARCHES_PER_RUN = 20  # politeness: the rest wait for the next run
_SEARCHABLE = frozenset({Field.ANY, Field.TITLE, Field.ABSTRACT, Field.KEYWORD})


def fetch_plan(store: SqlStore, now: datetime, queries: Iterable[str] = ()) -> list[Source]:
    """Today's list and trending every run; this week's and month's lists, and a keyword
    search for each term the profiles look for, when not fetched in the last 20 hours."""
    plan = [sources.day(), sources.trending()]
    year, week, _ = now.isocalendar()
    daily = [sources.week(f"{year}-W{week:02d}"), sources.month(f"{now:%Y-%m}")]
    searches = [sources.search(term) for term in search_terms(queries)]
    for source in daily:
        if _stale(store, source, now):
            plan.append(source)
    plan.extend([s for s in searches if _stale(store, s, now)][:MAX_SEARCHES_PER_RUN])
    return plan


def search_terms(queries: Iterable[str]) -> list[str]:
    """The words and phrases profiles look for in text (not prefixes, authors or filters),
    each once, as Hugging Face's keyword search would be asked for them."""
    found: dict[str, str] = {}
    for query in queries:
        try:
            node = parse(query)
        except ProfileSyntaxError:
            continue
        for term in positive_terms(node):
            text = " ".join(term.text.split())
            # A phrase longer than the site's search box is not searched (it would stop the
            # whole fetch plan); the profile still matches it in the lists.
            if term.field in _SEARCHABLE and not term.prefix and len(text) <= MAX_SEARCH:
                found.setdefault(text.lower(), term.text)
    return sorted(found.values(), key=str.lower)


def _stale(store: SqlStore, source: Source, now: datetime) -> bool:
    if source.view is View.SEARCH:
        last = store.last_fetch(
            verdicts=("ok", "empty", "not_modified"), source="search", period=source.period
        )
    else:
        last = store.last_fetch(verdicts=("ok", "empty", "not_modified"), source=source.view.value)
    return last is None or now - last.finished_at > DAILY_VIEWS_EVERY


@dataclass
class RunReport:
    fetched: list[IngestReport]
    composed: Report
    delivered: Report

    @property
    def broken(self) -> list[IngestReport]:
        return [r for r in self.fetched if r.verdict is Verdict.BROKEN]

    @property
    def new_papers(self) -> int:
        return sum(r.result.new_papers for r in self.fetched)


def run_once(
    *,
    store: SqlStore,
    ingestor: Ingestor,
    dispatcher: Dispatcher,
    transports: Callable[[], Transport],
    now: datetime,
    queries: Iterable[str] = (),
    workers: int = 4,
) -> RunReport:
    """Fetch what is due, then compose and deliver the digests that are due.

    ``dispatcher.stopping`` (SIGTERM) stops it between two lists, before composing, or, while
    delivering, after each connection's message in hand (the rest wait for the next run).
    """
    stopping = dispatcher.stopping
    fetched: list[IngestReport] = []
    for source in fetch_plan(store, now, queries):
        if stopping.is_set():
            break
        fetched += ingestor.run_all([source])
    if stopping.is_set():
        return RunReport(fetched=fetched, composed=Report(), delivered=Report())
    composed = dispatcher.compose()
    delivered = Report() if stopping.is_set() else dispatcher.deliver(transports, workers=workers)
    return RunReport(fetched=fetched, composed=composed, delivered=delivered)
