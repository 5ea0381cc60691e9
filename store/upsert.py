"""INSERT … ON CONFLICT for SQLite and PostgreSQL, one executemany per batch.

The statements are built with SQLAlchemy (so each dialect gets its own correct SQL), compiled once,
and executed with pre-converted values through the driver's executemany: per-row type processing
in SQLAlchemy was most of the ingest time (see bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Table, case, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from scraper.models import ScrapedPaper
from store.batching import compiled_once
from store.columns import UTCDateTime, driver_instant
from store.tables import OBSERVATIONS, PAPERS
from store.types import ObservationUpsert, PaperUpsert

# Fields that follow the latest fetch; a fetch that lacks one (the search API has no AI summary,
# the DOM fallback no abstract) keeps what an earlier fetch stored.
_KEEP_IF_MISSING = (
    "summary",
    "organization",
    "organization_slug",
    "published_at",
    "submitted_on_daily_at",
    "submitter",
    "num_comments",
    "github_repo",
    "github_stars",
    "project_page",
    "ai_summary",
    "thumbnail",
)
_ALWAYS = ("title", "upvotes", "last_seen_at")
_LISTS = ("authors", "ai_keywords", "media_urls")

_SCRAPED_FIELDS = tuple(f.name for f in fields(ScrapedPaper))
_scraped = attrgetter(*_SCRAPED_FIELDS)
PAPER_COLUMNS = (*_SCRAPED_FIELDS, "first_seen_at", "last_seen_at")
OBSERVATION_COLUMNS = (
    "arxiv_id",
    "view",
    "period",
    "upvotes",
    "rank",
    "first_seen_at",
    "last_seen_at",
    "fetch_id",
)


def upsert_papers(
    connection: Connection, papers: Sequence[PaperUpsert], *, second_opinion: bool = False
) -> None:
    """Insert new papers; refresh mutable fields of known ones; never move first_seen_at.

    A ``second_opinion`` (the third-party feed) adds papers and fills what is missing, but never
    replaces what is known: no title, abstract or authors of Hugging Face's rewritten, and
    upvotes only ever raised (its snapshot may be days older than the site's count).
    """
    if papers:
        build, key = (
            (_second_opinion_statement, "papers-second")
            if second_opinion
            else (_papers_statement, PAPERS.name)
        )
        prepared = _prepare(connection, PAPERS, build, PAPER_COLUMNS, key)
        _execute(connection, prepared, [(*_scraped(u.paper), u.seen_at, u.seen_at) for u in papers])


def upsert_observations(
    connection: Connection, observations: Sequence[ObservationUpsert], fetch_id: int | None
) -> None:
    """One row per (paper, view, period) holding its latest upvotes and rank."""
    if observations:
        prepared = _prepare(connection, OBSERVATIONS, _observations_statement, OBSERVATION_COLUMNS)
        rows = [
            (o.arxiv_id, o.view, o.period, o.upvotes, o.rank, o.seen_at, o.seen_at, fetch_id)
            for o in observations
        ]
        _execute(connection, prepared, rows)


def _papers_statement(connection: Connection) -> Any:
    stmt = _insert(connection, PAPERS)
    new = stmt.excluded
    updates: dict[str, Any] = {name: new[name] for name in _ALWAYS}
    updates |= {name: func.coalesce(new[name], PAPERS.c[name]) for name in _KEEP_IF_MISSING}
    # A shorter list (the cards show five authors) never replaces a fuller one.
    updates |= {name: _fuller(name, new) for name in _LISTS}
    greatest = func.greatest if connection.dialect.name == "postgresql" else func.max
    updates["author_count"] = greatest(new["author_count"], PAPERS.c.author_count)
    return stmt.on_conflict_do_update(index_elements=["arxiv_id"], set_=updates)


def _second_opinion_statement(connection: Connection) -> Any:
    stmt = _insert(connection, PAPERS)
    new = stmt.excluded
    kept = (*_ALWAYS, *_KEEP_IF_MISSING, *_LISTS, "author_count")
    updates: dict[str, Any] = {
        name: func.coalesce(PAPERS.c[name], new[name]) for name in kept if name != "last_seen_at"
    }
    updates |= {name: _fuller_only_if_empty(name, new) for name in _LISTS}
    greatest = func.greatest if connection.dialect.name == "postgresql" else func.max
    updates["upvotes"] = greatest(new["upvotes"], PAPERS.c.upvotes)
    updates["last_seen_at"] = new["last_seen_at"]
    return stmt.on_conflict_do_update(index_elements=["arxiv_id"], set_=updates)


def _fuller_only_if_empty(name: str, new: Any) -> Any:
    empty = func.json_array_length(PAPERS.c[name]) == literal_column("0")  # no bound value
    return case((empty, new[name]), else_=PAPERS.c[name])


def _observations_statement(connection: Connection) -> Any:
    stmt = _insert(connection, OBSERVATIONS)
    new = stmt.excluded
    updates = {name: new[name] for name in ("upvotes", "rank", "last_seen_at", "fetch_id")}
    return stmt.on_conflict_do_update(index_elements=["arxiv_id", "view", "period"], set_=updates)


def _insert(connection: Connection, table: Table) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _fuller(name: str, new: Any) -> Any:
    # json_array_length exists on SQLite (JSON1) and on PostgreSQL's json type alike.
    longer = func.json_array_length(new[name]) >= func.json_array_length(PAPERS.c[name])
    return case((longer, new[name]), else_=PAPERS.c[name])


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A compiled upsert and how to turn a row (a tuple in column order) into driver values."""

    sql: str
    columns: tuple[str, ...]
    order: tuple[int, ...] | None  # positional drivers: column index of each placeholder
    reorder: bool  # False when the placeholders already follow the column order
    datetimes: tuple[int, ...]  # column indexes of UTCDateTime columns
    lists: tuple[int, ...]  # column indexes of JSON list columns


def _prepare(
    connection: Connection,
    table: Table,
    build: Any,
    columns: tuple[str, ...],
    key: str | None = None,
) -> _Prepared:
    compiled = compiled_once(
        connection, ("upsert", key or table.name), lambda: build(connection), column_keys=columns
    )
    order = (
        tuple(columns.index(name) for name in compiled.names)
        if compiled.names is not None
        else None
    )
    identity = order == tuple(range(len(columns)))
    return _Prepared(
        sql=compiled.sql,
        columns=columns,
        order=order,
        reorder=order is not None and not identity,
        datetimes=_positions(table, columns, UTCDateTime),
        lists=_positions(table, columns, JSON),
    )


def _positions(table: Table, names: tuple[str, ...], kind: type) -> tuple[int, ...]:
    return tuple(i for i, name in enumerate(names) if isinstance(table.c[name].type, kind))


def _execute(connection: Connection, prepared: _Prepared, rows: list[tuple[Any, ...]]) -> None:
    sqlite_style = connection.dialect.name == "sqlite"
    instants: dict[datetime, Any] = {}  # a batch repeats the same few instants many times
    params: list[Any] = []
    for row in rows:
        values = list(row)
        for i in prepared.datetimes:
            value = values[i]
            if value is not None:
                converted = instants.get(value)
                if converted is None:
                    converted = instants[value] = driver_instant(value, sqlite_style)
                values[i] = converted
        for i in prepared.lists:
            values[i] = orjson.dumps(values[i]).decode() if values[i] else "[]"
        if prepared.order is None:
            params.append(dict(zip(prepared.columns, values, strict=True)))
        elif prepared.reorder:
            params.append(tuple([values[i] for i in prepared.order]))
        else:
            params.append(tuple(values))
    connection.exec_driver_sql(prepared.sql, params)
