"""Storage that stays flat: message bytes (a ``messages`` row) deleted once a delivery is final,
old digests pruned in short batches (never a waiting one, never a subscriber's latest) and cheaply
when there is nothing to prune, the archive page still works, and migration 0008 keeps every row
(up and down). Both databases."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import alembic.command
import httpx
import pytest
from sqlalchemy import Engine, event, inspect, text

from paperboy.clock import fixed_clock
from paperboy.outcome import NextState
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
from store.engine import _alembic_config as alembic_config
from store.engine import make_engine, upgrade
from store.ledger import Ledger
from store.types import Delivered, DigestRecord
from tests.digests import latest_digest
from tests.web_server import serving
from tests.world import NOW, SECRET, World, world

LEASE = timedelta(minutes=5)


def record(sid: int, period: str, at: datetime, *, kind: str = "papers") -> DigestRecord:
    return DigestRecord(
        subscriber_id=sid,
        recipient=f"r{sid}@example.org",
        period=period,
        kind=kind,
        window_start=at - timedelta(days=1),
        window_end=at,
        paper_ids=("2601.00001", "2601.00002"),
        shown=2,
        subject=f"Digest {period}",
        message_id=f"<{sid}.{period}@example.org>",
        html="<p>html</p>",
        text="text",
        message=b"x" * 5000,
        created_at=at,
        deadline=NOW + timedelta(days=1),  # a retry stays waiting
    )


def messages(w: World) -> dict[str, bool]:
    """Recipient -> whether its digest still keeps the message bytes (a ``messages`` row)."""
    rows = message_rows(w.engine)
    kept = {}
    for d in w.ledger.deliveries(limit=100):
        digest = w.ledger.digest(d.digest_id)
        assert digest is not None
        assert (digest.message is not None) == (d.digest_id in rows)
        kept[d.recipient] = d.digest_id in rows
    return kept


def message_rows(engine: Engine) -> dict[int, bytes]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT digest_id, message FROM messages"))
        return {r.digest_id: bytes(r.message) for r in rows}


def test_the_message_bytes_go_once_a_delivery_is_final(database_url: str) -> None:
    with world(database_url) as w:
        names = (
            "sent",
            "grouped",  # sent, recorded with the next message's DATA mark
            "perm",
            "expired",
            "unconfirmed",
            "retrying",
            "sending",
            "pending",
        )
        for name in names:
            w.subscribe(f"{name}@example.org")
        w.dispatcher().compose()
        assert set(messages(w).values()) == {True}
        claims = {
            c.recipient.split("@")[0]: c
            for c in w.ledger.claim(NOW, lease=LEASE, limit=len(names) - 1)
        }
        assert set(claims) == set(names) - {"pending"}  # claimed in id order
        assert w.ledger.sent(Delivered(claims["sent"], NOW, 250))
        assert w.ledger.data_started_many([(claims["grouped"], None)], NOW) == [True]
        marks = [(claims["sending"], Delivered(claims["grouped"], NOW, 250))]
        assert w.ledger.data_started_many(marks, NOW) == [True]
        perm = NextState("perm_failed", "failed", code=550, error="no such user")
        assert w.ledger.record_outcome(claims["perm"], perm, NOW)
        expired = NextState("expired", "expired", code=421, error="busy (gave up)")
        assert w.ledger.record_outcome(claims["expired"], expired, NOW)
        retry = NOW + timedelta(minutes=10)
        later = NextState("temp_failed", "retrying", code=451, error="later", retry_at=retry)
        assert w.ledger.record_outcome(claims["retrying"], later, NOW)
        unknown = NextState("unknown", "unconfirmed", error="no reply to the dot")
        assert w.ledger.record_outcome(claims["unconfirmed"], unknown, NOW)
        assert messages(w) == {
            f"{name}@example.org": name in ("retrying", "sending", "pending") for name in names
        }
        waiting = {claims[n].digest_id for n in ("retrying", "sending")}
        assert waiting < set(message_rows(w.engine))
        retried = w.ledger.claim(retry, lease=LEASE, limit=2)  # the pending one, the retry
        again = {c.delivery_id: c.message for c in retried}
        assert again[claims["retrying"].delivery_id] == claims["retrying"].message  # same bytes


def test_a_lease_that_expires_after_data_drops_the_bytes_too(database_url: str) -> None:
    with world(database_url) as w:
        w.subscribe("a@example.org")
        w.subscribe("b@example.org")
        w.dispatcher().compose()
        started, quiet = w.ledger.claim(NOW, lease=LEASE, limit=2)
        assert w.ledger.data_started_many([(started, None)], NOW) == [True]
        assert w.ledger.reclaim(NOW + LEASE + timedelta(seconds=1)) == (1, 1)
        kept = messages(w)
        assert kept == {started.recipient: False, quiet.recipient: True}  # quiet: back to pending


def test_a_skipped_digest_keeps_no_message(database_url: str) -> None:
    with world(database_url) as w:
        sid = w.subscribe("quiet@example.org", profiles={"none": "zzyzzx"})
        w.dispatcher().compose()
        digest = latest_digest(w.ledger, sid)
        assert digest is not None
        assert digest.kind == "skipped"
        assert digest.message is None
        assert message_rows(w.engine) == {}


def test_prune_deletes_old_digests_in_batches_but_keeps_waiting_and_latest(
    database_url: str,
) -> None:
    with world(database_url) as w:
        one, two, three = (w.subscribe(f"r{n}@example.org") for n in (1, 2, 3))
        start = NOW - timedelta(days=400)
        days = [start + timedelta(days=n) for n in range(6)]
        for day in days:  # six old digests for one, all sent
            w.ledger.record(record(one, day.date().isoformat(), day))
        for day in days[:3]:  # three old ones for two: the middle one still retrying
            w.ledger.record(record(two, day.date().isoformat(), day))
        w.ledger.record(record(three, "2026-07-01", NOW - timedelta(days=1)))  # recent
        w.ledger.record(record(three, "2025-01-01", days[0], kind="skipped"))  # no delivery
        claims = w.ledger.claim(NOW, lease=LEASE, limit=100)
        middle = w.ledger.digest_for(two, days[1].date().isoformat())
        assert middle is not None
        for claim in claims:
            if claim.digest_id == middle.id:
                later = NextState("temp_failed", "retrying", code=451, retry_at=NOW + LEASE)
                w.ledger.record_outcome(claim, later, NOW)
            else:
                w.ledger.sent(Delivered(claim, NOW, 250))
        commits = count_commits(w)
        before = NOW - timedelta(days=365)
        assert w.ledger.prune(before, batch=2) == 5 + 1 + 1  # one: 5; two: the first; three: 1
        assert len(commits) >= 4  # each batch of at most two its own transaction
        left = {
            (d.subscriber_id, d.period)
            for sid in (one, two, three)
            for d in [latest_digest(w.ledger, sid)]
            if d is not None
        }
        assert left == {
            (one, days[5].date().isoformat()),  # the latest, however old
            (two, days[2].date().isoformat()),
            (three, "2026-07-01"),
        }
        periods = w.ledger.periods([one, two, three])
        assert periods[one] == {days[5].date().isoformat()}
        assert periods[two] == {days[1].date().isoformat(), days[2].date().isoformat()}
        assert periods[three] == {"2026-07-01"}
        assert sorted(d.state for d in w.ledger.deliveries(limit=100)) == [
            "sent",
            "sent",
            "sent",
            "temp_failed",
        ]
        assert w.ledger.prune(before, batch=2) == 0  # nothing more to do
        ends = w.ledger.window_ends([one])
        assert ends[one] == days[5]  # the next window still starts where the last one stopped


def test_prune_walks_digests_made_at_the_same_instant_across_batches(database_url: str) -> None:
    """The keyset is (created_at, id): a batch that ends inside a run of equal created_at
    neither stops the walk nor skips the rest of the run."""
    with world(database_url) as w:
        sids = [w.subscribe(f"r{n}@example.org") for n in range(5)]
        old = NOW - timedelta(days=400)
        for sid in sids:  # the same instant for all five, each with a later one kept
            w.ledger.record(record(sid, "2025-01-01", old, kind="skipped"))
            w.ledger.record(record(sid, "2026-07-01", NOW, kind="skipped"))
        assert w.ledger.prune(NOW - timedelta(days=365), batch=2) == 5
        assert w.ledger.periods(sids) == {sid: {"2026-07-01"} for sid in sids}


def count_commits(w: World) -> list[int]:
    commits: list[int] = []
    event.listen(w.engine, "commit", lambda _: commits.append(1))
    return commits


def test_the_dispatch_prunes_after_the_retention(database_url: str) -> None:
    with world(database_url) as w:
        sid = w.subscribe("reader@example.org")
        old = NOW - timedelta(days=40)
        for n in range(3):
            day = old + timedelta(days=n)
            w.ledger.record(record(sid, day.date().isoformat(), day))
        for claim in w.ledger.claim(NOW, lease=LEASE, limit=10):
            w.ledger.sent(Delivered(claim, NOW, 250))
        first = w.dispatcher(retention=timedelta(days=60)).compose()
        assert (first.pruned, first.composed) == (0, 1)
        # Sent, but older than 30 days: all three go, today's digest being the latest.
        assert w.dispatcher(retention=timedelta(days=30)).compose().pruned == 3
        assert w.dispatcher(retention=timedelta(days=30)).compose().pruned == 0


@pytest.fixture
def site(database_url: str) -> Iterator[tuple[httpx.Client, World, Tokens]]:
    with world(database_url) as w:
        tokens = Tokens(SECRET, fixed_clock(NOW))
        app = create_app(WebContext(w.engine, tokens, fixed_clock(NOW)))
        with serving(app) as base, httpx.Client(base_url=base) as client:
            yield client, w, tokens


def test_the_archive_page_works_once_the_bytes_are_gone(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    client, w, tokens = site
    sid = w.subscribe("reader@example.org")
    w.dispatcher().compose()
    (claim,) = w.ledger.claim(NOW, lease=LEASE, limit=10)
    assert w.ledger.sent(Delivered(claim, NOW, 250))
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    assert digest.message is None
    assert digest.paper_ids
    page = client.get(f"/d/{w.link(tokens, Purpose.ARCHIVE, sid, digest.period)}")
    assert page.status_code == 200
    assert digest.subject in page.text
    shown = re.findall(r'class="title" href="https://huggingface.co/papers/([^"]+)"', page.text)
    assert shown == list(digest.paper_ids)


def test_migration_0008_keeps_every_row_and_moves_the_bytes_still_needed(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0007")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO subscribers (email, link_key, status, time_zone, send_hour,"
                    " send_minute, frequency, weekday, max_papers, send_empty, created_at,"
                    " updated_at) VALUES ('r@example.org', 'k', 'active', 'UTC', 8, 0,"
                    " 'daily', 0, 20, false, :now, :now)"
                ),
                {"now": NOW},
            )
            for n, (kind, state) in enumerate(
                [("papers", "sent"), ("papers", "pending"), ("skipped", None)]
            ):
                digest_id = connection.execute(
                    text(
                        "INSERT INTO digests (subscriber_id, period, kind, window_start,"
                        " window_end, paper_ids, shown, subject, message_id, html, text,"
                        " message, created_at) SELECT id, :period, :kind, :now, :now,"
                        " '[\"2601.00001\"]', 1, 's', :mid, '<p>h</p>', 't', :message, :now"
                        " FROM subscribers RETURNING id"
                    ),
                    {
                        "period": f"2026-07-0{n + 1}",
                        "kind": kind,
                        "now": NOW,
                        "mid": f"<{n}@x>",
                        "message": b"m" * 100,
                    },
                ).scalar_one()
                if state is not None:
                    connection.execute(
                        text(
                            "INSERT INTO deliveries (digest_id, recipient, state, attempts,"
                            " next_attempt_at, deadline, updated_at) VALUES (:d, 'r@example.org',"
                            " :state, 0, :now, :now, :now)"
                        ),
                        {"d": digest_id, "state": state, "now": NOW},
                    )
        upgrade(engine)
        ledger = Ledger(engine)
        digests = [ledger.digest_for(1, f"2026-07-0{n}") for n in (1, 2, 3)]
        assert [d.paper_ids if d else None for d in digests] == [("2601.00001",)] * 3
        assert [d.message if d else None for d in digests] == [None, b"m" * 100, None]
        assert sorted(ledger.counts().items()) == [("pending", 1), ("sent", 1)]  # no cascade
        pending = digests[1]
        assert pending is not None
        assert message_rows(engine) == {pending.id: b"m" * 100}  # only the one still waiting
        assert {c["name"] for c in inspect(engine).get_columns("digests")}.isdisjoint(
            {"message", "html", "text"}
        )
        (claim,) = ledger.claim(NOW, lease=LEASE, limit=10)
        assert claim.message == b"m" * 100  # the sender reads the moved bytes
    finally:
        engine.dispose()


def test_migration_0008_downgrades_and_upgrades_again(database_url: str) -> None:
    with world(database_url) as w:
        engine = w.engine
        one, two = w.subscribe("one@example.org"), w.subscribe("two@example.org")
        quiet = w.subscribe("quiet@example.org", profiles={"none": "zzyzzx"})
        w.dispatcher().compose()
        (claim,) = w.ledger.claim(NOW, lease=LEASE, limit=1)
        assert w.ledger.sent(Delivered(claim, NOW, 250))
        waiting = {one, two} - {claim.subscriber_id}
        (left,) = message_rows(engine).values()
        alembic.command.downgrade(alembic_config(engine), "0007")
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT subscriber_id, message, html, text FROM digests")
            ).all()
        (other,) = waiting
        assert {r.subscriber_id: bytes(r.message) for r in rows} == {
            claim.subscriber_id: b"",  # sent: its bytes were gone, and are not rebuilt
            other: left,  # still waiting: back in the digest row
            quiet: b"",  # skipped: never had any
        }
        assert {(r.html, r.text) for r in rows} == {("", "")}
        assert "messages" not in inspect(engine).get_table_names()
        upgrade(engine)  # 0008 and 0009 again
        (moved,) = message_rows(engine).values()
        assert moved == left
        (again,) = w.ledger.claim(NOW, lease=LEASE, limit=10)
        assert (again.subscriber_id, again.message) == (other, left)


def test_nothing_to_prune_reads_a_few_index_entries(sqlite_url: str) -> None:
    """The bound comes from the created_at index: with many digests and none old enough, prune
    runs a few SQLite VM instructions, not some per digest (it walked the primary key: 275 ms
    for 30,000 digests in bench/storage_bench.py)."""
    with world(sqlite_url) as w:
        sid = w.subscribe("reader@example.org")
        for n in range(2000):
            day = NOW - timedelta(days=n + 1)
            w.ledger.record(record(sid, day.date().isoformat(), day, kind="skipped"))
        steps = vm_steps(w.engine, lambda: w.ledger.prune(NOW - timedelta(days=5000)))
        assert steps < 1000  # walking the primary key ran 6,000 (3 a digest)
        assert w.ledger.prune(NOW - timedelta(days=1999)) == 1  # and the walk finds the oldest


def vm_steps(engine: Engine, work: Callable[[], object]) -> int:
    """SQLite virtual machine instructions (to ten) that ``work`` runs on fresh connections of
    ``engine``."""
    engine.dispose()
    count = [0]

    def counting(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_progress_handler(lambda: count.__setitem__(0, count[0] + 10), 10)

    event.listen(engine, "connect", counting)
    try:
        work()
    finally:
        event.remove(engine, "connect", counting)
        engine.dispose()
    return count[0]
