"""The service's jobs: which lists to fetch now, the fetch job and the dispatch job (compose,
then deliver), and run-once (both); each returns one JobReport, with one exit policy, that
`serve`, `run-once`, `send` and `fetch` all print and count the same way."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from mailer.transports import Transport
from paperboy.dispatch import Dispatcher, Report
from paperboy.errors import ProfileSyntaxError
from paperboy.ingest import Ingestor, IngestReport
from paperboy.profiles.ast import Field, positive_terms
from paperboy.profiles.parser import parse_stored
from scraper import sources
from scraper.models import GOOD_VERDICTS, Verdict, View
from scraper.sources import MAX_QUERY_LENGTH as MAX_SEARCH
from scraper.sources import Source
from store.repository import SqlStore
from store.types import RunKind

log = logging.getLogger(__name__)
DAILY_VIEWS_EVERY = timedelta(hours=20)  # the week and month lists, and searches: once a day
MAX_SEARCHES_PER_RUN = 20  # politeness: the rest wait for the next run
_SEARCHABLE = frozenset({Field.ANY, Field.TITLE, Field.ABSTRACT, Field.KEYWORD})


def fetch_plan(
    store: SqlStore, now: datetime, queries: Iterable[str] = (), *, feed: bool = False
) -> list[Source]:
    """Today's list and trending (and the third-party feed, when one is set) every run; this
    week's and month's lists, and a keyword search for each term the profiles look for, when
    not fetched in the last 20 hours."""
    plan = [sources.day(), sources.trending(), *([sources.feed()] if feed else [])]
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
            node = parse_stored(query)
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
        last = store.last_fetch(verdicts=GOOD_VERDICTS, source=View.SEARCH, period=source.period)
    else:
        last = store.last_fetch(verdicts=GOOD_VERDICTS, source=source.view)
    return last is None or now - last.finished_at > DAILY_VIEWS_EVERY


@dataclass(frozen=True, slots=True)
class JobReport:
    """What one job did (a fetch, a dispatch, or both for run-once), as every command and the
    scheduler count it; ``exit_code`` is the one exit policy (see ``exit_policy``)."""

    kind: RunKind
    fetched: tuple[IngestReport, ...] = ()
    composed: Report = field(default_factory=Report)
    delivered: Report = field(default_factory=Report)
    alerts: tuple[str, ...] = ()  # alerts this run opened
    signum: int | None = None  # the signal that stopped it, if one did
    dry_run: bool = False  # composed to show, nothing recorded or sent

    @property
    def broken(self) -> list[IngestReport]:
        return [r for r in self.fetched if r.verdict is Verdict.BROKEN]

    @property
    def new_papers(self) -> int:
        return sum(r.result.new_papers for r in self.fetched)

    @property
    def problems(self) -> list[str]:
        """What needs an operator, one line each (a retry waiting is not one)."""
        c, d = self.composed, self.delivered
        found = [f"{r.label}: {r.outcome.error or 'broken'}" for r in self.broken]
        found += [f"alert: {message}" for message in self.alerts]
        if c.skipped_reason and not self.dry_run:  # a dry run only shows it
            found.append(f"digests not composed: {c.skipped_reason}")
        found += c.errors
        found += [f"a sender stopped: {e}" for e in dict.fromkeys(d.errors)]
        return found

    @property
    def counters(self) -> dict[str, int]:
        """The heartbeat's counters (``paperboy status``), the same for every command."""
        c, d = self.composed, self.delivered
        return {
            "fetched": len(self.fetched),
            "broken": len(self.broken),
            "new_papers": self.new_papers,
            "due": c.due,
            "composed": c.composed,
            "empty": c.empty,
            "unbuilt": len(c.errors),  # due, but a profile of theirs is unusable
            "matched": c.matched,
            "sent": d.sent,
            "retrying": d.retrying,
            "failed": d.failed + d.bounced,
            "expired": d.expired,
            "unconfirmed": d.unconfirmed,
            "pruned": c.pruned,
        }

    @property
    def exit_code(self) -> int:
        return exit_policy(self)


def exit_policy(report: JobReport) -> int:
    """128 + the signal that stopped the run; 1 when something needs an operator (a broken
    fetch, an alert opened, digests not composed or not built, a message failed for good,
    given up or bounced, delivery stopped for the relay or the store); else 0. Messages that
    wait for a retry are normal."""
    if report.signum:
        return 128 + report.signum
    d = report.delivered
    if report.problems or d.failed or d.bounced or d.expired or d.breaker:
        return 1
    return 0


def fetch_job(
    ingestor: Ingestor,
    plan: Iterable[Source],
    *,
    stopping: threading.Event | None = None,
    watch: Callable[[], list[str]] | None = None,
    progress: Callable[[IngestReport], None] | None = None,
) -> JobReport:
    """Fetch each list of ``plan`` (a broken one never stops the rest); ``stopping`` stops it
    between two lists. ``watch`` then opens the alerts due (see paperboy.alerts.check)."""
    fetched: list[IngestReport] = []
    for source in plan:
        if stopping is not None and stopping.is_set():
            break
        fetched += ingestor.run_all([source], progress)
    for r in fetched:
        if r.verdict is Verdict.BROKEN:
            log.error("fetch %s broken: %s", r.label, r.outcome.error)
    stopped = stopping is not None and stopping.is_set()
    opened = watch() if watch is not None and not stopped else []
    return JobReport(RunKind.FETCH, fetched=tuple(fetched), alerts=tuple(opened))


def dispatch_job(
    dispatcher: Dispatcher,
    transports: Callable[[], Transport],
    *,
    workers: int = 4,
    dry_run: bool = False,
    relay: Callable[[Report], str | None] | None = None,
) -> JobReport:
    """Compose the digests that are due, then deliver every pending one (unless
    ``dispatcher.stopping`` was set meanwhile); ``relay`` then opens or closes the relay's
    alert (see paperboy.alerts.delivery). A dry run composes to show and sends nothing."""
    composed = dispatcher.compose(dry_run=dry_run)
    if dry_run:
        return JobReport(RunKind.DISPATCH, composed=composed, dry_run=True)
    stopped = dispatcher.stopping.is_set()
    delivered = Report() if stopped else dispatcher.deliver(transports, workers=workers)
    opened = relay(delivered) if relay is not None else None
    return JobReport(
        RunKind.DISPATCH,
        composed=composed,
        delivered=delivered,
        alerts=(opened,) if opened else (),
    )


def run_once(
    *,
    store: SqlStore,
    ingestor: Ingestor,
    dispatcher: Dispatcher,
    transports: Callable[[], Transport],
    now: datetime,
    queries: Iterable[str] = (),
    feed: bool = False,
    workers: int = 4,
    watch: Callable[[], list[str]] | None = None,
    relay: Callable[[Report], str | None] | None = None,
) -> JobReport:
    """Fetch what is due, then compose and deliver the digests that are due.

    ``dispatcher.stopping`` (SIGTERM) stops it between two lists, before composing, or, while
    delivering, after each connection's message in hand (the rest wait for the next run).
    """
    stopping = dispatcher.stopping
    fetched = fetch_job(ingestor, fetch_plan(store, now, queries, feed=feed), stopping=stopping)
    if stopping.is_set():
        return replace(fetched, kind=RunKind.RUN_ONCE)
    sent = dispatch_job(dispatcher, transports, workers=workers, relay=relay)
    opened = watch() if watch is not None and not stopping.is_set() else []
    return JobReport(
        RunKind.RUN_ONCE,
        fetched=fetched.fetched,
        composed=sent.composed,
        delivered=sent.delivered,
        alerts=(*opened, *sent.alerts),
    )
