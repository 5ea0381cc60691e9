"""The SMTP client follows the protocol to the letter, against aiosmtpd and against a server that
misbehaves on cue (tests/misbehaving_smtp.py): what it writes, byte for byte, and what it refuses
to believe (STARTTLS response injection, reply floods); and every line of a built message stays
under the 998-byte limit whatever the scraped text.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from mailer.message import build
from mailer.smtp import SmtpConfig, SmtpTransport, _on_the_wire
from mailer.transports import RelayError, SendError, Unconfirmed, send_now
from mailer.types import Envelope, OutgoingEmail
from paperboy.errors import InputError
from tests.misbehaving_smtp import (
    Step,
    answer,
    flood,
    hang_up,
    inject,
    misbehaving_smtp,
    server_tls_context,
    stall,
)
from tests.smtp_server import Inbox, _Handler, free_port

DATA = (
    b"From: digest@example.org\r\nTo: reader@example.org\r\nSubject: hi\r\n\r\n"
    b".leading dot\r\n.\r\n..two dots\r\nlast line\r\n"
)
STUFFED = (
    b"From: digest@example.org\r\nTo: reader@example.org\r\nSubject: hi\r\n\r\n"
    b"..leading dot\r\n..\r\n...two dots\r\nlast line\r\n"
)
MESSAGE = Envelope("digest@example.org", "reader@example.org", "<c@example.org>", DATA)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return server_tls_context(tmp_path_factory.mktemp("tls"))


def config(port: int, security: str = "none", **options: Any) -> SmtpConfig:
    options.setdefault("timeout", 2.0)
    return SmtpConfig("127.0.0.1", port, security, verify_tls=False, **options)


async def _nothing() -> None:
    pass


def send_all(transport: SmtpTransport, *messages: Envelope) -> list[int]:
    async def run() -> list[int]:
        try:
            return [await transport.send(m, _nothing) for m in messages]
        finally:
            await transport.close()

    return asyncio.run(run())


# -- the conversation, to the letter --------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_the_whole_conversation_to_the_letter(tls: ssl.SSLContext, mechanism: str) -> None:
    """EHLO, STARTTLS, EHLO again, AUTH, then MAIL/RCPT/DATA per message on one connection and
    QUIT at the end: every command a CRLF-ended ASCII line under 512 bytes, the data dot-stuffed
    and ended by CRLF.CRLF."""
    ehlo = [
        answer("250-misbehaving", "250 STARTTLS"),
        answer("250-misbehaving", "250-PIPELINING", f"250 AUTH {mechanism}"),
    ]
    with misbehaving_smtp(tls=tls, EHLO=ehlo) as server:
        transport = SmtpTransport(config(server.port, "starttls", username="pb", password="pw"))
        assert send_all(transport, MESSAGE, MESSAGE) == [250, 250]
    log = server.log
    assert log.connections == 1
    assert log.tls == 1
    assert log.logins == [("pb", "pw")]
    assert log.verbs() == [
        *("EHLO", "STARTTLS", "EHLO", "AUTH"),
        *("MAIL", "RCPT", "DATA") * 2,
        "QUIT",
    ]
    assert log.commands[0] == log.commands[2]  # the same name in both EHLOs
    assert len(log.commands[0]) > len(b"EHLO ")
    assert log.commands[3].startswith(f"AUTH {mechanism}".encode())
    assert log.commands[4:6] == [b"MAIL FROM:<digest@example.org>", b"RCPT TO:<reader@example.org>"]
    assert all(c.isascii() and len(c) + 2 <= 512 for c in log.commands)
    assert log.messages == [STUFFED, STUFFED]
    (received,) = log.received  # after TLS: what the client wrote, decrypted
    assert received.count(b"\n") == received.count(b"\r") == received.count(b"\r\n")


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"pb", b"pw")
    return AuthResult(success=ok, handled=False)


@contextmanager
def aiosmtpd_server(tls: ssl.SSLContext) -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox(pipelining=True)
    port = free_port()
    controller = Controller(
        _Handler(inbox),
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        tls_context=tls,
        require_starttls=True,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def test_the_conversation_against_aiosmtpd(tls: ssl.SSLContext) -> None:
    """A strict, real server (STARTTLS required, AUTH only under TLS) receives the very bytes
    we built: dot-stuffing undone, nothing added, nothing lost."""
    with aiosmtpd_server(tls) as (port, inbox):
        transport = SmtpTransport(config(port, "starttls", username="pb", password="pw"))
        assert send_all(transport, MESSAGE, MESSAGE) == [250, 250]
    assert inbox.raw == [DATA, DATA]
    assert inbox.connections == 2  # EHLO before and after STARTTLS, one connection


# -- STARTTLS response injection (the CVE-2011-0411 class) ----------------------------------


@pytest.mark.parametrize("username", ["", "pb"], ids=["no-login", "login"])
def test_bytes_sent_with_the_starttls_go_ahead_are_refused(
    tls: ssl.SSLContext, username: str
) -> None:
    """A man in the middle adds plaintext behind the server's 220: read after the handshake,
    it would pass for the server's encrypted EHLO answer (and choose our AUTH method)."""
    injected = inject("220 go ahead", b"250-INJECTED AUTH LOGIN\r\n")
    with misbehaving_smtp(tls=tls, STARTTLS=injected) as server:
        transport = SmtpTransport(config(server.port, "starttls", username=username))
        with pytest.raises(SendError, match=r"sent more after its 220 to STARTTLS") as refused:
            send_now(transport, MESSAGE)
    assert not refused.value.permanent
    assert server.log.verbs() == ["EHLO", "STARTTLS"]  # not a byte more, encrypted or not
    assert server.log.logins == []
    assert server.log.messages == []


def test_a_clean_starttls_still_works(tls: ssl.SSLContext) -> None:
    with misbehaving_smtp(tls=tls) as server:
        transport = SmtpTransport(config(server.port, "starttls", username="pb", password="p"))
        assert send_now(transport, MESSAGE) == 250
    assert server.log.tls == 1
    assert server.log.messages == [STUFFED]


# -- a reply that never ends ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "action", "error"),
    [
        ("greeting", flood(b"220-hello\r\n", 100_000, b"220 hi\r\n"), r"more than \d+ lines"),
        ("EHLO", flood(b"250-PIPELINING\r\n", 100_000), r"more than \d+ lines"),
        ("MAIL", flood(b"250-ok\r\n", 100_000), r"more than \d+ lines"),
        ("EHLO", Step(b"250-" + b"x" * 10_000_000 + b"\r\n250 end\r\n"), r"longer than \d+ bytes"),
        ("EHLO", flood(b"250-" + b"x" * 500 + b"\r\n", 99), r"longer than \d+ bytes"),
    ],
    ids=["greeting-lines", "ehlo-lines", "mail-lines", "one-10MB-line", "many-long-lines"],
)
def test_a_reply_flood_is_cut_short(step: str, action: Step, error: str) -> None:
    with misbehaving_smtp(**{step: action}) as server:
        started = time.monotonic()
        with pytest.raises(SendError, match=error) as refused:
            send_now(SmtpTransport(config(server.port)), MESSAGE)
        assert time.monotonic() - started < 3
    assert not refused.value.permanent
    assert server.log.messages == []


def test_a_long_but_honest_ehlo_answer_is_read() -> None:
    """The caps leave room for real servers: 40 extensions of 100 bytes each."""
    lines = [f"250-X-EXTENSION-{i:02d} " + "v" * 80 for i in range(40)]
    with misbehaving_smtp(EHLO=answer(*lines, "250 PIPELINING")) as server:
        assert send_now(SmtpTransport(config(server.port)), MESSAGE) == 250


# -- the message's bytes: CRLF only (SMTP smuggling) ------------------------------------------


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\rb", b"a\r\nb\r\n"),
        (b"a\r\r\nb\r\n", b"a\r\n\r\nb\r\n"),
        (b"hello\n.\r\nMAIL FROM:<x@evil>\r\n", b"hello\r\n..\r\nMAIL FROM:<x@evil>\r\n"),
        (b"hello\r\n.\nRSET\r\n", b"hello\r\n..\r\nRSET\r\n"),
        (b"hello\r.\r\nRSET\r\n", b"hello\r\n..\r\nRSET\r\n"),
        (b"hello\n.\nRSET", b"hello\r\n..\r\nRSET\r\n"),
        (b".\n", b"..\r\n"),
        (DATA, STUFFED),  # a correct message is only dot-stuffed
    ],
    ids=[
        "lf",
        "cr",
        "cr-crlf",
        "lf-dot-crlf",
        "crlf-dot-lf",
        "cr-dot-crlf",
        "lf-dot-lf",
        "dot-lf",
        "crlf",
    ],
)
def test_bare_cr_and_lf_become_crlf_on_the_wire(data: bytes, wire: bytes) -> None:
    """No receiver can read an end of data we did not send: every line ends in CRLF."""
    message = Envelope("digest@example.org", "reader@example.org", "<s@example.org>", data)
    with misbehaving_smtp() as server:
        assert send_now(SmtpTransport(config(server.port)), message) == 250
    assert server.log.messages == [wire]
    assert server.log.verbs() == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]


def test_the_wire_form_of_every_short_message() -> None:
    """The quick path (a message already in CRLF is only counted) agrees with normalising
    every line end, on every string of up to 7 bytes made of CR, LF, dot and a letter."""

    def reference(data: bytes) -> bytes:
        data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
        stuffed = b"\r\n".join(
            b"." + line if line.startswith(b".") else line for line in data.split(b"\r\n")
        )
        return stuffed + (b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n")

    for size in range(8):
        for parts in itertools.product((b"\r", b"\n", b".", b"a"), repeat=size):
            data = b"".join(parts)
            assert _on_the_wire(data) == reference(data), data


def test_a_smuggling_attempt_reaches_aiosmtpd_as_one_message(tls: ssl.SSLContext) -> None:
    data = b"Subject: hi\r\n\r\nhello\n.\r\nMAIL FROM:<x@evil>\r\nRCPT TO:<victim@example.org>\r\n"
    message = Envelope("digest@example.org", "reader@example.org", "<s@example.org>", data)
    with aiosmtpd_server(tls) as (port, inbox):
        transport = SmtpTransport(config(port, "starttls", username="pb", password="pw"))
        assert send_now(transport, message) == 250
    assert inbox.raw == [data.replace(b"hello\n", b"hello\r\n")]


# -- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("control", ["\x00", "\t", "\x0b", "\x0c", "\x1b", "\x7f", "\r", "\n"])
@pytest.mark.parametrize("field", ["sender", "recipient"])
def test_control_characters_in_an_address_are_refused_before_any_byte(
    control: str, field: str
) -> None:
    good = {"sender": "digest@example.org", "recipient": "reader@example.org"}
    bad = dict(good, **{field: f"rea{control}der@example.org"})
    message = Envelope(bad["sender"], bad["recipient"], "<a@example.org>", DATA)
    with misbehaving_smtp() as server:
        with pytest.raises(SendError, match="not a usable address") as refused:
            send_now(SmtpTransport(config(server.port)), message)
        # A reader's unusable address is refused for good and blamed on that reader; our own
        # sender's stops the run (RelayError) and blames nobody.
        assert refused.value.permanent == (field == "recipient")
        assert refused.value.recipient_refused == (field == "recipient")
        assert isinstance(refused.value, RelayError) == (field == "sender")
        # On a connection already open, the refused message writes nothing either.
        transport = SmtpTransport(config(server.port))
        with pytest.raises(SendError, match="not a usable address"):
            send_all(transport, MESSAGE, message)
    assert server.log.connections == 1
    assert server.log.verbs() == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]


# -- every step can go wrong: a clear, temporary error, soon ----------------------------------


@pytest.mark.parametrize(
    "step", ["greeting", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "."]
)
@pytest.mark.parametrize(
    "action", [stall(5), hang_up(), hang_up("421 shutting down")], ids=["stall", "hang-up", "421"]
)
def test_every_step_can_stall_or_hang_up(tls: ssl.SSLContext, step: str, action: Step) -> None:
    with misbehaving_smtp(tls=tls, **{step: action}) as server:
        transport = SmtpTransport(
            config(server.port, "starttls", username="pb", password="pw", timeout=0.3)
        )
        started = time.monotonic()
        with pytest.raises(SendError) as refused:
            send_now(transport, MESSAGE)
        assert time.monotonic() - started < 3
    # After the final ".", silence or a hang-up leaves a message the relay may have kept:
    # Unconfirmed, never tried again (at most once). An answer, even 421, is a clear "no".
    unconfirmed = step == "." and action.reply != hang_up("421 shutting down").reply
    assert isinstance(refused.value, Unconfirmed) == unconfirmed
    assert refused.value.permanent == unconfirmed
    assert server.log.messages == ([STUFFED] if step == "." else [])


def test_a_scripted_list_is_played_in_order(tls: ssl.SSLContext) -> None:
    """A list scripts the first, second, ... time a step comes; then the default answer."""
    with misbehaving_smtp(RCPT=[answer("451 later"), answer("452 full")]) as server:
        for code in (451, 452):
            with pytest.raises(SendError, match=f"RCPT TO refused: {code}"):
                send_now(SmtpTransport(config(server.port)), MESSAGE)
        assert send_now(SmtpTransport(config(server.port)), MESSAGE) == 250
    assert server.log.verbs().count("RSET") == 2
    assert server.log.messages == [STUFFED]


# -- the built message: every line under 998 bytes -------------------------------------------

_LONG_URL = "https://paperboy.example.org/u/" + "t" * 600


def _email(**fields: str) -> OutgoingEmail:
    values = {
        "recipient": "reader@example.org",
        "subject": "Paperboy: 3 new papers",
        "text": "plain",
        "html": "<p>html</p>",
        "message_id": "<digest.1@paperboy.example.org>",
        "unsubscribe_url": "https://paperboy.example.org/u/token",
        "unsubscribe_mailto": "mailto:digest@paperboy.example.org?subject=unsubscribe%20token",
    }
    return OutgoingEmail(**(values | fields))


def _built(
    email: OutgoingEmail,
    sender: str = "Paperboy <digest@paperboy.example.org>",
    list_id: str = "Paperboy digest <digest.paperboy.example.org>",
) -> tuple[bytes, EmailMessage]:
    data = build(email, sender=sender, list_id=list_id, date=datetime(2026, 7, 2, tzinfo=UTC))
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return data, parsed


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        ({"subject": "A" * 5000}, {}),
        ({"subject": "é" * 5000}, {}),
        ({"subject": "\U0001f600" * 3000}, {}),
        ({"subject": "\ud800 Diffusion " + "x" * 2000 + " \x00\u2028"}, {}),
        ({"text": "t\ud800" * 10, "html": "<p>" + "h" * 5000 + "</p>"}, {}),
        (
            {
                "unsubscribe_url": _LONG_URL,
                "unsubscribe_mailto": "mailto:d@x.org?subject=" + "u" * 600,
            },
            {},
        ),
        ({}, {"list_id": "Paperboy " * 200 + "<digest.paperboy.example.org>"}),
        ({}, {"sender": "Pàperboy " * 120 + "<digest@paperboy.example.org>"}),
        ({}, {"sender": "Paperboy " * 120 + "<digest@paperboy.example.org>"}),
    ],
    ids=[
        "ascii-subject",
        "accented-subject",
        "emoji-subject",
        "surrogate-subject",
        "body",
        "unsubscribe",
        "list-id",
        "accented-sender-name",
        "ascii-sender-name",
    ],
)
def test_every_line_of_a_built_message_is_under_998_bytes(
    fields: dict[str, str], options: dict[str, str]
) -> None:
    email = _email(**fields)
    data, parsed = _built(email, **options)
    assert max(len(line) for line in data.split(b"\r\n")) < 998
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")
    unsubscribe = parsed["List-Unsubscribe"]
    assert unsubscribe == f"<{email.unsubscribe_url}>, <{email.unsubscribe_mailto}>"
    assert parsed["Subject"].startswith(email.subject[:10].replace("\ud800", "").strip())
    if "sender" in options:  # RFC 2047 decoding (the email package's phrase parser is loose)
        raw = message_from_bytes(data, policy=policy.compat32)["From"]
        decoded = str(make_header(decode_header(raw)))
        assert " ".join(decoded.split()) == " ".join(options["sender"].split())
    if "list_id" in options:
        assert " ".join(parsed["List-Id"].split()) == " ".join(options["list_id"].split())


def test_a_url_that_cannot_fit_a_line_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="List-Unsubscribe"):
        _built(_email(unsubscribe_url="https://paperboy.example.org/u/" + "t" * 1000))
