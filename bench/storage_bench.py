"""Storage that stays flat (issue 15): N subscribers x D daily digests on SQLite.

Each day: the digests are recorded with the ledger's values (one transaction per day here, not
one per digest, to keep the run short), claimed and marked sent through the ledger's sending path
(`claim`, `data_started_many` with the previous message delivered, `sent`), which drops the
message bytes. Then: the file size, the bytes per digest (pages in use, and the whole file with
its free pages), and the time of one dispatch's prune when a day's digests fall out of the
retention, and when nothing does. "Before" stores the same rows at revision 0007 (HTML, text
and message kept forever), on fewer digests (the bytes per digest do not depend on the count).

    python bench/storage_bench.py [subscribers] [days] [before_digests]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, column, event, insert, table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from store.engine import make_engine, upgrade  # noqa: E402
from store.ledger import Ledger  # noqa: E402
from store.tables import DELIVERIES, DIGESTS, MESSAGES, SUBSCRIBERS  # noqa: E402
from store.types import Delivered, DigestRecord  # noqa: E402

START = datetime(2026, 6, 1, 8, tzinfo=UTC)
HTML, TEXT, MESSAGE = 30_000, 8_000, 60_000  # a 20-paper digest, about 100 KB in all
LEASE = timedelta(minutes=5)
# The digests table as revision 0007 had it (the HTML, text and message in the row).
OLD_DIGESTS = table(
    "digests",
    *[column(c.name, c.type) for c in DIGESTS.c],
    column("html"),
    column("text"),
    column("message"),
)


def subscribers(engine: Engine, n: int) -> None:
    rows = [
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
        for i in range(n)
    ]
    with engine.begin() as connection:
        connection.execute(insert(SUBSCRIBERS), rows)


def record(sid: int, day: int) -> DigestRecord:
    at = START + timedelta(days=day)
    return DigestRecord(
        subscriber_id=sid,
        recipient=f"reader{sid}@example.org",
        period=at.date().isoformat(),
        kind="papers",
        window_start=at - timedelta(days=1),
        window_end=at,
        paper_ids=tuple(f"2606.{(day * 50 + k) % 100000:05d}" for k in range(30)),
        shown=20,
        subject=f"Paperboy: 30 new papers for {at:%d %B %Y} (diffusion, agents)",
        message_id=f"<digest.{sid:08d}{day:04d}0123456789abcdef@paperboy.example.org>",
        html="h" * HTML,
        text="t" * TEXT,
        message=b"m" * MESSAGE,
        created_at=at,
        deadline=at + timedelta(days=1),
    )


def record_day(engine: Engine, ids: list[int], day: int, *, keep_all: bool) -> None:
    """The ledger's digest and delivery values (Ledger.record), a day in one transaction."""
    with engine.begin() as connection:
        for start in range(0, len(ids), 1000):
            digests, messages = [], []
            for sid in ids[start : start + 1000]:
                values = asdict(record(sid, day))
                values.pop("deadline"), values.pop("recipient")
                values["paper_ids"] = list(values["paper_ids"])
                if not keep_all:
                    del values["html"], values["text"]
                    messages.append(values.pop("message"))
                digests.append(values)
            target = OLD_DIGESTS if keep_all else DIGESTS
            first = connection.execute(insert(target).returning(target.c.id), digests)
            digest_ids = list(first.scalars())
            if not keep_all:  # as Ledger.record: the bytes in a row of their own
                connection.execute(
                    insert(MESSAGES),
                    [
                        {"digest_id": d, "message": m}
                        for d, m in zip(digest_ids, messages, strict=True)
                    ],
                )
            at = START + timedelta(days=day)
            connection.execute(
                insert(DELIVERIES),
                [
                    {
                        "digest_id": d,
                        "recipient": "reader@example.org",
                        "state": "sent" if keep_all else "pending",
                        "attempts": 1 if keep_all else 0,
                        "next_attempt_at": at,
                        "deadline": at + timedelta(days=1),
                        "sent_at": at if keep_all else None,
                        "last_code": 250 if keep_all else None,
                        "updated_at": at,
                    }
                    for d in digest_ids
                ],
            )


def send_day(ledger: Ledger, day: int) -> int:
    """Every pending delivery sent through the ledger, as a sender marks them."""
    now = START + timedelta(days=day, minutes=1)
    sent = 0
    while claims := ledger.claim(now, lease=LEASE, limit=500):
        marks = [
            (c, Delivered(p, now, 250) if p else None)
            for p, c in zip([None, *claims], claims, strict=False)
        ]
        ledger.data_started_many(marks, now)
        ledger.sent(Delivered(claims[-1], now, 250))
        sent += len(claims)
    return sent


def breakdown(path: Path, count: int) -> str:
    """Bytes per digest in each table and index (SQLite's dbstat: pages in use, unused bytes
    inside them included)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        rows = connection.execute(
            "SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    finally:
        connection.close()
    return "\n".join(
        f"    {name:36} {size / count:7,.0f} B/digest ({unused / max(size, 1):4.0%} unused)"
        for name, size, unused in rows
        if size / count >= 1
    )


def write_transactions(engine: Engine) -> list[float]:
    """Seconds each transaction of ``engine`` lasts from its BEGIN (IMMEDIATE: the write lock)
    to its commit, from now on."""
    held: list[float] = []
    began: list[float] = []
    event.listen(engine, "begin", lambda _: began.append(time.perf_counter()))
    event.listen(engine, "commit", lambda _: held.append(time.perf_counter() - began[-1]))
    return held


def sizes(path: Path) -> tuple[int, int, int]:
    """(file bytes, bytes in used pages, digests), the WAL checkpointed into the file first."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = connection.execute("PRAGMA page_size").fetchone()[0]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        free = connection.execute("PRAGMA freelist_count").fetchone()[0]
        count = connection.execute("SELECT count(*) FROM digests").fetchone()[0]
    finally:
        connection.close()
    return path.stat().st_size, (pages - free) * page, count


def after(folder: Path, n: int, days: int) -> None:
    path = folder / "after.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    subscribers(engine, n)
    ledger = Ledger(engine)
    ids = list(range(1, n + 1))
    began = time.perf_counter()
    for day in range(days):
        record_day(engine, ids, day, keep_all=False)
        assert send_day(ledger, day) == n
    print(
        f"after: {n:,} subscribers x {days} days recorded and sent in "
        f"{time.perf_counter() - began:.1f} s"
    )
    size, used, count = sizes(path)
    print(
        f"  {count:,} digests: file {size / 1e6:,.1f} MB ({size / count:,.0f} B/digest), "
        f"pages in use {used / 1e6:,.1f} MB ({used / count:,.0f} B/digest)"
    )
    print(breakdown(path, count))
    retention = timedelta(days=days - 1)  # day 0 falls out of it
    now = START + timedelta(days=days - 1, hours=1)
    held = write_transactions(engine)
    t = time.perf_counter()
    pruned = ledger.prune(now - retention)
    print(
        f"  prune with a day falling out: {pruned:,} digests in {time.perf_counter() - t:.2f} s, "
        f"{len(held)} write transactions holding the lock {max(held) * 1000:.0f} ms at most, "
        f"{sum(held) * 1000:.0f} ms in all"
    )
    t = time.perf_counter()
    pruned = ledger.prune(now - retention)
    print(f"  prune with nothing to do: {pruned} in {(time.perf_counter() - t) * 1000:.1f} ms")
    record_day(engine, ids, days, keep_all=False)  # the next day reuses the freed pages
    send_day(ledger, days)
    size, used, count = sizes(path)
    print(
        f"  a day later, {count:,} digests: file {size / 1e6:,.1f} MB "
        f"({size / count:,.0f} B/digest), pages in use {used / 1e6:,.1f} MB "
        f"({used / count:,.0f} B/digest)"
    )
    print(breakdown(path, count))
    engine.dispose()


def before(folder: Path, digests: int) -> None:
    path = folder / "before.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, "0007")
    n = min(digests, 1000)
    subscribers(engine, n)
    ids = list(range(1, n + 1))
    for day in range(digests // n):
        record_day(engine, ids, day, keep_all=True)
    size, _, count = sizes(path)
    print(
        f"before (0007: HTML, text and message kept): {count:,} digests, file "
        f"{size / 1e6:,.1f} MB ({size / count:,.0f} B/digest)"
    )
    engine.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    before_digests = int(sys.argv[3]) if len(sys.argv) > 3 else 3_000
    with tempfile.TemporaryDirectory() as folder:
        before(Path(folder), before_digests)
        after(Path(folder), n, days)


if __name__ == "__main__":
    main()
