"""What one unattended run does: which lists to fetch now, then fetch, compose and deliver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailer.transports import Transport
from paperboy.dispatch import Dispatcher, Report
from paperboy.ingest import Ingestor, IngestReport
from scraper import sources
from scraper.models import Verdict
from scraper.sources import Source
from store.repository import SqlStore

DAILY_VIEWS_EVERY = timedelta(hours=20)  # the week and month lists: about once a day


def fetch_plan(store: SqlStore, now: datetime) -> list[Source]:
    """Today's list and trending every run; this week's and month's when not fetched today."""
    plan = [sources.day(), sources.trending()]
    year, week, _ = now.isocalendar()
    for source in (sources.week(f"{year}-W{week:02d}"), sources.month(f"{now:%Y-%m}")):
        last = store.last_fetch(verdicts=("ok", "empty", "not_modified"), source=source.view.value)
        if last is None or now - last.finished_at > DAILY_VIEWS_EVERY:
            plan.append(source)
    return plan


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
    workers: int = 4,
) -> RunReport:
    """Fetch what is due, then compose and deliver the digests that are due."""
    fetched = ingestor.run_all(fetch_plan(store, now))
    composed = dispatcher.compose()
    delivered = dispatcher.deliver(transports, workers=workers)
    return RunReport(fetched=fetched, composed=composed, delivered=delivered)
