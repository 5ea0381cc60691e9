"""Fetch sources and store what they found: the pure plan, and the thin orchestrator around it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from paperboy.clock import Clock
from paperboy.errors import PaperboyError, StoreError
from scraper.fetch import Fetcher
from scraper.fields import clip
from scraper.models import FetchOutcome, ScrapedPaper, Validators, Verdict, View
from scraper.sources import Source
from store.types import (
    FetchRecord,
    IngestBatch,
    IngestResult,
    ObservationUpsert,
    PaperUpsert,
)

log = logging.getLogger(__name__)

# Lists Hugging Face ranks by upvotes (its API order is not guaranteed); the others keep their
# own order: trending by its momentum formula, search by relevance.
_UPVOTE_RANKED = frozenset({View.DAY, View.WEEK, View.MONTH})


class IngestStore(Protocol):
    """What ingesting needs from the store."""

    def ingest(self, batch: IngestBatch) -> IngestResult: ...

    def validators_for(self, source: str, url: str) -> Validators | None: ...


class PaperEmbedding(Protocol):
    """Vectors for the papers a fetch stored (paperboy.semantic.vectors.IngestVectors)."""

    def after_ingest(self, arxiv_ids: Sequence[str]) -> int:
        """Embed the new or changed ones among ``arxiv_ids``; returns how many."""
        ...


@dataclass(frozen=True, slots=True)
class IngestReport:
    """One source's result, as the CLI and the scheduler report it."""

    label: str
    outcome: FetchOutcome
    result: IngestResult
    embedded: int = 0  # papers given a vector after storing them
    embed_error: str | None = None  # why that failed (they are embedded later, on demand)

    @property
    def verdict(self) -> Verdict:
        return self.outcome.verdict


def plan_batch(outcome: FetchOutcome) -> IngestBatch:
    """What to write for one fetch. Only an ``ok`` fetch touches papers and observations."""
    fetch = FetchRecord(
        source=outcome.view,
        period=outcome.period,
        url=outcome.url,
        verdict=outcome.verdict,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        path=outcome.path,
        status_code=outcome.status_code,
        paper_count=len(outcome.papers),
        error=outcome.error,
        error_kind=outcome.error_kind,
        requests=outcome.requests,
        etag=outcome.validators.etag,
        last_modified=outcome.validators.last_modified,
    )
    if outcome.verdict is not Verdict.OK:
        return IngestBatch(fetch=fetch)
    ranked = rank(outcome.view, outcome.papers)
    seen = outcome.finished_at
    return IngestBatch(
        fetch=fetch,
        papers=tuple(PaperUpsert(p, seen) for p in ranked),
        observations=tuple(
            ObservationUpsert(
                arxiv_id=p.arxiv_id,
                view=outcome.view,
                period=outcome.period,
                upvotes=p.upvotes,
                rank=position,
                seen_at=seen,
            )
            for position, p in enumerate(ranked, start=1)
        ),
    )


def unstored(outcome: FetchOutcome, error: Exception, now: datetime) -> FetchOutcome:
    """The broken outcome recorded when the store refused what a fetch found."""
    problem = (
        error.message if isinstance(error, PaperboyError) else f"{type(error).__name__}: {error}"
    )
    return replace(
        outcome,
        verdict=Verdict.BROKEN,
        papers=(),
        finished_at=now,
        error=clip(f"the papers could not be stored ({problem})", 500),
        error_kind="store",
        validators=Validators(),  # never let a later conditional GET skip what was lost
    )


def _store_error(error: Exception) -> StoreError:
    if isinstance(error, StoreError):
        return error
    return StoreError(
        f"database write failed: {type(error).__name__}: {error}",
        hint="nothing from this fetch was kept; check the database and run again",
    )


def rank(view: View, papers: Iterable[ScrapedPaper]) -> list[ScrapedPaper]:
    """Deduplicated by arXiv id (first wins), then in the list's own order of merit."""
    unique = list({p.arxiv_id: p for p in reversed(list(papers))}.values())[::-1]
    if view in _UPVOTE_RANKED:
        unique.sort(key=lambda p: -p.upvotes)  # stable: ties keep the page's order
    return unique


class Ingestor:
    """Runs sources through the fetcher into the store; a broken source never stops the rest."""

    def __init__(
        self,
        fetcher: Fetcher,
        store: IngestStore,
        clock: Clock,
        *,
        embedding: PaperEmbedding | None = None,
    ) -> None:
        self._fetcher, self._store, self._clock = fetcher, store, clock
        self._embedding = embedding

    def run(self, source: Source) -> IngestReport:
        outcome = self._fetcher.fetch(source, self._validators(source))
        try:
            result = self._store.ingest(plan_batch(outcome))
        except Exception as e:  # one source's papers the store refused; the rest of the run goes on
            log.exception("storing %s failed", source.label)
            outcome = unstored(outcome, e, self._clock())
            try:
                result = self._store.ingest(plan_batch(outcome))
            except Exception:
                raise _store_error(e) from e  # the database itself is gone: nothing to record
        log.info(
            "fetched %s: %s, %d papers, %d new",
            source.label,
            outcome.verdict.value,
            len(outcome.papers),
            result.new_papers,
        )
        embedded, problem = self._embed(outcome)
        return IngestReport(
            label=source.label,
            outcome=outcome,
            result=result,
            embedded=embedded,
            embed_error=problem,
        )

    def _embed(self, outcome: FetchOutcome) -> tuple[int, str | None]:
        """Vectors for what was stored. A failure (the model, the disk) never fails the fetch:
        the papers are stored, and whoever needs their vectors computes them then."""
        if self._embedding is None or outcome.verdict is not Verdict.OK:
            return 0, None
        try:
            return self._embedding.after_ingest([p.arxiv_id for p in outcome.papers]), None
        except Exception as e:
            log.warning("embedding the papers of %s failed", outcome.url, exc_info=True)
            problem = e.message if isinstance(e, PaperboyError) else f"{type(e).__name__}: {e}"
            return 0, clip(problem, 500)

    def _validators(self, source: Source) -> Validators | None:
        """Every list is asked conditionally, with the validators of its own API URL: the
        latest day and trending are filed under a period only the answer tells, and the latest
        list and a dated one may share a day but not their answers."""
        return self._store.validators_for(source.view.value, self._fetcher.api_url(source))

    def run_all(
        self,
        sources: Iterable[Source],
        progress: Callable[[IngestReport], None] | None = None,
    ) -> list[IngestReport]:
        reports = []
        for source in sources:
            report = self.run(source)
            reports.append(report)
            if progress is not None:
                progress(report)
        return reports
