"""Ingest 100k synthetic papers (50% duplicates) through the repository, on SQLite and PostgreSQL.

Each of 100 fetches carries 1,000 papers; half of all rows repeat a paper an earlier fetch stored
(with more upvotes), so the run exercises both the insert and the update side of the upsert.
The baseline, measured in the same run, is the naive way: one transaction per paper.
Target (issue 3): >= 50k rows/s on SQLite; PostgreSQL reported.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.schema import CreateSchema, DropSchema

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.ingest import plan_batch  # noqa: E402
from scraper.models import FetchOutcome, ParsePath, ScrapedPaper, Verdict, View  # noqa: E402
from store.engine import make_engine, sqlite_pragmas, upgrade  # noqa: E402
from store.repository import SqlStore  # noqa: E402
from store.upsert import upsert_observations, upsert_papers  # noqa: E402

ROWS = 100_000
PER_FETCH = 1_000
START = datetime(2026, 7, 1, tzinfo=UTC)
POSTGRES = os.environ.get(
    "PAPERBOY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def synthetic(n: int) -> list[ScrapedPaper]:
    """n rows; every second row repeats an earlier paper (50% duplicates)."""
    rng = random.Random(7)
    rows: list[ScrapedPaper] = []
    for i in range(n):
        if i % 2 and rows:
            rows.append(dataclasses.replace(rng.choice(rows), upvotes=rng.randint(0, 500)))
            continue
        k = len(rows)
        rows.append(
            ScrapedPaper(
                arxiv_id=f"26{k // 100000 % 100:02d}.{k % 100000:05d}",
                title=f"A synthetic paper about topic {k} and variational inference",
                upvotes=rng.randint(0, 300),
                summary="We study " + " ".join(f"word{j}" for j in range(rng.randint(80, 160))),
                authors=tuple(f"Author {k}-{j}" for j in range(rng.randint(1, 12))),
                author_count=6,
                organization="Some Lab" if k % 3 == 0 else None,
                published_at=START,
                submitted_on_daily_at=START,
                submitter="someone",
                num_comments=rng.randint(0, 5),
                github_repo=f"https://github.com/x/repo{k}" if k % 2 else None,
                github_stars=rng.randint(0, 1000) if k % 2 else None,
                ai_summary="An AI summary of the paper.",
                ai_keywords=("variational inference", "diffusion", "benchmark"),
                thumbnail=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{k}.png",
            )
        )
    return rows


def outcomes(rows: list[ScrapedPaper]) -> list[FetchOutcome]:
    result = []
    for f, start in enumerate(range(0, len(rows), PER_FETCH)):
        chunk = {p.arxiv_id: p for p in rows[start : start + PER_FETCH]}
        at = START + timedelta(minutes=f)
        result.append(
            FetchOutcome(
                view=View.DAY,
                period=f"2026-07-{f % 28 + 1:02d}",
                url="https://huggingface.co/api/daily_papers",
                verdict=Verdict.OK,
                started_at=at,
                finished_at=at,
                papers=tuple(chunk.values()),
                path=ParsePath.API,
                status_code=200,
            )
        )
    return result


def run(url: str, fetches: list[FetchOutcome]) -> tuple[float, int]:
    engine = make_engine(url)
    upgrade(engine)
    store = SqlStore(engine)
    rows = sum(len(o.papers) for o in fetches)
    start = time.perf_counter()
    for o in fetches:
        store.ingest(plan_batch(o))
    elapsed = time.perf_counter() - start
    stored = store.count_papers()
    engine.dispose()
    return rows / elapsed, stored


def baseline(url: str, fetches: list[FetchOutcome], limit: int) -> float:
    """One transaction per paper (what the design forbids), on the first ``limit`` rows."""
    engine = make_engine(url)
    upgrade(engine)
    papers = plan_batch(fetches[0]).papers[:limit]
    start = time.perf_counter()
    for paper in papers:
        with engine.begin() as connection:
            upsert_papers(connection, [paper])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return len(papers) / elapsed


@contextmanager
def postgres_schema() -> Iterator[str | None]:
    """The URL of a fresh schema on PostgreSQL for one run (None when none is reachable),
    dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(POSTGRES)
        with admin.begin() as connection:
            connection.execute(CreateSchema(schema))
        admin.dispose()
    except Exception as e:
        print(f"PostgreSQL: skipped ({type(e).__name__}: {e})")
        yield None
        return
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        admin = create_engine(POSTGRES)
        with admin.begin() as connection:
            connection.execute(DropSchema(schema, cascade=True))
        admin.dispose()


def floor(
    path: str, fetches: list[FetchOutcome], *, in_memory: bool = False, bare: bool = False
) -> float:
    """The same rows through sqlite3 directly: the upsert SQL, values prepared beforehand.

    Only SQLite's own work and the commits are timed: no Python conversion, no SQLAlchemy.
    ``in_memory`` copies the empty schema into a ``:memory:`` database: no disk at all.
    ``bare`` goes further, in memory: the same values appended with a plain INSERT to tables with
    no key, no index, no constraint and no conflict handling, the least any store of these rows
    must do through Python's sqlite3.
    """
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    captured: list[tuple[str, list[Any]]] = []
    with engine.connect() as connection:
        original = connection.exec_driver_sql

        def capture(sql: str, params: Any = None, *_: Any) -> Any:
            if sql.startswith("INSERT INTO papers") or sql.startswith("INSERT INTO observations"):
                captured.append((sql, params))
                return None
            return original(sql, params)

        connection.exec_driver_sql = capture  # type: ignore[method-assign]
        for o in fetches:
            batch = plan_batch(o)
            upsert_papers(connection, batch.papers)
            upsert_observations(connection, batch.observations, None)
        connection.rollback()
    engine.dispose()
    if bare:
        return _bare(captured, sum(len(o.papers) for o in fetches))
    if in_memory:
        db = sqlite3.connect(":memory:")
        with sqlite3.connect(path) as empty:
            empty.backup(db)
    else:
        db = sqlite3.connect(path)
    sqlite_pragmas(db)  # the engine's own settings: WAL, synchronous=NORMAL, cache, checkpoints
    return sum(len(o.papers) for o in fetches) / _replay(db, captured)


def _bare(captured: list[tuple[str, list[Any]]], rows: int) -> float:
    db = sqlite3.connect(":memory:")
    sqlite_pragmas(db)
    plain = []
    for name, (_, params) in zip(("papers", "observations"), captured[:2], strict=True):
        width = len(params[0])
        db.execute(f"CREATE TABLE {name} ({', '.join(f'c{i}' for i in range(width))})")
        plain.append(f"INSERT INTO {name} VALUES ({', '.join('?' * width)})")  # noqa: S608 (constants only)
    appends = [(plain[i % 2], params) for i, (_, params) in enumerate(captured)]
    return rows / _replay(db, appends)


def _replay(db: sqlite3.Connection, statements: list[tuple[str, list[Any]]]) -> float:
    """Run the (papers, observations) statement pairs, one transaction per fetch; seconds taken."""
    start = time.perf_counter()
    for i in range(0, len(statements), 2):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(*statements[i])
        db.executemany(*statements[i + 1])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def without_abstracts(fetches: list[FetchOutcome]) -> list[FetchOutcome]:
    """The same rows as the trending cards give them: no abstract, no AI summary."""
    return [
        dataclasses.replace(
            o,
            papers=tuple(dataclasses.replace(p, summary=None, ai_summary=None) for p in o.papers),
        )
        for o in fetches
    ]


def main() -> None:
    rows = synthetic(ROWS)
    fetches = outcomes(rows)
    total = sum(len(o.papers) for o in fetches)
    print(f"{ROWS:,} synthetic rows, 50% duplicates; {total:,} after in-fetch dedup,")
    print(f"{len(fetches)} fetches of {PER_FETCH}, one transaction per fetch")
    with tempfile.TemporaryDirectory() as tmp:
        full, stored = run(f"sqlite:///{tmp}/full.db", fetches)
        short, _ = run(f"sqlite:///{tmp}/short.db", without_abstracts(fetches))
        naive = baseline(f"sqlite:///{tmp}/naive.db", fetches, 1000)
        raw = floor(f"{tmp}/floor.db", fetches)
        ram = floor(f"{tmp}/memory.db", fetches, in_memory=True)
        bare = floor(f"{tmp}/bare.db", fetches, bare=True)
    print(f"SQLite, rows with ~1 KB abstracts: {full:9,.0f} rows/s ({stored:,} papers stored)")
    print(f"SQLite, rows without abstracts:    {short:9,.0f} rows/s")
    print(f"SQLite, one transaction per row:   {naive:9,.0f} rows/s (baseline)")
    print(f"SQLite floor, sqlite3 alone:       {raw:9,.0f} rows/s (same SQL and rows, no Python)")
    print(f"SQLite floor in memory, no disk:   {ram:9,.0f} rows/s (the same, :memory:)")
    print(f"bare floor, plain appends:         {bare:9,.0f} rows/s (no key, index or upsert)")
    print(f"ratio to baseline: {full / naive:.1f}x; share of the floor: {full / raw:.0%}")
    print("target (issue 3): >= 50,000 rows/s on SQLite")
    with postgres_schema() as url:
        if url is not None:
            rate, stored = run(url, fetches)
            print(f"PostgreSQL, rows with abstracts:   {rate:9,.0f} rows/s ({stored:,} stored)")


if __name__ == "__main__":
    main()
