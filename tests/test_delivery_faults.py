"""Delivery when what it stands on fails at once (issue 14, items 1, 4, 5): a store whose writes
fail, a full outbox, a SQLite database locked past its busy timeout, a relay that never answers.

Nothing hangs, nothing is left ``sending`` that could be given back, nobody is blamed for the
relay's silence, and every stop says why.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, text

from mailer.smtp import SmtpConfig, SmtpTransport
from mailer.transports import OutboxTransport, Transport
from paperboy import alerts
from paperboy.dispatch import BREAKER_AFTER, Dispatcher, Report
from paperboy.errors import StoreError
from store.health import HealthStore
from tests.misbehaving_smtp import misbehaving_smtp, stall
from tests.smtp_server import Inbox, free_port, smtp_server
from tests.test_cli import run
from tests.world import NOW, World, world

BOUND = 30.0  # seconds any delivery here may take before the test calls it a hang


def readers(w: World, count: int) -> list[str]:
    addresses = [f"reader{i:03d}@example.org" for i in range(count)]
    for address in addresses:
        w.subscribe(address, hour=8)
    assert w.dispatcher().compose().composed == count
    return addresses


def in_thread(
    dispatcher: Dispatcher, transports: Callable[[], Transport], workers: int
) -> tuple[threading.Thread, list[Report | BaseException]]:
    """Deliver on a thread of its own (daemon: a hang fails the test, not the whole run)."""
    result: list[Report | BaseException] = []

    def target() -> None:
        try:
            result.append(dispatcher.deliver(transports, workers=workers))
        except BaseException as e:
            result.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def finished(thread: threading.Thread, result: list[Report | BaseException]) -> Report:
    thread.join(BOUND)
    assert not thread.is_alive(), f"delivery still running after {BOUND:.0f} s: it hangs"
    (outcome,) = result
    assert isinstance(outcome, Report), f"delivery raised {outcome!r}"
    return outcome


def wait_for_mail(inbox: Inbox, thread: threading.Thread) -> None:
    deadline = time.monotonic() + BOUND
    while not inbox.messages:
        assert thread.is_alive(), "delivery ended before the first message"
        assert time.monotonic() < deadline, "no message arrived"
        time.sleep(0.01)


def smtp(port: int, timeout: float = 30.0) -> SmtpTransport:
    return SmtpTransport(SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=timeout))


def states(w: World) -> Counter[str]:
    return Counter(d.state for d in w.ledger.deliveries(limit=1000))


# -- 1. never hang -----------------------------------------------------------------------------


def test_a_store_whose_writes_fail_with_a_full_queue_never_hangs(database_url: str) -> None:
    """Every connection's next write fails at once while the feeder waits on a full queue."""
    with world(database_url) as w, smtp_server() as (port, inbox):
        inbox.delay = 0.05
        readers(w, 40)  # more than the queue (2 batches) and the connections hold
        dispatcher = w.dispatcher()
        thread, result = in_thread(dispatcher, lambda: smtp(port), 2)
        wait_for_mail(inbox, thread)
        with w.engine.begin() as connection:
            connection.execute(text("ALTER TABLE deliveries RENAME TO deliveries_away"))
        try:
            thread.join(BOUND)
        finally:
            with w.engine.begin() as connection:
                connection.execute(text("ALTER TABLE deliveries_away RENAME TO deliveries"))
        report = finished(thread, result)
        assert report.errors
        assert all("database write failed" in e for e in report.errors)
        # What could not be given back (the table was away) comes back with its lease; nothing
        # the server accepted is sent again.
        w.ledger.reclaim(NOW + timedelta(hours=1))
        found = states(w)
        assert found["sending"] == 0
        assert found["sent"] + found["unknown"] <= len(inbox.messages)
        assert found["pending"] + found["sent"] + found["unknown"] == 40


def test_a_full_outbox_stops_the_run_and_gives_every_claim_back(
    database_url: str, tmp_path: Path
) -> None:
    """The outbox folder becomes unusable after the transports were made (a full or read-only
    disk looks the same from here): one clear error, nobody blamed, nothing left claimed."""
    outbox = tmp_path / "outbox"
    made = [OutboxTransport(outbox) for _ in range(2)]
    outbox.rmdir()
    outbox.write_text("a file where the outbox folder was\n")
    with world(database_url) as w:
        readers(w, 30)
        thread, result = in_thread(w.dispatcher(), made.pop, 2)
        report = finished(thread, result)
        rows = w.ledger.deliveries(limit=1000)
    assert report.sent == report.retrying == report.failed == 0
    assert report.breaker is not None, "the run must say why it stopped"
    assert f"cannot write to the outbox folder {outbox}: Not a directory" in report.breaker
    assert "PAPERBOY_OUTBOX_DIR" in report.breaker
    assert {(d.state, d.attempts) for d in rows} == {("pending", 0)}, "claims given back"


def test_an_outbox_under_a_file_is_a_clear_error_not_a_crash(
    database_url: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder\n")
    with world(database_url) as w:
        readers(w, 30)
        thread, result = in_thread(w.dispatcher(), lambda: OutboxTransport(blocker / "outbox"), 3)
        report = finished(thread, result)
        rows = w.ledger.deliveries(limit=1000)
    assert report.breaker is not None
    assert str(blocker / "outbox") in report.breaker
    assert {(d.state, d.attempts) for d in rows} == {("pending", 0)}


# -- 5. database locked ------------------------------------------------------------------------


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another program (a backup, a `sqlite3` shell) holding the database's write lock."""
    holder = sqlite3.connect(path, isolation_level=None, timeout=5)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_database_locked_past_the_busy_timeout_is_a_clear_error(tmp_path: Path) -> None:
    added = run(tmp_path, "subscriber", "add", "reader@example.org", "--zone", "UTC")
    assert added.returncode == 0, added.stderr
    holder = hold_write_lock(tmp_path / "pb.db")
    try:
        started = time.monotonic()
        result = run(
            tmp_path, "send", PAPERBOY_DATABASE_URL=f"sqlite:///{tmp_path / 'pb.db'}?timeout=0.5"
        )
        took = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr
    assert "database is locked" in result.stderr
    hint = " ".join(result.stderr.split())
    assert "SQLite" in hint, hint
    assert "busy timeout (0.5 s)" in hint, hint
    assert took < 15, "the busy timeout in the URL must be the one used"


def test_a_database_locked_mid_send_stops_every_worker_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "pb.db"
    with world(f"sqlite:///{path}?timeout=0.3") as w, smtp_server() as (port, inbox):
        inbox.delay = 0.05
        readers(w, 40)
        thread, result = in_thread(w.dispatcher(), lambda: smtp(port), 3)
        wait_for_mail(inbox, thread)
        holder = hold_write_lock(path)
        try:
            thread.join(BOUND)
        finally:
            holder.rollback()
            holder.close()
        report = finished(thread, result)
        w.ledger.reclaim(NOW + timedelta(hours=1))
        found = states(w)
    assert report.errors, "a worker must never die silently"
    assert all("database is locked" in e for e in report.errors), report.errors
    assert found["sending"] == 0
    assert found["sent"] + found["unknown"] <= len(inbox.messages)


def test_a_read_only_sqlite_file_gets_a_hint_about_sqlite(tmp_path: Path) -> None:
    """Root ignores file modes, so the connection is made read-only the way SQLite itself
    refuses writes to a read-only file (SQLITE_READONLY, the same message)."""
    with world(f"sqlite:///{tmp_path / 'pb.db'}") as w:
        readers(w, 1)
        event.listen(w.engine, "connect", lambda c, _r: c.execute("PRAGMA query_only=ON"))
        w.engine.dispose()
        with pytest.raises(StoreError) as refused:
            w.ledger.reclaim(NOW)
    error = refused.value
    assert "readonly database" in error.message
    assert "SQLite" in error.hint
    assert str(tmp_path / "pb.db") in error.hint
    assert "server" not in error.hint


# -- 4. a relay that never answers -------------------------------------------------------------


def test_a_silent_relay_trips_the_breaker_and_leaves_the_rest_waiting(database_url: str) -> None:
    with world(database_url) as w:
        readers(w, 12)
        health = HealthStore(w.engine)
        with misbehaving_smtp(greeting=stall(60)) as server:
            started = time.monotonic()
            thread, result = in_thread(w.dispatcher(), lambda: smtp(server.port, 0.3), 2)
            report = finished(thread, result)
            took = time.monotonic() - started
        rows = w.ledger.deliveries(limit=1000)
        tried = [d for d in rows if d.state == "temp_failed"]
        waiting = [d for d in rows if d.state == "pending"]
        assert BREAKER_AFTER <= len(tried) <= BREAKER_AFTER + 1  # the two connections at once
        assert len(tried) + len(waiting) == 12
        assert all(d.attempts == 0 and d.last_error is None for d in waiting), "not blamed"
        assert server.log.connections <= BREAKER_AFTER + 1
        assert took < 0.3 * (BREAKER_AFTER + 1) + 5
        assert report.breaker is not None
        assert f"{BREAKER_AFTER} connection failures in a row" in report.breaker
        assert report.retrying == len(tried)
        assert report.failed == 0

        opened = alerts.delivery(health, report, NOW)
        assert opened is not None
        assert "mail relay" in opened
        assert [a.key for a in health.open_alerts()] == ["smtp"]
        assert alerts.delivery(health, report, NOW) is None  # one alert per incident

        # The next dispatch tries again; once the relay answers, everything goes out once.
        with smtp_server() as (port, inbox):
            later = w.dispatcher(NOW + timedelta(hours=1))
            again = later.deliver(lambda: smtp(port), workers=2)
        assert again.sent == 12
        assert again.breaker is None
        assert sorted(m["To"] for m in inbox.messages) == sorted(d.recipient for d in rows)
        assert alerts.delivery(health, again, NOW + timedelta(hours=1)) is None
        assert health.open_alerts() == [], "a run that delivered closes the alert"


def test_a_fetch_alert_check_leaves_the_relay_alert_alone(database_url: str) -> None:
    with world(database_url) as w:
        health = HealthStore(w.engine)
        alerts.delivery(health, Report(breaker="the relay never answered"), NOW)
        config = alerts.AlertConfig(admin_email="", sender="p@example.org")
        alerts.check(w.papers, health, lambda: OutboxTransport(Path("unused")), config, NOW)
        assert [a.key for a in health.open_alerts()] == ["smtp"]


def test_send_stops_for_a_relay_that_refuses_connections_and_says_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pb.db'}"
    with world(url) as w:
        readers(w, 6)
        down = {
            "PAPERBOY_DATABASE_URL": url,
            "PAPERBOY_MAIL_TRANSPORT": "smtp",
            "PAPERBOY_SMTP_HOST": "127.0.0.1",
            "PAPERBOY_SMTP_PORT": str(free_port()),  # nothing listens there
            "PAPERBOY_SMTP_SECURITY": "none",
            "PAPERBOY_SECRET_KEY": "fault-test-secret-0123456789",
        }
        result = run(tmp_path, "send", "--workers", "1", **down)
        found = states(w)
        status = run(tmp_path, "status", PAPERBOY_DATABASE_URL=url)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"delivery stopped: stopped after {BREAKER_AFTER} connection failures in a row" in said
    assert "cannot reach the SMTP server" in said
    assert "Traceback" not in said
    # Tried: retried later (or given up on, as this run's clock is past the digests' day).
    assert found["pending"] == 6 - BREAKER_AFTER, found
    assert found["temp_failed"] + found["expired"] == BREAKER_AFTER, found
    assert "open alert" in status.stdout
    assert "mail relay" in " ".join(status.stdout.split())
