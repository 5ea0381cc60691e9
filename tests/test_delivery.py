"""Delivery and the ledger's states: the SMTP conversation over a real server (aiosmtpd on
127.0.0.1); the retry, expiry and bounce rules over the fake transport (tests/fakes.py)."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest

from mailer.smtp import SmtpConfig, SmtpTransport
from mailer.transports import SendError, send_now
from mailer.types import Envelope
from paperboy.dispatch import BOUNCE_AFTER, Report
from store.types import Delivered
from tests.fakes import FakeTransport, accept, refuse, unreachable
from tests.papers import saved_papers
from tests.smtp_server import smtp_server
from tests.world import NOW, World, world

OK = ["ok1@example.org", "ok2@example.org", "ok3@example.org"]
TEMPORARY = [
    "r421@example.org",
    "r450@example.org",
    "r451@example.org",
    "r552@example.org",
]
PERMANENT = ["r550@example.org", "r554@example.org", "d554@example.org"]
UNCONFIRMED = ["drop@example.org"]  # hangs up after the final ".": may have it (issue 14)


def smtp(port: int) -> SmtpTransport:
    return SmtpTransport(SmtpConfig(host="127.0.0.1", port=port, security="none"))


def subscribe_all(w: World, addresses: list[str]) -> None:
    for address in addresses:
        w.subscribe(address, hour=8)


def states(w: World) -> dict[str, str]:
    return {d.recipient: d.state for d in w.ledger.deliveries(limit=1000)}


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_codes_decide_retry_or_give_up(database_url: str, pipelining: bool) -> None:
    with world(database_url) as w, smtp_server() as (port, inbox):
        inbox.pipelining = pipelining
        subscribe_all(w, OK + TEMPORARY + PERMANENT + UNCONFIRMED)
        dispatcher = w.dispatcher()
        composed = dispatcher.compose()
        assert composed.composed == len(OK + TEMPORARY + PERMANENT + UNCONFIRMED)
        report = dispatcher.deliver(lambda: smtp(port), workers=2)
        assert (report.sent, report.retrying, report.failed, report.unconfirmed) == (3, 4, 3, 1)
        assert report.refusals.total() == 7
        found = states(w)
        assert {a: found[a] for a in OK} == dict.fromkeys(OK, "sent")
        assert {a: found[a] for a in TEMPORARY} == dict.fromkeys(TEMPORARY, "temp_failed")
        assert {a: found[a] for a in PERMANENT} == dict.fromkeys(PERMANENT, "perm_failed")
        assert {a: found[a] for a in UNCONFIRMED} == dict.fromkeys(UNCONFIRMED, "unknown")
        for address in OK:
            (message,) = inbox.to(address)
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert all(not inbox.to(a) for a in TEMPORARY + PERMANENT + UNCONFIRMED)
        codes = {d.recipient: d.last_code for d in w.ledger.deliveries(limit=100)}
        assert codes["r552@example.org"] == 552  # mailbox full: temporary by rule
        assert codes["d554@example.org"] == 554
        # Connections are reused: two workers, far fewer connections than messages.
        assert inbox.connections <= 4


def test_sent_marks_ride_with_the_next_message_and_none_is_left_behind(
    database_url: str,
) -> None:
    """One worker: each accepted message is marked sent in the next one's DATA-started commit,
    or on its own when the next is refused before DATA or when there is no next one."""
    with world(database_url) as w, smtp_server() as (port, inbox):
        order = ["ok1@example.org", "r550@example.org", "ok2@example.org", "ok3@example.org"]
        subscribe_all(w, order)
        dispatcher = w.dispatcher()
        dispatcher.compose()
        report = dispatcher.deliver(lambda: smtp(port), workers=1)
        assert (report.sent, report.failed) == (3, 1)
        found = states(w)
        assert found == {
            "ok1@example.org": "sent",
            "r550@example.org": "perm_failed",
            "ok2@example.org": "sent",
            "ok3@example.org": "sent",
        }
        assert all(d.sent_at is not None for d in w.ledger.deliveries() if d.state == "sent")
        assert sorted(m["To"] for m in inbox.messages) == sorted(OK)


def test_marks_committed_together_keep_their_own_answers(database_url: str) -> None:
    """Group commit: several connections' "DATA started" marks in one transaction, one of
    them with a lease another sender has taken over, one carrying a previous "sent" mark."""
    with world(database_url) as w:
        subscribe_all(w, OK)
        w.dispatcher().compose()
        first, second, third = w.ledger.claim(NOW, lease=timedelta(minutes=5), limit=3)
        assert w.ledger.data_started_many([(first, None)], NOW) == [True]
        w.ledger.release(second, NOW)  # as if its lease ran out and another sender took it
        (taken,) = w.ledger.claim(NOW, lease=timedelta(minutes=5), limit=1)
        assert taken.delivery_id == second.delivery_id
        answers = w.ledger.data_started_many(
            [(second, Delivered(first, NOW, 250)), (third, None)], NOW
        )
        assert answers == [False, True]
        assert states(w)[first.recipient] == "sent"  # its mark rode along
        # When the leases run out: the new holder of the second never began DATA (re-queued);
        # the third did (unknown, never sent again).
        assert w.ledger.reclaim(NOW + timedelta(hours=1)) == (1, 1)
        assert states(w)[third.recipient] == "unknown"


def test_temporary_failures_are_retried_later_and_then_delivered(database_url: str) -> None:
    with world(database_url) as w:
        subscribe_all(w, ["later@example.org"])
        fake = FakeTransport({"later@example.org": [refuse(451), refuse(451)]})
        first = w.dispatcher()
        first.compose()
        assert first.deliver(lambda: fake).retrying == 1
        (row,) = w.ledger.deliveries()
        assert row.state == "temp_failed"
        assert row.next_attempt_at > NOW
        assert w.dispatcher().deliver(lambda: fake).sent == 0  # not yet due
        second = w.dispatcher(NOW + timedelta(minutes=2))
        assert second.deliver(lambda: fake).retrying == 1
        third = w.dispatcher(NOW + timedelta(minutes=10))
        assert third.deliver(lambda: fake).sent == 1
        assert len(fake.to("later@example.org")) == 1
        (row,) = w.ledger.deliveries()
        assert (row.state, row.attempts) == ("sent", 3)


def test_retries_stop_when_the_next_digest_is_due(database_url: str) -> None:
    with world(database_url) as w:
        subscribe_all(w, ["r451@example.org"])
        w.dispatcher().compose()
        fake = FakeTransport(default=refuse(451))
        for hours in (0, 6, 12, 18, 23, 25):
            w.dispatcher(NOW + timedelta(hours=hours, minutes=1)).deliver(lambda: fake)
        (row,) = w.ledger.deliveries()
        assert row.state == "expired"  # not a bounce: the reader was never refused (issue 14)
        assert "gave up: the next digest is due" in (row.last_error or "")


def test_repeated_hard_bounces_suppress_the_address(database_url: str) -> None:
    with world(database_url) as w:
        subscribe_all(w, ["r550@example.org"])
        fake = FakeTransport(default=refuse(550))
        for day in range(BOUNCE_AFTER):
            at = NOW + timedelta(days=day)
            fresh = dataclasses.replace(saved_papers()[0], arxiv_id=f"2607.0000{day}")
            w.ingest((fresh,), at - timedelta(minutes=5))  # a new matching paper each day
            dispatcher = w.dispatcher(at)
            dispatcher.compose()
            report = dispatcher.deliver(lambda: fake)
        assert report.bounced == 1
        assert w.people.require("r550@example.org").status == "bounced"
        later = w.dispatcher(NOW + timedelta(days=BOUNCE_AFTER))
        assert later.compose().due == 0  # suppressed: never composed again


def test_a_period_is_composed_once_however_often_send_runs(database_url: str) -> None:
    with world(database_url) as w:
        subscribe_all(w, OK)
        fake = FakeTransport()
        for minutes in (0, 5, 30):
            dispatcher = w.dispatcher(NOW + timedelta(minutes=minutes))
            dispatcher.compose()
            dispatcher.deliver(lambda: fake)
        assert sorted(fake.recipients) == sorted(OK)


def test_stale_sources_are_never_reported_as_nothing_new(database_url: str) -> None:
    with world(database_url) as w:
        subscribe_all(w, OK)
        report = w.dispatcher(NOW + timedelta(days=3)).compose()
        assert report.composed == 0
        assert report.skipped_reason is not None
        assert "no successful fetch in the last 36 hours" in report.skipped_reason
        assert w.ledger.deliveries() == []


def test_unreachable_smtp_is_a_temporary_failure(database_url: str) -> None:
    from tests.smtp_server import free_port

    with world(database_url) as w:
        subscribe_all(w, OK[:1])
        dispatcher = w.dispatcher()
        dispatcher.compose()
        report = dispatcher.deliver(lambda: smtp(free_port()))
        assert report.retrying == 1
        (row,) = w.ledger.deliveries()
        assert row.state == "temp_failed"
        assert "cannot reach the SMTP server" in (row.last_error or "")
        assert dict(report.refusals) == {row.last_error: 1}  # what `paperboy send` warns of


@pytest.mark.parametrize("crash_after_data", [False, True])
def test_expired_leases_are_requeued_or_marked_unknown(
    database_url: str, crash_after_data: bool
) -> None:
    with world(database_url) as w:
        subscribe_all(w, OK[:1])
        w.dispatcher().compose()
        (claim,) = w.ledger.claim(NOW, lease=timedelta(minutes=5), limit=10)
        if crash_after_data:
            assert w.ledger.data_started_many([(claim, None)], NOW) == [True]
        # ... and the sender dies here. Before the lease expires nobody else may take it:
        assert (
            w.ledger.claim(NOW + timedelta(minutes=1), lease=timedelta(minutes=5), limit=10) == []
        )
        requeued, unknown = w.ledger.reclaim(NOW + timedelta(minutes=6))
        assert (requeued, unknown) == ((0, 1) if crash_after_data else (1, 0))
        (row,) = w.ledger.deliveries()
        assert row.state == ("unknown" if crash_after_data else "pending")
        # The dead sender's late write is fenced off.
        assert not w.ledger.sent(Delivered(claim, NOW + timedelta(minutes=7), 250))


def test_a_clean_stop_finishes_the_message_and_gives_back_the_rest(database_url: str) -> None:
    import threading

    with world(database_url) as w, smtp_server() as (port, inbox):
        inbox.delay = 0.3
        subscribe_all(w, [f"reader{i}@example.org" for i in range(6)])
        dispatcher = w.dispatcher()
        dispatcher.compose()
        worker = threading.Thread(
            target=dispatcher.deliver, args=(lambda: smtp(port),), kwargs={"workers": 1}
        )
        worker.start()
        while not inbox.messages:
            time.sleep(0.02)
        dispatcher.stopping.set()  # what SIGTERM does in `paperboy serve`
        worker.join(timeout=30)
        found = states(w)
    assert len(inbox.messages) in (1, 2)  # the message in hand was finished
    assert sorted(found.values()).count("sent") == len(inbox.messages)
    assert set(found.values()) == {"sent", "pending"}  # the rest given back, none left "sending"


def test_a_store_failure_stops_the_sender_with_its_reason(database_url: str) -> None:
    """The ledger's table disappears mid-send: delivery stops and says why, without hanging,
    a traceback, or a message sent with no "DATA started" mark in front of it."""
    import threading

    from sqlalchemy import text

    with world(database_url) as w, smtp_server() as (port, inbox):
        inbox.delay = 0.3
        subscribe_all(w, [f"reader{i}@example.org" for i in range(4)])
        dispatcher = w.dispatcher()
        dispatcher.compose()
        reports: list[Report] = []
        sender = threading.Thread(
            target=lambda: reports.append(dispatcher.deliver(lambda: smtp(port), workers=1))
        )
        sender.start()
        while not inbox.messages:
            time.sleep(0.02)
        with w.engine.begin() as connection:
            connection.execute(text("ALTER TABLE deliveries RENAME TO deliveries_away"))
        sender.join(timeout=30)
        with w.engine.begin() as connection:
            connection.execute(text("ALTER TABLE deliveries_away RENAME TO deliveries"))
        # Once the leases run out: what never began DATA goes back to the queue; the last
        # message the server accepted lost its "sent" mark with the store, so it is "unknown".
        requeued, unknown = w.ledger.reclaim(NOW + timedelta(hours=1))
        found = states(w)
    assert not sender.is_alive()
    (report,) = reports
    assert report.errors
    assert "database write failed" in report.errors[0]
    assert 1 <= len(inbox.messages) <= 2
    assert (requeued, unknown) == (4 - len(inbox.messages), 1)
    assert sorted(found.values()).count("sent") == len(inbox.messages) - 1


def test_smtp_down_for_hours_then_everything_goes_out_once(database_url: str) -> None:
    with world(database_url) as w:
        subscribe_all(w, OK)
        w.dispatcher().compose()
        fake = FakeTransport(default=unreachable())  # nothing listens where the relay is
        for half_hours in range(1, 7):  # three hours of a relay that does not answer
            report = w.dispatcher(NOW + timedelta(minutes=30 * half_hours)).deliver(lambda: fake)
            assert report.sent == 0
        assert set(states(w).values()) == {"temp_failed"}
        fake.default = accept()  # the relay is back
        later = w.dispatcher(NOW + timedelta(hours=4))
        assert later.deliver(lambda: fake).sent == len(OK)
        assert later.deliver(lambda: fake).sent == 0
        assert sorted(fake.recipients) == sorted(OK)
        assert set(states(w).values()) == {"sent"}


@pytest.mark.parametrize(
    "recipient", ["x@example.org>\r\nRCPT TO:<y@example.org", "no-at-sign", "a b@example.org"]
)
def test_addresses_that_could_inject_smtp_commands_are_refused(recipient: str) -> None:
    with smtp_server() as (port, inbox):
        transport = smtp(port)
        message = Envelope(
            "digest@example.org", recipient, "<m@example.org>", b"Subject: x\r\n\r\nx\r\n"
        )
        with pytest.raises(SendError) as refused:
            send_now(transport, message)
    assert refused.value.permanent
    assert inbox.messages == []
