"""The store on SQLite and PostgreSQL: dedup, observations, updates, atomicity, migrations."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from datetime import UTC, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from paperboy.errors import StoreError
from scraper.models import Verdict, View
from store.engine import current_revision, head_revision, make_engine, upgrade
from store.repository import SqlStore
from store.tables import METADATA
from store.types import PaperFilter
from tests.builders import api_url, batch, captured, with_upvotes
from tests.conftest import PINNED

MAY_8 = captured("hf-api-daily-papers-2026-05-08.json")
MARCH_4 = captured("hf-api-daily-papers-2025-03-04.reserialized.json")


def test_migrations_create_exactly_the_models(database_url: str) -> None:
    engine = make_engine(database_url)  # as the ``store`` fixture builds it
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), METADATA)
    finally:
        engine.dispose()
    assert diff == []


def test_same_paper_in_day_week_and_trending_is_one_row_three_observations(
    store: SqlStore,
) -> None:
    store.ingest(batch(MAY_8, view=View.DAY, period="2026-05-08"))
    store.ingest(batch(with_upvotes(MAY_8, 5), view=View.WEEK, period="2026-W19"))
    result = store.ingest(
        batch(with_upvotes(MAY_8[:10], 9), view=View.TRENDING, period="2026-05-09")
    )
    assert result.new_papers == 0
    assert result.updated_papers == 10
    assert store.count_papers() == 37
    assert store.count_observations() == 37 + 37 + 10
    top = MAY_8[0].arxiv_id
    seen = {(o.view, o.period): o.upvotes for o in store.observations_of(top)}
    assert seen == {
        ("day", "2026-05-08"): MAY_8[0].upvotes,
        ("week", "2026-W19"): MAY_8[0].upvotes + 5,
        ("trending", "2026-05-09"): MAY_8[0].upvotes + 9,
    }


def test_trended_in_a_week_is_a_query(store: SqlStore) -> None:
    store.ingest(batch(MAY_8[:5], view=View.WEEK, period="2026-W19"))
    store.ingest(batch(MARCH_4, view=View.DAY, period="2025-03-04"))
    in_week = store.list_papers(PaperFilter(view="week", period="2026-W19", limit=100))
    assert {p.arxiv_id for p in in_week} == {p.arxiv_id for p in MAY_8[:5]}
    on_day = store.list_papers(PaperFilter(view="day", period="2025-03-04", limit=100))
    assert len(on_day) == 13


def test_refetch_with_more_upvotes_updates_and_never_duplicates(store: SqlStore) -> None:
    first = store.ingest(batch(MAY_8, at=PINNED))
    later = PINNED + timedelta(hours=3)
    second = store.ingest(batch(with_upvotes(MAY_8, 4), at=later))
    assert (first.new_papers, second.new_papers, second.updated_papers) == (37, 0, 37)
    assert store.count_papers() == 37
    assert store.count_observations() == 37
    paper = store.get_paper(MAY_8[3].arxiv_id)
    assert paper is not None
    assert paper.upvotes == MAY_8[3].upvotes + 4
    assert paper.first_seen_at == PINNED + timedelta(milliseconds=120)  # never moves
    assert paper.last_seen_at == later + timedelta(milliseconds=120)
    assert paper.first_seen_at.tzinfo is UTC
    (obs,) = store.observations_of(MAY_8[3].arxiv_id)
    assert obs.upvotes == MAY_8[3].upvotes + 4
    assert obs.first_seen_at == PINNED + timedelta(milliseconds=120)


def test_partially_filled_day_then_the_full_day(store: SqlStore) -> None:
    morning = MARCH_4[:8]
    evening = with_upvotes(MARCH_4, 10)
    assert store.ingest(batch(morning, period="2025-03-04")).new_papers == 8
    result = store.ingest(batch(evening, period="2025-03-04", at=PINNED + timedelta(hours=12)))
    assert result.new_papers == 5
    assert result.updated_papers == 8
    ranks = {o.arxiv_id: o.rank for p in MARCH_4 for o in store.observations_of(p.arxiv_id)}
    assert sorted(ranks.values()) == list(range(1, 14))  # re-ranked over the full day


def test_a_fetch_missing_fields_does_not_erase_them(store: SqlStore) -> None:
    full = MAY_8[0]
    assert full.summary
    assert full.ai_summary
    assert len(full.authors) > 5
    card = dataclasses.replace(
        full, summary=None, ai_summary=None, authors=full.authors[:5], upvotes=full.upvotes + 1
    )
    store.ingest(batch((full,)))
    store.ingest(batch((card,), view=View.TRENDING, period="2026-05-09"))
    paper = store.get_paper(full.arxiv_id)
    assert paper is not None
    assert paper.summary == full.summary
    assert paper.ai_summary == full.ai_summary
    assert paper.authors == full.authors
    assert paper.upvotes == full.upvotes + 1


def test_broken_fetch_stores_only_its_fetch_row(store: SqlStore) -> None:
    result = store.ingest(
        batch(MAY_8, verdict=Verdict.BROKEN, error="page: 31 cards on the page but no paper")
    )
    assert result.new_papers == 0
    assert store.count_papers() == 0
    assert store.count_observations() == 0
    (row,) = store.list_fetches()
    assert row.id == result.fetch_id
    assert row.verdict == "broken"
    assert row.error == "page: 31 cards on the page but no paper"
    assert row.duration_ms == 120


def test_a_failing_write_keeps_nothing(store: SqlStore) -> None:
    bad = dataclasses.replace(MAY_8[5], title=None)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="database write failed"):
        store.ingest(batch((*MAY_8[:5], bad)))
    assert store.count_papers() == 0
    assert store.list_fetches() == []


def test_validators_come_only_from_good_fetches(store: SqlStore) -> None:
    good = dataclasses.replace(batch(MAY_8).fetch, etag='"v1"', path="api")
    store.ingest(dataclasses.replace(batch(MAY_8), fetch=good))
    broken = dataclasses.replace(batch((), verdict=Verdict.BROKEN).fetch, etag='"v2"', path="api")
    store.ingest(dataclasses.replace(batch((), verdict=Verdict.BROKEN), fetch=broken))
    validators = store.validators_for("day", api_url(View.DAY, "2026-05-08"))
    assert validators is not None
    assert validators.etag == '"v1"'
    assert validators.period == "2026-05-08"
    assert store.validators_for("day", api_url(View.DAY, "2026-05-09")) is None


def test_list_papers_filters(store: SqlStore) -> None:
    store.ingest(batch(MAY_8))
    by_text = store.list_papers(PaperFilter(text="AGENTIC search", limit=100))
    assert by_text
    assert all("agentic search" in (p.title + " " + (p.summary or "")).lower() for p in by_text)
    assert store.list_papers(PaperFilter(text="100%_", limit=100)) == []
    popular = store.list_papers(PaperFilter(min_upvotes=50, limit=100))
    assert {p.arxiv_id for p in popular} == {p.arxiv_id for p in MAY_8 if p.upvotes >= 50}
    assert [p.upvotes for p in popular] == sorted((p.upvotes for p in popular), reverse=True)
    assert store.list_papers(PaperFilter(seen_since=PINNED + timedelta(days=1))) == []


def test_many_papers_in_one_fetch(store: SqlStore) -> None:
    many = tuple(
        dataclasses.replace(MAY_8[i % 37], arxiv_id=f"2605.{20000 + i}") for i in range(1200)
    )
    result = store.ingest(batch(many))
    assert result.new_papers == 1200
    again = store.ingest(batch(many))
    assert (again.new_papers, again.updated_papers) == (0, 1200)
    assert store.count_papers() == 1200


def test_upgrading_an_older_schema_keeps_the_papers(database_url: str) -> None:
    from store.engine import make_engine, upgrade

    engine = make_engine(database_url)
    upgrade(engine, "0001")
    SqlStore(engine).ingest(batch(MAY_8))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert SqlStore(engine).count_papers() == 37
    engine.dispose()


def test_sqlite_reads_do_not_wait_for_a_writer(sqlite_store: SqlStore, sqlite_url: str) -> None:
    """A read runs on its WAL snapshot while another process holds the write lock.

    (Reads used to begin IMMEDIATE like writes: they queued behind every writer, up to the
    30-second busy timeout.)
    """
    sqlite_store.ingest(batch(MAY_8, view=View.DAY, period="2026-05-08"))
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM observations")  # not committed: the reader must not see it
    counts: list[int] = []
    reader = threading.Thread(
        target=lambda: counts.extend(
            [sqlite_store.count_papers(), len(sqlite_store.observations_of(MAY_8[0].arxiv_id))]
        ),
        daemon=True,
    )
    try:
        reader.start()
        reader.join(timeout=10)  # the busy timeout is 30 s: waiting for the lock would show
        assert not reader.is_alive(), "the read waited for the write lock"
        assert counts == [37, 1]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        reader.join()


def test_sqlite_writers_in_one_process_take_turns_without_sleeping(sqlite_store: SqlStore) -> None:
    """Threads writing at once all succeed (they queue on the engine's lock, then SQLite's)."""
    errors: list[BaseException] = []

    def write(day: int) -> None:
        try:
            sqlite_store.ingest(
                batch(with_upvotes(MAY_8, day), view=View.DAY, period=f"2026-05-{day:02d}")
            )
        except BaseException as e:  # collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=write, args=(day,)) for day in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sqlite_store.count_papers() == 37
    assert sqlite_store.count_observations() == 37 * 20
