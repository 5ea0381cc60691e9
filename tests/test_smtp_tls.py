"""The SMTP transport's security modes against a real server: STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from mailer.smtp import SmtpConfig, SmtpTransport
from mailer.transports import SendError, send_now
from mailer.types import Envelope
from tests.smtp_server import Inbox, _Handler, free_port

MESSAGE = Envelope(
    "digest@example.org",
    "reader@example.org",
    "<t@example.org>",
    b"From: digest@example.org\r\nTo: reader@example.org\r\nSubject: hi\r\n\r\n"
    b".dot line\r\nbody\r\n",
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    directory = tmp_path_factory.mktemp("tls")
    key, cert = str(directory / "key.pem"), str(directory / "cert.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"paperboy", b"s3cret")
    return AuthResult(success=ok, handled=False)


@contextmanager
def server(certificate: tuple[str, str], *, implicit: bool) -> Iterator[tuple[int, Inbox]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate[1], certificate[0])
    inbox = Inbox()
    port = free_port()
    options: dict[str, Any] = {"authenticator": _authenticate, "auth_require_tls": not implicit}
    if implicit:  # the whole session is TLS: aiosmtpd's STARTTLS-only check does not apply
        options["ssl_context"] = context
    else:
        options |= {"tls_context": context, "require_starttls": True}
    controller = Controller(_Handler(inbox), hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_tls_and_auth(certificate: tuple[str, str], implicit: bool) -> None:
    with server(certificate, implicit=implicit) as (port, inbox):
        config = SmtpConfig(
            "127.0.0.1",
            port,
            "tls" if implicit else "starttls",
            username="paperboy",
            password="s3cret",
            verify_tls=False,
        )
        marks: list[str] = []

        async def mark() -> None:
            marks.append("data")

        async def twice(transport: SmtpTransport) -> list[int]:
            codes = [await transport.send(MESSAGE, mark) for _ in range(2)]
            await transport.close()
            return codes

        assert asyncio.run(twice(SmtpTransport(config))) == [250, 250]
    assert marks == ["data", "data"]
    assert len(inbox.to("reader@example.org")) == 2
    # One connection for both messages (EHLO is sent again after STARTTLS).
    assert inbox.connections == (1 if implicit else 2)
    body = inbox.messages[0].get_content()
    assert body.startswith(".dot line")  # dot-stuffing undone by the server


def test_a_wrong_password_is_a_clear_error(certificate: tuple[str, str]) -> None:
    with server(certificate, implicit=False) as (port, inbox):
        config = SmtpConfig(
            "127.0.0.1", port, "starttls", username="paperboy", password="nope", verify_tls=False
        )
        with pytest.raises(SendError, match=r"the SMTP server refused our login \(535\)"):
            send_now(SmtpTransport(config), MESSAGE)
    assert inbox.messages == []


def test_an_untrusted_certificate_is_refused_by_default(certificate: tuple[str, str]) -> None:
    with server(certificate, implicit=False) as (port, _):
        config = SmtpConfig("127.0.0.1", port, "starttls")
        with pytest.raises(SendError, match="cannot reach the SMTP server"):
            send_now(SmtpTransport(config), MESSAGE)
