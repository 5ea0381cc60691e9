"""Transports behind one Protocol: SMTP (STARTTLS, TLS, plain, AUTH, reuse), an outbox, null.

Each ``send`` calls ``before_data`` right before the point of no return (SMTP DATA, the outbox
rename), so the ledger can tell "never handed over" from "maybe handed over" after a crash.
"""

from __future__ import annotations

import contextlib
import functools
import os
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mailer.types import Envelope
from paperboy.errors import DeliveryError

BeforeData = Callable[[], None]


class SendError(DeliveryError):
    """The transport refused one message: ``permanent`` says whether to try again."""

    def __init__(self, message: str, *, code: int | None, permanent: bool) -> None:
        self.code = code
        self.permanent = permanent
        super().__init__(message)


class Transport(Protocol):
    def send(self, message: Envelope, before_data: BeforeData) -> int:
        """Hand the message over; return the SMTP-like code (250). Raise SendError otherwise."""
        ...

    def close(self) -> None: ...


def is_permanent(code: int) -> bool:
    """5xx is permanent, except 552 (mailbox full, "exceeded storage allocation")."""
    return 500 <= code < 600 and code != 552


class NullTransport:
    """Discards everything (but still walks the ledger): for dry runs and tests."""

    def send(self, message: Envelope, before_data: BeforeData) -> int:
        before_data()
        return 250

    def close(self) -> None:
        pass


class OutboxTransport:
    """Writes each message as an .eml file; the default on a fresh machine."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def send(self, message: Envelope, before_data: BeforeData) -> int:
        name = message.message_id.strip("<>").split("@")[0] + ".eml"
        data = message.data
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            before_data()
            os.replace(temporary, self.directory / name)  # atomic: a whole file or none
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return 250

    def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    verify_tls: bool = True


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for every message after."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        return _tls_context(self._config.verify_tls)

    def _connect(self) -> smtplib.SMTP:
        c = self._config
        smtp: smtplib.SMTP | None = None
        try:
            if c.security == "tls":
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            # Every write is a whole command or a whole message: send it now. Without this, a
            # reply to the previous small write can sit in delayed ACK for 40 ms (seen over TLS).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if c.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if c.username:
                smtp.login(c.username, c.password)
        except smtplib.SMTPAuthenticationError as e:
            _close(smtp)
            raise SendError(
                f"the SMTP server refused our login ({e.smtp_code})",
                code=e.smtp_code,
                permanent=False,
            ) from e
        except (OSError, smtplib.SMTPException) as e:
            _close(smtp)
            raise SendError(
                f"cannot reach the SMTP server {c.host}:{c.port}: {e}", code=None, permanent=False
            ) from e
        return smtp

    def check(self) -> None:
        """Connect, say EHLO, start TLS and log in as configured, then stop: no mail is sent."""
        if self._smtp is None:
            self._smtp = self._connect()
        code, reply = self._smtp.noop()
        if code != 250:
            raise SendError(
                f"the SMTP server answered NOOP with {code} {_text(reply)}",
                code=code,
                permanent=False,
            )

    def send(self, message: Envelope, before_data: BeforeData) -> int:
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            # Both addresses were validated and normalised before they were stored, so the
            # commands are written as is (smtplib's mail()/rcpt() re-parse each address).
            code, reply = smtp.docmd("MAIL", f"FROM:<{_address(message.sender)}>")
            self._check(code, reply, "MAIL FROM", smtp)
            code, reply = smtp.docmd("RCPT", f"TO:<{_address(message.recipient)}>")
            self._check(code, reply, "RCPT TO", smtp)
            before_data()
            code, reply = self._data(smtp, message.data)
            self._check(code, reply, "DATA", smtp)
        except smtplib.SMTPServerDisconnected as e:
            self._smtp = None
            raise SendError(
                f"the SMTP server closed the connection: {e}", code=None, permanent=False
            ) from e
        except OSError as e:
            self._smtp = None
            raise SendError(f"the SMTP connection failed: {e}", code=None, permanent=False) from e
        return code

    def _data(self, smtp: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
        """DATA for a message whose lines already end in CRLF: dot-stuffed with one C-level
        replace (smtplib.data runs two regular expressions over the whole message)."""
        code, reply = smtp.docmd("DATA")
        if code != 354:
            return code, reply
        stuffed = (b"." + data if data.startswith(b".") else data).replace(b"\r\n.", b"\r\n..")
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        smtp.send(stuffed + b".\r\n")
        return smtp.getreply()

    def _check(self, code: int, reply: bytes, step: str, smtp: smtplib.SMTP) -> None:
        if 200 <= code < 300:
            return
        self._reset(smtp)
        raise SendError(
            f"{step} refused: {code} {_text(reply)}", code=code, permanent=is_permanent(code)
        )

    def _reset(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None


def _address(value: str) -> str:
    """An address fit to go between < and > in an SMTP command (no command injection)."""
    if not value or any(c in value for c in "\r\n<> ") or value.count("@") != 1:
        raise SendError(f"not a usable address: {value!r}", code=None, permanent=True)
    return value


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One context per process: building one loads the system's CA store (~20 ms), which a
    connection per message would pay every time."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
