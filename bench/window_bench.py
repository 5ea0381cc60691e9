"""Where each subscriber's previous digest stopped (Ledger.window_ends), read on every dispatch,
with N subscribers x D kept digests each: the time of one full read without and with the index
on digests(subscriber_id, window_end) (no migration has it yet: made here), in the same run;
and the query plans of that read and of the claim (the queries that filter on
deliveries.next_attempt_at).

    python bench/window_bench.py [subscribers] [digests] [postgresql://...]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from store.engine import make_engine, upgrade  # noqa: E402
from store.ledger import Ledger  # noqa: E402
from store.tables import DELIVERIES, DIGESTS, SUBSCRIBERS, WAITING  # noqa: E402

START = datetime(2026, 6, 1, 8, tzinfo=UTC)
INDEX = "ix_digests_subscriber_window"


def fill(engine: Engine, subscribers: int, digests: int) -> list[int]:
    people = [
        {
            "email": f"reader{i}@example.org",
            "link_key": f"key{i:029d}",
            "status": "active",
            "time_zone": "Europe/London",
            "send_hour": 8,
            "send_minute": 0,
            "frequency": "daily",
            "weekday": 0,
            "max_papers": 20,
            "send_empty": False,
            "created_at": START,
            "updated_at": START,
        }
        for i in range(subscribers)
    ]
    with engine.begin() as connection:
        ids = list(
            connection.execute(insert(SUBSCRIBERS).returning(SUBSCRIBERS.c.id), people).scalars()
        )
    for day in range(digests):  # one day's digests per transaction, in the order they come
        at = START + timedelta(days=day)
        rows = [
            {
                "subscriber_id": sid,
                "period": at.date().isoformat(),
                "kind": "papers",
                "window_start": at - timedelta(days=1),
                "window_end": at,
                "paper_ids": [f"2606.{k:05d}" for k in range(20)],
                "shown": 20,
                "subject": "Paperboy: 20 new papers",
                "message_id": f"<{sid}.{day}@paperboy.example.org>",
                "created_at": at,
            }
            for sid in ids
        ]
        with engine.begin() as connection:
            digest_ids = connection.execute(insert(DIGESTS).returning(DIGESTS.c.id), rows).scalars()
            waiting = day == digests - 1  # the last day's still to send
            connection.execute(
                insert(DELIVERIES),
                [
                    {
                        "digest_id": digest_id,
                        "recipient": "r@example.org",
                        "state": "pending" if waiting else "sent",
                        "attempts": 0 if waiting else 1,
                        "next_attempt_at": at,
                        "deadline": at + timedelta(days=1),
                        "sent_at": None if waiting else at,
                        "updated_at": at,
                    }
                    for digest_id in list(digest_ids)
                ],
            )
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return ids


def timed(ledger: Ledger, ids: list[int], runs: int = 5) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        found = len(ledger.window_ends(ids))
        times.append(time.perf_counter() - start)
    return statistics.median(times), found


def plans(engine: Engine, ids: list[int]) -> None:
    now = START + timedelta(days=40)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        ends = (
            "SELECT subscriber_id, max(window_end) FROM digests WHERE subscriber_id IN "  # noqa: S608 (ints)
            f"({', '.join(str(i) for i in ids[:500])}) GROUP BY subscriber_id"
        )
        due = (
            "SELECT id FROM deliveries "  # noqa: S608 (constants only)
            + ("INDEXED BY ix_deliveries_due " if sqlite else "")
            + f"WHERE {WAITING} AND next_attempt_at <= :now ORDER BY next_attempt_at, id"
            + " LIMIT :limit"
            + ("" if sqlite else " FOR UPDATE SKIP LOCKED")
        )
        claim = (
            "UPDATE deliveries SET state = 'sending' WHERE id IN (1, 2, 3)"  # noqa: S608
            f" AND {WAITING} AND next_attempt_at <= :now"
        )
        for name, sql in (("window_ends", ends), ("due", due), ("claim", claim)):
            params = {"now": now, "limit": 10}
            rows = connection.execute(text(explain + sql), params).all()
            print(f"  plan of {name}:")
            for row in rows:
                print(("    " + " | ".join(str(v) for v in row))[:150])


def bench(url: str, subscribers: int, digests: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    start = time.perf_counter()
    ids = fill(engine, subscribers, digests)
    took = time.perf_counter() - start
    print(f"{engine.dialect.name}: {subscribers} x {digests} digests in {took:.1f} s")
    ledger = Ledger(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP INDEX IF EXISTS {INDEX}"))
    before, found = timed(ledger, ids)
    print(f"  window_ends without {INDEX}: {before * 1000:.0f} ms ({found} subscribers)")
    with engine.begin() as connection:
        connection.execute(text(f"CREATE INDEX {INDEX} ON digests (subscriber_id, window_end)"))
        connection.execute(text("ANALYZE"))
    after, found = timed(ledger, ids)
    print(f"  window_ends with {INDEX}: {after * 1000:.0f} ms ({found}); {before / after:.1f}x")
    plans(engine, ids)
    engine.dispose()


def main() -> None:
    subscribers = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    digests = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with tempfile.TemporaryDirectory() as folder:
        bench(f"sqlite:///{Path(folder) / 'window.db'}", subscribers, digests)
    if len(sys.argv) > 3:  # a database of its own: a fresh schema, dropped afterwards
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(sys.argv[3])
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            bench(f"{sys.argv[3]}?options=-csearch_path%3D{schema}", subscribers, digests)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


if __name__ == "__main__":
    main()
