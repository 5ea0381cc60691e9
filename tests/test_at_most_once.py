"""At most once, as the README promises (issue 14, item 2): once the message has gone out, a
relay that hangs up or stays silent instead of answering the final "." leaves the delivery
`unknown`, never sent again; and each step of the conversation waits as long as its own
setting says (RFC 5321 4.5.3.2), the final reply longest.

Real store (SQLite and PostgreSQL), real SMTP servers on 127.0.0.1 (tests/misbehaving_smtp.py);
the rule itself, whatever the wire, over the fake transport (tests/fakes.py).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from mailer.smtp import SmtpConfig, SmtpTimeouts, SmtpTransport
from mailer.transports import SendError, Unconfirmed, send_now
from mailer.types import Envelope
from paperboy.settings import Settings
from paperboy.wiring import smtp_config
from tests.fakes import FakeTransport, Reply, timeout_after_data, timeout_before_data
from tests.misbehaving_smtp import Step, hang_up, misbehaving_smtp, stall
from tests.world import NOW, World, world

MESSAGE = Envelope(
    "digest@example.org",
    "reader@example.org",
    "<once@example.org>",
    b"From: digest@example.org\r\nTo: reader@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
)
QUICK = SmtpTimeouts(connect=2, greeting=2, command=2, data_start=2, data_block=2, data_end=0.5)


def smtp(port: int, timeouts: SmtpTimeouts = QUICK) -> SmtpTransport:
    return SmtpTransport(SmtpConfig("127.0.0.1", port, "none", timeouts=timeouts))


def states(w: World) -> dict[str, tuple[str, int]]:
    return {d.recipient: (d.state, d.attempts) for d in w.ledger.deliveries(limit=100)}


# -- a failure after the final "." is "unknown", never retried --------------------------------


@pytest.mark.parametrize(
    "after_the_dot",
    [hang_up(), stall(5), Step(b"250 queu")],  # a reply cut off mid-line, then silence
    ids=["hangs-up", "stays-silent", "half-a-reply"],
)
def test_a_relay_that_keeps_the_message_and_never_answers_gets_it_once(
    database_url: str, after_the_dot: Step
) -> None:
    """The relay stores the message, then hangs up (or says nothing) instead of its 250: the
    delivery is `unknown`, and no later run sends it again, however long the retries go on."""
    with world(database_url) as w, misbehaving_smtp(**{".": after_the_dot}) as server:
        w.subscribe("reader@example.org")
        w.dispatcher().compose()
        started = time.monotonic()
        report = w.dispatcher().deliver(lambda: smtp(server.port))
        assert time.monotonic() - started < 4
        assert (report.sent, report.retrying, report.unconfirmed) == (0, 0, 1)
        for hours in (1, 6, 12, 23):  # every retry the schedule would have made
            later = w.dispatcher(NOW + timedelta(hours=hours)).deliver(lambda: smtp(server.port))
            assert (later.sent, later.retrying, later.unconfirmed) == (0, 0, 0)
        assert len(server.log.messages) == 1  # one copy, not one per retry
        ((state, attempts),) = states(w).values()
        assert (state, attempts) == ("unknown", 1)
        (row,) = w.ledger.deliveries()
        assert "may have been delivered" in (row.last_error or "")


@pytest.mark.parametrize(
    ("first_try", "state", "copies"),
    [(timeout_before_data(), "sent", 1), (timeout_after_data(), "unknown", 0)],
    ids=["before-data", "after-data"],
)
def test_a_timeout_is_retried_only_if_it_came_before_data(
    database_url: str, first_try: Reply, state: str, copies: int
) -> None:
    """The rule, on the fake transport: before DATA the message never left (tried again);
    after it, it may have arrived (``unknown``, never tried again)."""
    with world(database_url) as w:
        w.subscribe("reader@example.org")
        w.dispatcher().compose()
        fake = FakeTransport({"reader@example.org": [first_try]})
        w.dispatcher().deliver(lambda: fake)
        for hours in (1, 6, 12, 23):
            w.dispatcher(NOW + timedelta(hours=hours)).deliver(lambda: fake)
        assert states(w)["reader@example.org"][0] == state
        assert len(fake.to("reader@example.org")) == copies
        assert fake.attempts == ["reader@example.org"] * (1 + copies)


def test_the_relays_own_no_after_the_final_dot_is_retried(database_url: str) -> None:
    """A 4xx to the final "." is the relay saying it did not take the message: try again."""
    with world(database_url) as w, misbehaving_smtp(**{".": [hang_up("451 not now")]}) as server:
        w.subscribe("reader@example.org")
        w.dispatcher().compose()
        assert w.dispatcher().deliver(lambda: smtp(server.port)).retrying == 1
        assert states(w)["reader@example.org"][0] == "temp_failed"
        assert w.dispatcher(NOW + timedelta(hours=1)).deliver(lambda: smtp(server.port)).sent == 1
        assert len(server.log.messages) == 2  # the first was refused, the second taken


def test_the_transport_says_when_the_message_may_have_arrived() -> None:
    with misbehaving_smtp(**{".": hang_up()}) as server, pytest.raises(Unconfirmed) as unconfirmed:
        send_now(smtp(server.port), MESSAGE)
    assert unconfirmed.value.step == "end of data"
    assert not unconfirmed.value.recipient_refused


# -- a message whose end never left us was not delivered: retried, not "unknown" ---------------


@contextmanager
def deaf_after_354() -> Iterator[int]:
    """A relay that answers up to DATA's 354, then never reads another byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(5)
            connection.sendall(b"220 deaf\r\n")
            for reply in (b"250 deaf", b"250 ok", b"250 ok", b"354 go"):
                connection.recv(4096)
                connection.sendall(reply + b"\r\n")
            done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        done.set()
        thread.join(10)
        listener.close()


def test_a_message_whose_end_never_left_is_a_temporary_failure() -> None:
    """The relay stops reading in the middle of the message: after the data block's wait the
    final "." is still in our buffer, so the relay cannot have the message: a temporary failure
    (tried again later), and the connection is aborted so the rest never leaves."""
    big = Envelope(
        MESSAGE.sender, MESSAGE.recipient, MESSAGE.message_id, MESSAGE.data + b"x" * 64_000_000
    )
    timeouts = SmtpTimeouts(
        connect=2, greeting=2, command=2, data_start=2, data_block=0.5, data_end=0.5
    )
    with deaf_after_354() as port:
        started = time.monotonic()
        with pytest.raises(SendError) as refused:
            send_now(smtp(port, timeouts), big)
        assert time.monotonic() - started < 5
    assert not isinstance(refused.value, Unconfirmed)
    assert not refused.value.permanent
    assert refused.value.step == "message"


# -- each step waits as long as its own setting ----------------------------------------------

DEFAULT_REPLY = {
    "greeting": b"220 slow ESMTP\r\n",
    "EHLO": b"250-slow\r\n250 PIPELINING\r\n",
    "MAIL": b"250 OK\r\n",
    "RCPT": b"250 OK\r\n",
    "DATA": b"354 go ahead\r\n",
    ".": b"250 queued\r\n",
}
TIMEOUT_OF = {
    "greeting": "greeting",
    "EHLO": "command",
    "MAIL": "command",
    "RCPT": "command",
    "DATA": "data_start",
    ".": "data_end",
}


@pytest.mark.parametrize("step", list(DEFAULT_REPLY))
def test_each_step_waits_as_long_as_its_own_timeout(step: str) -> None:
    """A reply 0.6 s late: fine when that step's own timeout is longer (every other step has
    0.3 s), a timeout when only that step's is short."""
    late = Step(DEFAULT_REPLY[step], wait=0.6)
    patient = dict.fromkeys(("greeting", "command", "data_start", "data_end"), 0.3)
    patient[TIMEOUT_OF[step]] = 3.0
    with misbehaving_smtp(**{step: late}) as server:
        timeouts = SmtpTimeouts(connect=2, data_block=2, **patient)
        assert send_now(smtp(server.port, timeouts), MESSAGE) == 250
        impatient = dict.fromkeys(("greeting", "command", "data_start", "data_end"), 3.0)
        impatient[TIMEOUT_OF[step]] = 0.3
        timeouts = SmtpTimeouts(connect=2, data_block=2, **impatient)
        started = time.monotonic()
        with pytest.raises(SendError):
            send_now(smtp(server.port, timeouts), MESSAGE)
        assert time.monotonic() - started < 2


def test_the_final_reply_may_take_longer_than_any_command() -> None:
    """A relay that scans the message for 1.5 s before its 250 (RFC 5321 allows 10 minutes):
    with the RFC's defaults scaled down, the other steps' limit does not cut it off."""
    with misbehaving_smtp(**{".": Step(b"250 scanned and queued\r\n", wait=1.5)}) as server:
        timeouts = SmtpTimeouts(
            connect=1, greeting=1, command=1, data_start=1, data_block=1, data_end=3
        )
        assert send_now(smtp(server.port, timeouts), MESSAGE) == 250
    assert len(server.log.messages) == 1


def test_smtp_timeouts_are_settings_with_the_rfc_defaults() -> None:
    defaults = smtp_config(Settings(_env_file=None, mail_transport="smtp"))  # type: ignore[call-arg]
    assert defaults.timeouts == SmtpTimeouts(
        connect=30, greeting=300, command=300, data_start=120, data_block=180, data_end=600
    )
    chosen = Settings(  # type: ignore[call-arg]
        _env_file=None,
        smtp_timeout_connect=5,
        smtp_timeout_greeting=6,
        smtp_timeout_command=7,
        smtp_timeout_data_start=8,
        smtp_timeout_data_block=9,
        smtp_timeout_data_end=10,
    )
    assert smtp_config(chosen).timeouts == SmtpTimeouts(
        connect=5, greeting=6, command=7, data_start=8, data_block=9, data_end=10
    )


def test_the_transport_uses_the_final_reply_timeout_from_settings() -> None:
    """Wired end to end: PAPERBOY_SMTP_TIMEOUT_DATA_END governs the wait after the "."."""
    with misbehaving_smtp(**{".": Step(b"250 queued\r\n", wait=0.8)}) as server:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            mail_transport="smtp",
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            smtp_security="none",
            smtp_timeout_command=0.3,
            smtp_timeout_data_start=0.3,
            smtp_timeout_data_end=3,
        )

        async def once() -> int:
            transport = SmtpTransport(smtp_config(settings))
            try:
                return await transport.send(MESSAGE, _nothing)
            finally:
                await transport.close()

        assert asyncio.run(once()) == 250


async def _nothing() -> None:
    pass
