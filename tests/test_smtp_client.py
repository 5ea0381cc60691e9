"""The asyncio SMTP client against servers that behave and servers that do not (all on loopback).

aiosmtpd stands in for a well-behaved server; a scripted socket server plays the odd ones (a
silent server, a refusal at greeting, no EHLO, garbage for replies, missing extensions).
"""

from __future__ import annotations

import asyncio
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from mailer.smtp import SmtpConfig, SmtpTransport
from mailer.transports import SendError, send_now
from mailer.types import Envelope
from tests.smtp_server import Inbox, _Handler, free_port, smtp_server

MESSAGE = Envelope(
    "digest@example.org",
    "reader@example.org",
    "<m@example.org>",
    b"From: digest@example.org\r\nTo: reader@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
)


def plain(port: int, **options: Any) -> SmtpConfig:
    return SmtpConfig("127.0.0.1", port, "none", **options)


def test_a_message_abandoned_before_data_leaves_the_connection_clean() -> None:
    """A lost lease stops a message after RCPT: the next one on the same connection must not
    meet "503 nested MAIL command" (it would be failed for nothing)."""

    class Stop(Exception):
        pass

    async def refuse() -> None:
        raise Stop

    async def go_on() -> None:
        pass

    async def scenario(transport: SmtpTransport) -> int:
        with pytest.raises(Stop):
            await transport.send(MESSAGE, refuse)
        try:
            return await transport.send(MESSAGE, go_on)
        finally:
            await transport.close()

    with smtp_server() as (port, inbox):
        assert asyncio.run(scenario(SmtpTransport(plain(port)))) == 250
    assert len(inbox.to("reader@example.org")) == 1
    assert inbox.connections == 1


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_both_login_mechanisms(mechanism: str) -> None:
    def authenticate(server: Any, session: Any, envelope: Any, used: str, data: Any) -> AuthResult:
        seen.append(used)
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"pb", b"pw")
        return AuthResult(success=ok, handled=False)

    seen: list[str] = []
    inbox = Inbox()
    port = free_port()
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    controller = Controller(
        _Handler(inbox),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
        auth_exclude_mechanism=[other],
    )
    controller.start()
    try:
        assert send_now(SmtpTransport(plain(port, username="pb", password="pw")), MESSAGE) == 250
        with pytest.raises(SendError, match=r"refused our login \(535\)"):
            send_now(SmtpTransport(plain(port, username="pb", password="no")), MESSAGE)
    finally:
        controller.stop()
    assert seen == [mechanism, mechanism]
    assert len(inbox.messages) == 1


class _Scripted(socketserver.BaseRequestHandler):
    """Greets with ``script["greeting"]``, then answers each command by its verb; keeps every
    chunk it reads (one write of the client's usually arrives as one chunk on loopback)."""

    script: dict[str, str]
    chunks: list[bytes]

    def handle(self) -> None:
        greeting = self.script.get("greeting")
        if greeting is None:  # a server that accepts and never speaks
            time.sleep(2)
            return
        self.chunks.append(b"<connected>")
        self.request.sendall(greeting.encode() + b"\r\n")
        buffer, in_data, accepted = b"", False, 0
        limit = int(self.script.get("limit", "1000"))  # messages a connection may carry
        while chunk := self.request.recv(65536):
            self.chunks.append(chunk)
            buffer += chunk
            while True:
                if in_data:
                    end = buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    buffer, in_data, accepted = buffer[end + 5 :], False, accepted + 1
                    self.request.sendall(b"250 queued\r\n")
                    continue
                line, found, rest = buffer.partition(b"\r\n")
                if not found:
                    break
                buffer = rest
                verb = line.split(b" ")[0].decode().upper()
                if verb == "MAIL" and accepted >= limit:
                    self.request.sendall(b"421 too many messages on one connection\r\n")
                    return
                self.request.sendall(self.script.get(verb, "250 OK").encode() + b"\r\n")
                in_data = verb == "DATA"
                if verb == "QUIT":
                    return


@contextmanager
def scripted(chunks: list[bytes] | None = None, **script: str) -> Iterator[int]:
    handler = type(
        "Handler", (_Scripted,), {"script": script, "chunks": [] if chunks is None else chunks}
    )
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("offered", [True, False], ids=["offered", "not-offered"])
def test_the_envelope_is_pipelined_only_when_offered(offered: bool) -> None:
    chunks: list[bytes] = []
    ehlo = "250-relay\r\n250-PIPELINING\r\n250 8BITMIME" if offered else "250 relay"
    with scripted(chunks, greeting="220 relay", EHLO=ehlo, DATA="354 go") as port:
        assert send_now(SmtpTransport(plain(port)), MESSAGE) == 250
    together = [c for c in chunks if b"MAIL FROM:" in c and b"RCPT TO:" in c]
    assert len(together) == (1 if offered else 0)
    assert any(b"MAIL FROM:<digest@example.org>" in c for c in chunks)


@pytest.mark.parametrize("offered", [True, False], ids=["pipelining", "one-by-one"])
def test_a_connection_the_server_closed_is_replaced_without_failing_a_message(
    offered: bool,
) -> None:
    """Many relays take so many messages on a connection, then answer 421 and hang up: the
    next message goes out on a fresh connection instead of waiting for a retry."""

    async def nothing() -> None:
        pass

    async def three(transport: SmtpTransport) -> list[int]:
        codes = [await transport.send(MESSAGE, nothing) for _ in range(3)]
        await transport.close()
        return codes

    chunks: list[bytes] = []
    ehlo = "250-relay\r\n250 PIPELINING" if offered else "250 relay"
    with scripted(chunks, greeting="220 relay", EHLO=ehlo, DATA="354 go", limit="2") as port:
        assert asyncio.run(three(SmtpTransport(plain(port)))) == [250, 250, 250]
    assert chunks.count(b"<connected>") == 2
    assert sum(c.count(b"\r\n.\r\n") for c in chunks) == 3  # each message once


def test_a_server_without_ehlo_gets_helo() -> None:
    with scripted(greeting="220 old relay", EHLO="502 no such command", DATA="354 go") as port:
        assert send_now(SmtpTransport(plain(port)), MESSAGE) == 250


@pytest.mark.parametrize(
    ("script", "security", "options", "error"),
    [
        ({}, "none", {"timeout": 0.3}, r"cannot reach the SMTP server .*: TimeoutError"),
        ({"greeting": "554 go away"}, "none", {}, r"greeted us with 554 go away"),
        ({"greeting": "hello there"}, "none", {}, r"not an SMTP reply: b'hello there"),
        ({"greeting": "220 hi"}, "starttls", {}, r"does not offer STARTTLS.*SMTP_SECURITY"),
        ({"greeting": "220 hi"}, "none", {"username": "u"}, r"offers no login we speak"),
        ({"greeting": "220 hi", "MAIL": "451 later"}, "none", {}, r"MAIL FROM refused: 451"),
    ],
    ids=["silent", "refused-greeting", "garbage", "no-starttls", "no-auth", "mail-refused"],
)
def test_odd_servers_give_clear_errors(
    script: dict[str, str], security: str, options: dict[str, Any], error: str
) -> None:
    with scripted(**script) as port:
        config = SmtpConfig("127.0.0.1", port, security, **options)
        started = time.monotonic()
        with pytest.raises(SendError, match=error) as refused:
            send_now(SmtpTransport(config), MESSAGE)
    assert not refused.value.permanent
    assert time.monotonic() - started < 2


def test_a_non_ascii_address_is_refused_before_the_conversation() -> None:
    with smtp_server() as (port, inbox):
        message = Envelope("digest@example.org", "rené@example.org", "<m@x>", MESSAGE.data)
        with pytest.raises(SendError, match="not an ASCII address") as refused:
            send_now(SmtpTransport(plain(port)), message)
    assert refused.value.permanent
    assert inbox.messages == []
