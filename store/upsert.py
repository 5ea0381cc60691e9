"""INSERT … ON CONFLICT statements for SQLite and PostgreSQL, one executemany per batch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, case, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from store.tables import ObservationRow, PaperRow

PAPERS: Table = PaperRow.__table__  # type: ignore[attr-defined]
OBSERVATIONS: Table = ObservationRow.__table__  # type: ignore[attr-defined]

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
_NON_EMPTY_LISTS = ("authors", "ai_keywords", "media_urls")


def _insert(connection: Connection, table: Table) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert_papers(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert new papers; refresh mutable fields of known ones; never move first_seen_at."""
    if not rows:
        return
    stmt = _insert(connection, PAPERS)
    new = stmt.excluded
    updates: dict[str, Any] = {name: new[name] for name in _ALWAYS}
    updates |= {name: func.coalesce(new[name], PAPERS.c[name]) for name in _KEEP_IF_MISSING}
    # A shorter list (the cards show five authors) never replaces a fuller one.
    updates |= {name: _fuller(name, new) for name in _NON_EMPTY_LISTS}
    updates["author_count"] = _greatest(connection, new["author_count"], PAPERS.c.author_count)
    connection.execute(stmt.on_conflict_do_update(index_elements=["arxiv_id"], set_=updates), rows)


def upsert_observations(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """One row per (paper, view, period) holding its latest upvotes and rank."""
    if not rows:
        return
    stmt = _insert(connection, OBSERVATIONS)
    new = stmt.excluded
    updates = {name: new[name] for name in ("upvotes", "rank", "last_seen_at", "fetch_id")}
    connection.execute(
        stmt.on_conflict_do_update(index_elements=["arxiv_id", "view", "period"], set_=updates),
        rows,
    )


def _greatest(connection: Connection, a: Any, b: Any) -> Any:
    return func.greatest(a, b) if connection.dialect.name == "postgresql" else func.max(a, b)


def _fuller(name: str, new: Any) -> Any:
    # json_array_length exists on SQLite (JSON1) and on PostgreSQL's json type alike.
    longer = func.json_array_length(new[name]) >= func.json_array_length(PAPERS.c[name])
    return case((longer, new[name]), else_=PAPERS.c[name])
