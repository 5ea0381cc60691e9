"""A subscriber is never blamed for our relay (issue 14, item 3).

Only a permanent refusal of the recipient (5xx to its RCPT TO, or to the DATA of its message)
counts toward the bounce rule. A temporary failure still failing when the next digest is due is
`expired`, not a bounce. A refusal of the relay itself or of our own sender (greeting, EHLO,
STARTTLS, our login, MAIL FROM, 530 "authentication required") stops the run with an operator
error and an alert, and leaves every delivery waiting with its attempts untouched.

Real store (SQLite and PostgreSQL); real SMTP servers on 127.0.0.1 where the point is what a
reply in the conversation means, the fake transport (tests/fakes.py) where it is the rule.
"""

from __future__ import annotations

import dataclasses
import ssl
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailer.smtp import SmtpConfig, SmtpTimeouts, SmtpTransport
from mailer.transports import RelayError, SendError, send_now
from mailer.types import Envelope
from paperboy import alerts
from paperboy.dispatch import BOUNCE_AFTER, Report
from store.health import HealthStore
from tests.fakes import FakeTransport, accept, refuse, relay_refusal
from tests.misbehaving_smtp import Step, answer, misbehaving_smtp, server_tls_context
from tests.papers import saved_papers
from tests.smtp_server import free_port
from tests.world import NOW, World, world

READERS = ["ada@example.org", "bob@example.org", "cy@example.org"]
QUICK = SmtpTimeouts(connect=2, greeting=2, command=2, data_start=2, data_block=2, data_end=2)
MESSAGE = Envelope(
    "digest@example.org",
    "reader@example.org",
    "<b@example.org>",
    b"From: digest@example.org\r\nTo: reader@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
)


def smtp(port: int, **options: object) -> SmtpTransport:
    return SmtpTransport(
        SmtpConfig("127.0.0.1", port, "none", timeouts=QUICK, **options)  # type: ignore[arg-type]
    )


def new_day(w: World, day: int) -> datetime:
    """A new matching paper a little before the day's send time; that time."""
    at = NOW + timedelta(days=day)
    fresh = dataclasses.replace(saved_papers()[0], arxiv_id=f"2607.0000{day}")
    w.ingest((fresh,), at - timedelta(minutes=5))
    return at


def statuses(w: World) -> dict[str, str]:
    return {a: w.people.require(a).status for a in READERS}


# -- expired temporary failures are not bounces ---------------------------------------------


def test_a_relay_down_across_three_deadlines_bounces_nobody(database_url: str) -> None:
    with world(database_url) as w:
        for address in READERS:
            w.subscribe(address)
        down = free_port()  # nothing listens there
        for day in range(BOUNCE_AFTER + 1):
            at = new_day(w, day)
            d = w.dispatcher(at)
            assert d.compose().composed == len(READERS)
            report = d.deliver(lambda: smtp(down))
            assert report.bounced == 0
        assert statuses(w) == dict.fromkeys(READERS, "active")
        found = [(d.state, d.last_error or "") for d in w.ledger.deliveries(limit=100)]
        states = sorted(state for state, _ in found)
        assert states[:9] == ["expired"] * 9  # each past digest, when the next one was due
        assert set(states[9:]) <= {"pending", "temp_failed"}  # the last: still waiting
        assert all("gave up: the next digest is due" in e for s, e in found if s == "expired")
        assert report.expired == len(READERS)
        assert w.ledger.permanent_failures_in_a_row(READERS[0]) == 0


def test_a_refused_recipient_still_bounces(database_url: str) -> None:
    """The rule still holds where it should: 5xx to RCPT TO, three digests in a row."""
    with world(database_url) as w:
        w.subscribe("r550@example.org")
        fake = FakeTransport(default=refuse(550))  # 550 to its RCPT TO, every time
        for day in range(BOUNCE_AFTER):
            d = w.dispatcher(new_day(w, day))
            d.compose()
            report = d.deliver(lambda: fake)
        assert report.bounced == 1
        assert w.people.require("r550@example.org").status == "bounced"


# -- a refusal of the relay or of our own sender stops the run --------------------------------

AUTH_REQUIRED = "530 5.7.0 Authentication required"


@pytest.mark.parametrize(
    ("script", "options", "said"),
    [
        ({"greeting": answer("554 5.3.2 no service for you")}, {}, "greeted us with 554"),
        (
            {"EHLO": answer("550 no"), "HELO": answer("550 no")},
            {},
            "refused HELO: 550",
        ),
        ({"AUTH": answer("535 5.7.8 bad credentials")}, {"username": "pb"}, "login (535)"),
        ({"MAIL": answer("553 5.7.1 sender not owned by user")}, {}, "MAIL FROM refused: 553"),
        ({"MAIL": answer(AUTH_REQUIRED)}, {}, "MAIL FROM refused: 530"),
        ({"RCPT": answer(AUTH_REQUIRED)}, {}, "RCPT TO refused: 530"),
    ],
    ids=["greeting-554", "helo-550", "login-535", "mail-from-553", "mail-530", "rcpt-530"],
)
def test_a_refusal_of_our_relay_or_sender_blames_no_reader(
    database_url: str, script: dict[str, Step], options: dict[str, object], said: str
) -> None:
    with world(database_url) as w, misbehaving_smtp(**script) as server:
        for address in READERS:
            w.subscribe(address)
        health = HealthStore(w.engine)
        for day in range(BOUNCE_AFTER + 1):
            at = new_day(w, day)
            d = w.dispatcher(at)
            d.compose()
            started = time.monotonic()
            report = d.deliver(lambda: smtp(server.port, **options), workers=2)
            assert time.monotonic() - started < 10
            assert (report.sent, report.failed, report.bounced, report.retrying) == (0, 0, 0, 0)
            assert report.breaker is not None, "the run must say it stopped, and why"
            assert said in report.breaker
            alerts.delivery(health, report, at)
        (alert,) = health.open_alerts()  # one incident, however many runs saw it
        assert statuses(w) == dict.fromkeys(READERS, "active")
        rows = w.ledger.deliveries(limit=100)
        messages = list(server.log.messages)
    assert said in alert.message
    assert alert.key == "smtp"
    assert len(rows) == len(READERS) * (BOUNCE_AFTER + 1)
    assert {(r.state, r.attempts) for r in rows} == {("pending", 0)}  # waiting, nothing burned
    assert messages == []


def test_the_relay_error_carries_a_hint_for_the_operator() -> None:
    with (
        misbehaving_smtp(MAIL=answer(AUTH_REQUIRED)) as server,
        pytest.raises(RelayError) as stopped,
    ):
        send_now(smtp(server.port), MESSAGE)
    assert stopped.value.step == "MAIL FROM"
    assert not stopped.value.recipient_refused
    assert "PAPERBOY_SMTP_USERNAME" in stopped.value.hint


def test_a_relay_refusal_without_a_hint_of_its_own_gets_the_operators_words(
    database_url: str,
) -> None:
    """The mailer names no command; the sender words what to check (the same words as before)."""
    with world(database_url) as w:
        w.subscribe(READERS[0])
        d = w.dispatcher(new_day(w, 0))
        d.compose()
        report = d.deliver(lambda: FakeTransport(default=relay_refusal(535, "AUTH")))
    assert report.breaker == (
        "AUTH refused: 535 authentication required (check the relay and PAPERBOY_SMTP_* and "
        "PAPERBOY_MAIL_FROM (`paperboy doctor` tries the login); the digests wait and go out "
        "on the next run)"
    )


def test_an_untrusted_certificate_stops_the_run(tmp_path: Path) -> None:
    """A relay whose certificate we cannot check is our configuration, never a reader's."""
    context: ssl.SSLContext = server_tls_context(tmp_path)
    with misbehaving_smtp(tls=context) as server:
        transport = SmtpTransport(SmtpConfig("127.0.0.1", server.port, "starttls", timeouts=QUICK))
        with pytest.raises(RelayError, match="cannot reach the SMTP server") as stopped:
            send_now(transport, MESSAGE)
    assert "PAPERBOY_SMTP_VERIFY_TLS" in stopped.value.hint


def test_the_relay_is_fixed_then_everyone_gets_one_digest_and_the_alert_closes(
    database_url: str,
) -> None:
    with world(database_url) as w:
        for address in READERS:
            w.subscribe(address)
        d = w.dispatcher(new_day(w, 0))
        d.compose()
        health = HealthStore(w.engine)
        fake = FakeTransport(default=relay_refusal(530, "MAIL FROM"))  # authentication required
        stopped = d.deliver(lambda: fake)
        assert alerts.delivery(health, stopped, NOW) is not None
        assert [a.key for a in health.open_alerts()] == ["smtp"]
        fake.default = accept()  # the relay is fixed
        later = w.dispatcher(NOW + timedelta(minutes=10))
        report: Report = later.deliver(lambda: fake)
        assert (report.sent, report.errors, report.breaker) == (len(READERS), [], None)
        assert later.deliver(lambda: fake).sent == 0
        alerts.delivery(health, report, NOW + timedelta(minutes=10))
        assert sorted(fake.recipients) == sorted(READERS)
        assert health.open_alerts() == []
        rows = w.ledger.deliveries(limit=100)
        assert {(r.state, r.attempts) for r in rows} == {("sent", 1)}


# -- what each refusal is about ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "step", "recipient_refused", "permanent"),
    [
        ({"RCPT": answer("550 5.1.1 no such user")}, "RCPT TO", True, True),
        ({"RCPT": answer("451 4.7.1 greylisted")}, "RCPT TO", True, False),
        ({"DATA": answer("554 5.7.1 no thanks")}, "DATA", True, True),
        ({".": answer("554 5.7.1 looks like spam")}, "end of data", True, True),
        ({".": answer("452 4.3.1 out of space")}, "end of data", False, False),
        ({"MAIL": answer("451 4.3.0 try later")}, "MAIL FROM", False, False),
        ({"greeting": answer("421 busy")}, "greeting", False, False),
    ],
)
def test_each_refusal_says_where_and_whether_it_is_about_the_reader(
    script: dict[str, Step], step: str, recipient_refused: bool, permanent: bool
) -> None:
    with misbehaving_smtp(**script) as server, pytest.raises(SendError) as refused:
        send_now(smtp(server.port), MESSAGE)
    assert not isinstance(refused.value, RelayError)
    error = refused.value
    assert (error.step, error.recipient_refused, error.permanent) == (
        step,
        recipient_refused,
        permanent,
    )
