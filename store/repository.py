"""The repository: writes one fetch per transaction and hands out frozen records, never rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, desc, func, or_, select
from sqlalchemy.engine import Connection

from scraper.models import CONDITIONAL_PATHS, PARSED_VERDICTS, ParsePath, Validators, Verdict, View
from store.base import Repository
from store.batching import chunks
from store.tables import FETCHES, OBSERVATIONS, PAPERS
from store.types import (
    Fetch,
    IngestBatch,
    IngestResult,
    Observation,
    Paper,
    PaperFilter,
)
from store.upsert import upsert_observations, upsert_papers

_LOOKUP_CHUNK = 500  # ids per IN (...) clause, well under every driver's parameter limit


class SqlStore(Repository):
    """Papers, observations and fetches on SQLite or PostgreSQL."""

    _write_hint = "nothing from this fetch was kept; check the database and run again"
    _integrity_passes = False  # a fetch that breaks a constraint is a store failure

    # -- writes ------------------------------------------------------------------------------

    def ingest(self, batch: IngestBatch) -> IngestResult:
        """Record the fetch and, if it found papers, upsert them and their observations.

        All in one transaction: a failure keeps nothing of this batch.
        """
        with self._begin() as connection:
            ids = [u.paper.arxiv_id for u in batch.papers]
            known = self._known_ids(connection, ids)
            new_papers = len(set(ids) - known)
            fetch = asdict(batch.fetch)
            fetch["duration_ms"] = round(
                (batch.fetch.finished_at - batch.fetch.started_at).total_seconds() * 1000
            )
            fetch["new_papers"] = new_papers
            fetch_id = connection.execute(
                FETCHES.insert().values(**fetch).returning(FETCHES.c.id)
            ).scalar_one()
            # The feed is a second opinion: it never rewrites what Hugging Face said of a paper.
            second = batch.fetch.source == View.FEED
            upsert_papers(connection, batch.papers, second_opinion=second)
            upsert_observations(connection, batch.observations, fetch_id)
        return IngestResult(
            fetch_id=fetch_id, new_papers=new_papers, updated_papers=len(set(ids) & known)
        )

    def _known_ids(self, connection: Connection, ids: list[str]) -> set[str]:
        known: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for chunk in chunks(unique, _LOOKUP_CHUNK):
            known.update(
                connection.execute(
                    select(PAPERS.c.arxiv_id).where(PAPERS.c.arxiv_id.in_(chunk))
                ).scalars()
            )
        return known

    # -- reads -------------------------------------------------------------------------------

    def validators_for(self, source: str, url: str) -> Validators | None:
        """Cache validators of the latest good API (or feed) fetch of a list, for a conditional GET.

        A list is found by the URL of its API request, the key HTTP scopes validators to: the
        latest day's list and a dated one can be filed under the same day, yet their answers
        (and ETags) are different. The period that fetch was filed under comes along: a 304 is
        that list again.
        """
        query = (
            select(FETCHES.c.etag, FETCHES.c.last_modified, FETCHES.c.period)
            .where(
                FETCHES.c.source == source,
                FETCHES.c.url == url,
                FETCHES.c.path.in_(CONDITIONAL_PATHS),
                FETCHES.c.verdict.in_(PARSED_VERDICTS),
            )
            .order_by(desc(FETCHES.c.id))
            .limit(1)
        )
        row = self._one(query)
        if row is None or not (row.etag or row.last_modified):
            return None
        return Validators(etag=row.etag, last_modified=row.last_modified, period=row.period)

    def get_paper(self, arxiv_id: str) -> Paper | None:
        row = self._one(select(PAPERS).where(PAPERS.c.arxiv_id == arxiv_id))
        return _paper(row._mapping) if row is not None else None

    def papers_by_id(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        """The stored papers among ``arxiv_ids``, in that order (missing ones left out)."""
        found: dict[str, Paper] = {}
        for chunk in chunks(arxiv_ids, 500):
            rows = self._rows(select(PAPERS).where(PAPERS.c.arxiv_id.in_(chunk)))
            found.update((r.arxiv_id, _paper(r._mapping)) for r in rows)
        return [found[i] for i in arxiv_ids if i in found]

    def observations_of(self, arxiv_id: str) -> list[Observation]:
        query = (
            select(OBSERVATIONS)
            .where(OBSERVATIONS.c.arxiv_id == arxiv_id)
            .order_by(OBSERVATIONS.c.first_seen_at, OBSERVATIONS.c.view, OBSERVATIONS.c.period)
        )
        return [_observation(r._mapping) for r in self._rows(query)]

    def list_papers(self, where: PaperFilter) -> list[Paper]:
        query: Select[Any] = select(PAPERS)
        if where.text:
            pattern = f"%{_escape_like(where.text.lower())}%"
            query = query.where(
                or_(
                    func.lower(PAPERS.c.title).like(pattern, escape="\\"),
                    func.lower(PAPERS.c.summary).like(pattern, escape="\\"),
                )
            )
        if where.min_upvotes:
            query = query.where(PAPERS.c.upvotes >= where.min_upvotes)
        if where.seen_since is not None:
            query = query.where(PAPERS.c.first_seen_at >= where.seen_since)
        if where.view is not None or where.period is not None:
            seen = select(OBSERVATIONS.c.arxiv_id)
            if where.view is not None:
                seen = seen.where(OBSERVATIONS.c.view == where.view)
            if where.period is not None:
                seen = seen.where(OBSERVATIONS.c.period == where.period)
            query = query.where(PAPERS.c.arxiv_id.in_(seen))
        query = query.order_by(desc(PAPERS.c.upvotes), PAPERS.c.arxiv_id).limit(where.limit)
        return [_paper(r._mapping) for r in self._rows(query)]

    def papers_seen_between(self, start: datetime, end: datetime) -> list[Paper]:
        """Papers first seen in (start, end]: what digests for that window may contain."""
        query = (
            select(PAPERS)
            .where(PAPERS.c.first_seen_at > start, PAPERS.c.first_seen_at <= end)
            .order_by(PAPERS.c.first_seen_at, PAPERS.c.arxiv_id)
        )
        return [_paper(r._mapping) for r in self._rows(query)]

    def last_fetch(
        self,
        *,
        verdicts: Sequence[Verdict] | None = None,
        source: View | None = None,
        period: str | None = None,
    ) -> Fetch | None:
        """The newest fetch (of a source, with one of the verdicts), if any."""
        query = select(FETCHES).order_by(desc(FETCHES.c.id)).limit(1)
        if verdicts is not None:
            query = query.where(FETCHES.c.verdict.in_(list(verdicts)))
        if source is not None:
            query = query.where(FETCHES.c.source == source)
        if period is not None:
            query = query.where(FETCHES.c.period == period)
        row = self._first(query)
        return _fetch(row) if row is not None else None

    def count_papers(self) -> int:
        return int(self._scalar(select(func.count()).select_from(PAPERS)))

    def count_observations(self) -> int:
        return int(self._scalar(select(func.count()).select_from(OBSERVATIONS)))

    def list_fetches(
        self, *, limit: int = 20, source: View | None = None, verdict: Verdict | None = None
    ) -> list[Fetch]:
        query = select(FETCHES).order_by(desc(FETCHES.c.id)).limit(limit)
        if source is not None:
            query = query.where(FETCHES.c.source == source)
        if verdict is not None:
            query = query.where(FETCHES.c.verdict == verdict)
        return [_fetch(r._mapping) for r in self._rows(query)]

    def _one(self, query: Select[Any]) -> Any:
        return next(iter(self._rows(query)), None)

    def _scalar(self, query: Select[Any]) -> Any:
        return self._rows(query)[0][0]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _tuple(value: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(value or ())


def _paper(m: Any) -> Paper:
    values = dict(m)
    for name in ("authors", "ai_keywords", "media_urls"):
        values[name] = _tuple(values[name])
    return Paper(**values)


def _observation(m: Any) -> Observation:
    values = {k: v for k, v in dict(m).items() if k != "fetch_id"}
    return Observation(**values | {"view": View(values["view"])})


def _fetch(m: Any) -> Fetch:
    values = {k: v for k, v in dict(m).items() if k not in ("etag", "last_modified")}
    values |= {"source": View(values["source"]), "verdict": Verdict(values["verdict"])}
    values["path"] = ParsePath(values["path"]) if values["path"] else None
    return Fetch(**values)


__all__ = ["SqlStore"]
