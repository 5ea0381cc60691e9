"""The pure delivery outcome: (the relay's answer, attempts, deadline, now) -> the next state.
No database and no SMTP: the errors are the ones the transports raise, built by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mailer.transports import RelayError, SendError, Unconfirmed
from paperboy import outcome
from paperboy.outcome import BOUNCE_AFTER, NextState

NOW = datetime.fromisoformat("2026-07-02T09:30:00+00:00")
DAY = NOW + timedelta(days=1)  # a daily digest's deadline


def after(error: SendError, *, attempts: int = 1, deadline: datetime = DAY) -> NextState:
    return outcome.after_error(error, attempts=attempts, deadline=deadline, now=NOW, jitter=0.0)


def test_250_is_sent() -> None:
    assert outcome.accepted(250) == NextState("sent", "sent", code=250)


@pytest.mark.parametrize(
    ("error", "state", "counted"),
    [
        # 4xx to RCPT TO: the reader's server asks us to come back
        (
            SendError("451 later", code=451, permanent=False, step="RCPT TO"),
            "temp_failed",
            "retrying",
        ),
        # 552 (mailbox full) is temporary, even refusing the recipient
        (
            SendError(
                "552 full", code=552, permanent=False, step="RCPT TO", recipient_refused=True
            ),
            "temp_failed",
            "retrying",
        ),
        # 5xx refusing the recipient: for good, the bounce rule counts it
        (
            SendError(
                "550 no such user", code=550, permanent=True, step="RCPT TO", recipient_refused=True
            ),
            "perm_failed",
            "failed",
        ),
        # 5xx after DATA of its message (one recipient per message)
        (
            SendError(
                "554 spam", code=554, permanent=True, step="end of data", recipient_refused=True
            ),
            "perm_failed",
            "failed",
        ),
        # a permanent error that is not about the recipient is never a bounce: tried again
        (SendError("554 odd", code=554, permanent=True, step="DATA"), "temp_failed", "retrying"),
        # a timeout before DATA: the message never left, so it is tried again
        (
            SendError("timed out", code=None, permanent=False, step="RCPT TO"),
            "temp_failed",
            "retrying",
        ),
        (
            SendError("timed out", code=None, permanent=False, step="connect"),
            "temp_failed",
            "retrying",
        ),
        # a timeout or a cut after the whole message went out: it may have arrived, never again
        (Unconfirmed("timed out waiting for the final reply"), "unknown", "unconfirmed"),
        # our relay refused us: nobody's delivery is at fault, the claim is given back
        (RelayError("535 bad login", code=535, step="AUTH"), "released", ""),
    ],
)
def test_the_next_state_of_a_refusal(error: SendError, state: str, counted: str) -> None:
    found = after(error)
    assert (found.state, found.counted) == (state, counted)
    assert found.stops_run is (state == "released")
    assert found.refused is (state in ("temp_failed", "perm_failed", "expired"))
    if state == "temp_failed":
        assert found.retry_at == NOW + timedelta(minutes=1)
    if state in ("perm_failed", "unknown", "released"):
        assert found.retry_at is None


@pytest.mark.parametrize(
    ("attempts", "jitter", "minutes"),
    [
        (1, 0.0, 1),
        (2, 0.0, 2),
        (3, 0.0, 4),
        (7, 0.0, 60),  # 64 capped at an hour
        (30, 0.0, 60),
        (0, 0.0, 1),
        (1, 0.5, 1.25),  # up to 50% more: senders spread out
        (3, 0.999, 4 * 1.4995),
    ],
)
def test_backoff(attempts: int, jitter: float, minutes: float) -> None:
    assert outcome.backoff(attempts, jitter) == timedelta(minutes=minutes)


TEMPORARY = SendError("451 later", code=451, permanent=False, step="RCPT TO")


@pytest.mark.parametrize(
    ("deadline", "state"),
    [
        (NOW + timedelta(minutes=2), "temp_failed"),  # the retry comes before the deadline
        (NOW + timedelta(minutes=1, microseconds=1), "temp_failed"),
        (NOW + timedelta(minutes=1), "expired"),  # the retry would be at the deadline
        (NOW, "expired"),  # the next digest is due: give up, not a bounce
        (NOW - timedelta(hours=1), "expired"),
    ],
)
def test_a_temporary_failure_expires_at_the_deadline(deadline: datetime, state: str) -> None:
    found = after(TEMPORARY, deadline=deadline)
    assert found.state == state
    assert found.retry_at == NOW + timedelta(minutes=1)  # the ledger is told when it would be
    if state == "expired":
        assert found.counted == "expired"
        assert found.error == "451 later (gave up: the next digest is due)"


def test_a_permanent_refusal_never_expires_and_a_relay_refusal_is_never_counted() -> None:
    gone = SendError("550 gone", code=550, permanent=True, step="RCPT TO", recipient_refused=True)
    assert after(gone, deadline=NOW - timedelta(days=1)).state == "perm_failed"
    relay = RelayError("530 authentication required", code=530, step="MAIL FROM")
    assert after(relay, attempts=50, deadline=NOW).state == "released"


@pytest.mark.parametrize(
    ("in_a_row", "bounced"),
    [(0, False), (BOUNCE_AFTER - 1, False), (BOUNCE_AFTER, True), (9, True)],
)
def test_the_bounce_rule(in_a_row: int, bounced: bool) -> None:
    assert outcome.bounced(in_a_row) is bounced
