"""An SMTP client on asyncio streams: STARTTLS, implicit TLS, plain, AUTH, PIPELINING for the
envelope, one reused connection.

Written by hand because what it must do is small and its cost per message is the sender's
budget: smtplib blocks a thread per connection (a pool of 64 threads spent ~2 ms of CPU a
message contending for the GIL), and aiosmtplib runs two regular expressions over every
message. Here a message costs a few writes, four replies read, and one C-level replace for
dot-stuffing (bench/RESULTS.md, "send").
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import re
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn

from mailer.transports import BeforeData, RelayError, SendError, Unconfirmed, is_permanent
from mailer.types import Envelope


@dataclass(frozen=True, slots=True)
class SmtpTimeouts:
    """Seconds to wait at each step; the defaults are RFC 5321 4.5.3.2's. The longest is for the
    reply to the final ".": a relay may scan the message first, and giving up on it early
    leaves a message that may have been delivered ("unknown", never sent again)."""

    connect: float = 30.0  # the TCP connection and a TLS handshake (the RFC names none)
    greeting: float = 300.0  # the server's 220
    command: float = 300.0  # EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, NOOP replies
    data_start: float = 120.0  # the 354 to DATA
    data_block: float = 180.0  # writing the message while the server is slow to read it
    data_end: float = 600.0  # the reply to the final "."

    @classmethod
    def every(cls, seconds: float) -> SmtpTimeouts:
        return cls(seconds, seconds, seconds, seconds, seconds, seconds)


class Security(StrEnum):
    """How the connection to the relay is protected (PAPERBOY_SMTP_SECURITY)."""

    NONE = "none"  # plain text (a relay on localhost)
    STARTTLS = "starttls"  # plain, then upgraded before AUTH (port 587)
    TLS = "tls"  # TLS from the first byte (port 465)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: Security  # "starttls" as configured becomes Security.STARTTLS
    username: str = ""
    password: str = ""
    timeout: float | None = None  # one limit for every step (a quick check); else `timeouts`
    verify_tls: bool = True
    timeouts: SmtpTimeouts = SmtpTimeouts()

    def __post_init__(self) -> None:
        object.__setattr__(self, "security", Security(self.security))  # unknown: ValueError

    @property
    def limits(self) -> SmtpTimeouts:
        return self.timeouts if self.timeout is None else SmtpTimeouts.every(self.timeout)


_SMALL = 16_384  # commands are tiny; only a message's bytes need the write buffer drained
_LINE_LIMIT = 2**16  # the reader's buffer limit: a longer reply line is refused
# One reply's lines and bytes at most: RFC 5321 4.5.3.1.5 allows 512 bytes a line, and EHLO
# answers run to a dozen or two lines. A server that never ends its reply is cut off here.
_REPLY_LINES = 100
_REPLY_BYTES = 32_768
_GOODBYE = 10.0  # seconds at most for QUIT's answer and the close: nothing depends on them
# A refusal that is about us (our login, our right to relay) whatever step it answers.
_ABOUT_US = re.compile(
    r"authentication required|relay(ing)? (access )?(denied|not permitted)", re.I
)
_UNUSABLE = re.compile(r"[\x00-\x20\x7f<>]")  # controls, space, brackets: never in an address
_LINE_END = re.compile(rb"\r\n|\r|\n")


class Dropped(Exception):
    """The server closed the connection or sent what is not an SMTP reply."""


class _Connection:
    """One SMTP session's streams: write a command, read its (multi-line) reply."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeouts: SmtpTimeouts
    ) -> None:
        self.reader, self.writer, self.timeouts = reader, writer, timeouts
        self.pipelining = False  # the server offers RFC 2920 PIPELINING

    async def reply(self, timeout: float | None = None) -> tuple[int, str]:
        code, lines = await self.reply_lines(timeout)
        return code, b" ".join(lines).decode("utf-8", "replace")

    async def reply_lines(self, timeout: float | None = None) -> tuple[int, list[bytes]]:
        """One reply, within ``timeout`` seconds (a command's, unless told)."""
        lines: list[bytes] = []
        size = 0
        async with asyncio.timeout(self.timeouts.command if timeout is None else timeout):
            while True:
                try:
                    line = await self.reader.readline()
                except ValueError as e:  # a line longer than the stream's limit
                    raise Dropped(f"an SMTP reply line longer than {_LINE_LIMIT} bytes") from e
                if not line.endswith(b"\n"):
                    raise Dropped("the SMTP server closed the connection")
                code = line[:3]
                if not code.isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
                    raise Dropped(f"not an SMTP reply: {line[:80]!r}")
                lines.append(line[4:].strip())
                size += len(line)
                if len(lines) > _REPLY_LINES:
                    raise Dropped(f"an SMTP reply of more than {_REPLY_LINES} lines")
                if size > _REPLY_BYTES:
                    raise Dropped(f"an SMTP reply longer than {_REPLY_BYTES} bytes")
                if line[3:4] != b"-":
                    return int(code), lines

    def unread(self) -> int:
        """Bytes received and not read yet (a StreamReader keeps them in a private buffer and
        has no public way to ask)."""
        buffer: bytearray = self.reader._buffer  # type: ignore[attr-defined]
        return len(buffer)

    def unsent(self) -> int:
        """Bytes written and still in this process's buffers: they never reached the server."""
        return self.writer.transport.get_write_buffer_size()

    async def command(self, line: bytes, timeout: float | None = None) -> tuple[int, str]:
        self.writer.write(line + b"\r\n")
        return await self.reply(timeout)

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(min(self.timeouts.command, _GOODBYE)):
                await self.writer.wait_closed()
        except TimeoutError:  # a TLS peer that never answers our close_notify: do not wait
            self.writer.transport.abort()
        except OSError:  # includes ssl.SSLError
            pass


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for every message after."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._connection: _Connection | None = None

    async def check(self) -> None:
        """Connect, say EHLO, start TLS and log in as configured, then NOOP: no mail is sent."""
        connection = self._connection or await self._open()
        ((code, reply),) = await self._exchange(connection, b"NOOP\r\n", step="NOOP")
        if code != 250:
            raise SendError(
                f"the SMTP server answered NOOP with {code} {reply}",
                code=code,
                permanent=False,
                step="NOOP",
            )

    async def send(self, message: Envelope, before_data: BeforeData) -> int:
        mail = b"MAIL FROM:<" + _address(message.sender, ours=True) + b">\r\n"
        rcpt = b"RCPT TO:<" + _address(message.recipient) + b">\r\n"
        connection, answers = await self._envelope(mail, rcpt)
        for (code, reply), step in zip(answers, ("MAIL FROM", "RCPT TO"), strict=False):
            if not 200 <= code < 300:
                await self._refuse(connection, code, reply, step)
        try:
            await before_data()
        except BaseException:  # e.g. the lease was lost: leave the session clean for the next
            await self._reset(connection)
            raise
        timeouts = connection.timeouts
        ((code, reply),) = await self._exchange(
            connection, b"DATA\r\n", 1, timeouts.data_start, step="DATA"
        )
        if code != 354:
            await self._refuse(connection, code, reply, "DATA")
        code, reply = await self._transfer(connection, _on_the_wire(message.data))
        if not 200 <= code < 300:
            await self._refuse(connection, code, reply, "end of data")
        return code

    async def _transfer(self, connection: _Connection, wire: bytes) -> tuple[int, str]:
        """The message and the reply to its final ".". Once the last byte has left this process
        the relay may have the message, whatever happens next: a failure then is Unconfirmed
        (at most once). While bytes are still in our buffer the final "." never left, so the
        relay cannot have it: the connection is aborted (so they never leave) and the failure
        is temporary."""
        timeouts = connection.timeouts
        try:
            connection.writer.write(wire)
            if len(wire) > _SMALL:  # wait while the server is slow to read it
                async with asyncio.timeout(timeouts.data_block):
                    await connection.writer.drain()
            return await connection.reply(timeouts.data_end)
        except (OSError, Dropped) as e:  # OSError includes TimeoutError and ssl.SSLError
            unsent = connection.unsent()
            if unsent:
                connection.writer.transport.abort()
            await self._forget(connection)
            if unsent:
                raise SendError(
                    f"the SMTP server stopped reading the message ({_reason(e)}); its end never "
                    "left, so it was not delivered",
                    code=None,
                    permanent=False,
                    step="message",
                ) from e
            failed = (
                str(e) if isinstance(e, Dropped) else f"the SMTP connection failed: {_reason(e)}"
            )
            raise Unconfirmed(failed) from e

    async def _envelope(
        self, mail: bytes, rcpt: bytes
    ) -> tuple[_Connection, list[tuple[int, str]]]:
        """MAIL and RCPT, with their answers. A reused connection the server has closed since
        (many close after so many messages, some with a 421 first) is replaced once: nothing
        was handed over yet, so trying again on a fresh one is safe."""
        connection = self._connection
        if connection is not None:
            try:
                answers = await self._mail_rcpt(connection, mail, rcpt)
            except SendError:  # already forgotten
                pass
            else:
                if answers[0][0] != 421:
                    return connection, answers
                await self._forget(connection)
        connection = await self._open()
        return connection, await self._mail_rcpt(connection, mail, rcpt)

    async def _mail_rcpt(
        self, connection: _Connection, mail: bytes, rcpt: bytes
    ) -> list[tuple[int, str]]:
        if connection.pipelining:  # both commands in one write: one round trip instead of two
            return await self._exchange(connection, mail + rcpt, 2, step="MAIL FROM")
        answers = await self._exchange(connection, mail, step="MAIL FROM")
        if 200 <= answers[0][0] < 300:
            answers += await self._exchange(connection, rcpt, step="RCPT TO")
        return answers

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(OSError, Dropped):
                await connection.command(b"QUIT", min(connection.timeouts.command, _GOODBYE))
            await connection.close()

    # -- the conversation --------------------------------------------------------------------

    async def _exchange(
        self,
        connection: _Connection,
        payload: bytes,
        replies: int = 1,
        timeout: float | None = None,
        *,
        step: str,
    ) -> list[tuple[int, str]]:
        """Write commands and read their replies (each within ``timeout``, a command's unless
        told); a broken connection is forgotten and becomes a temporary SendError."""
        try:
            connection.writer.write(payload)
            return [await connection.reply(timeout) for _ in range(replies)]
        except Dropped as e:
            await self._forget(connection)
            raise SendError(str(e), code=None, permanent=False, step=step) from e
        except OSError as e:  # includes TimeoutError and ssl.SSLError
            await self._forget(connection)
            raise SendError(
                f"the SMTP connection failed: {_reason(e)}",
                code=None,
                permanent=False,
                step=step,
            ) from e

    async def _refuse(self, connection: _Connection, code: int, reply: str, step: str) -> NoReturn:
        """Raise the refusal (see _refusal), after leaving the session clean."""
        await self._reset(connection)
        raise _refusal(code, reply, step)

    async def _reset(self, connection: _Connection) -> None:
        """RSET, so the next message starts afresh; hang up if even that fails."""
        try:
            if (await connection.command(b"RSET"))[0] != 250:
                await self._forget(connection)
        except (OSError, Dropped):
            await self._forget(connection)

    async def _forget(self, connection: _Connection) -> None:
        if self._connection is connection:
            self._connection = None
        await connection.close()

    async def _open(self) -> _Connection:
        c = self._config
        timeouts = c.limits
        where = f"{c.host}:{c.port}"
        context = _tls_context(c.verify_tls) if c.security is not Security.NONE else None
        connection: _Connection | None = None
        step = "connect"
        try:
            async with asyncio.timeout(timeouts.connect):
                reader, writer = await asyncio.open_connection(
                    c.host,
                    c.port,
                    ssl=context if c.security is Security.TLS else None,
                    limit=_LINE_LIMIT,
                )
            connection = _Connection(reader, writer, timeouts)
            step = "greeting"
            code, reply = await connection.reply(timeouts.greeting)
            if code != 220:
                _fail(f"the SMTP server {where} greeted us with {code} {reply}", code, step)
            step = "EHLO"
            features = await _hello(connection)
            if c.security is Security.STARTTLS:
                step = "STARTTLS"
                if "starttls" not in features:
                    raise RelayError(
                        f"the SMTP server {where} does not offer STARTTLS: set "
                        "PAPERBOY_SMTP_SECURITY=tls for implicit TLS (port 465) or none for a "
                        "local relay",
                        code=None,
                        step=step,
                    )
                code, reply = await connection.command(b"STARTTLS")
                if code != 220:
                    _fail(f"the SMTP server refused STARTTLS: {code} {reply}", code, step)
                assert context is not None
                await _start_tls(connection, context, c.host, c.port)
                step = "EHLO"
                features = await _hello(connection)
            if c.username:
                step = "AUTH"
                await _login(connection, features, c.username, c.password)
            connection.pipelining = "pipelining" in features
        except SendError:
            if connection is not None:
                await connection.close()
            raise
        except (OSError, Dropped) as e:  # OSError includes TimeoutError and ssl.SSLError
            if connection is not None:
                await connection.close()
            message = f"cannot reach the SMTP server {where}: {_reason(e)}"
            if isinstance(e, ssl.SSLCertVerificationError):  # ours to fix, not the readers'
                raise RelayError(
                    message,
                    code=None,
                    step=step,
                    hint="the relay's certificate is not trusted here: fix it, trust its CA, or "
                    "for a local relay set PAPERBOY_SMTP_VERIFY_TLS=false",
                ) from e
            raise SendError(message, code=None, permanent=False, step=step) from e
        self._connection = connection
        return connection


def _fail(message: str, code: int, step: str) -> NoReturn:
    """A refusal while opening the session: about the relay or our login, never a reader;
    permanent (5xx) ones stop the run, the rest are tried again later."""
    if 500 <= code < 600:
        raise RelayError(message, code=code, step=step)
    raise SendError(message, code=code, permanent=False, step=step)


def _refusal(code: int, reply: str, step: str) -> SendError:
    """A refusal of one message: whom it is about and whether to try again.

    A 5xx to MAIL FROM refuses our own sender, and a 530 (or "authentication required",
    "relay access denied") at any step our login or our right to relay: RelayError, never a
    reader's fault. A reply to RCPT TO is about the recipient, and so is a 5xx to the DATA of
    its message (each message has one recipient). 421 is the relay closing: temporary.
    """
    message = f"{step} refused: {code} {reply}"
    permanent = is_permanent(code)
    if code == 530 or (500 <= code < 600 and _ABOUT_US.search(reply)):
        return RelayError(
            message,
            code=code,
            step=step,
            hint="the relay wants a login or refuses to relay for us: check "
            "PAPERBOY_SMTP_USERNAME, PAPERBOY_SMTP_PASSWORD and PAPERBOY_SMTP_SECURITY",
        )
    if step == "MAIL FROM" and permanent:
        return RelayError(
            message,
            code=code,
            step=step,
            hint="the relay refuses our sender: check PAPERBOY_MAIL_FROM (and that the "
            "login may send as it)",
        )
    about = code != 421 and (step == "RCPT TO" or (permanent and step in ("DATA", "end of data")))
    return SendError(message, code=code, permanent=permanent, step=step, recipient_refused=about)


async def _start_tls(
    connection: _Connection, context: ssl.SSLContext, host: str, port: int
) -> None:
    """The TLS handshake after the server's 220 to STARTTLS. Bytes that came with or behind
    that 220 came before the handshake, unprotected, and would be read as the server's first
    answers under TLS (STARTTLS response injection, CVE-2011-0411): a server that sends any
    is refused, before the handshake and again after it."""
    _refuse_unread(connection, host, port)
    async with asyncio.timeout(connection.timeouts.connect):
        await connection.writer.start_tls(context, server_hostname=host)
    _refuse_unread(connection, host, port)


def _refuse_unread(connection: _Connection, host: str, port: int) -> None:
    if connection.unread():  # the relay's fault or an attacker's: the operator must look
        raise RelayError(
            f"the SMTP server {host}:{port} sent more after its 220 to STARTTLS; bytes that "
            "did not come over TLS are never read (a man in the middle may have added them): "
            "not sending",
            code=None,
            step="STARTTLS",
        )


def _on_the_wire(data: bytes) -> bytes:
    """A message as DATA sends it: every line ended by CRLF (a bare CR or LF becomes one, so
    no receiver finds an end of data we did not send: SMTP smuggling), dot-stuffed (RFC 5321
    4.5.2), then the end-of-data line. A message already in CRLF costs two C-level passes
    more than the stuffing's replace: every CR and LF is in a CRLF exactly when there are half
    as many CRLFs as CRs and LFs together (deleting CR and LF counts them in one pass)."""
    if 2 * data.count(b"\r\n") != len(data) - len(data.translate(None, b"\r\n")):
        data = _LINE_END.sub(b"\r\n", data)
    stuffed = (b"." + data if data.startswith(b".") else data).replace(b"\r\n.", b"\r\n..")
    return stuffed + (b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n")


async def _hello(connection: _Connection) -> dict[str, str]:
    """EHLO (HELO if refused); the extensions the server offers, by lower-case keyword."""
    connection.writer.write(b"EHLO " + _local_name() + b"\r\n")
    code, lines = await connection.reply_lines()
    if code == 250:
        features = {}
        for item in lines[1:]:
            keyword, _, value = item.decode("ascii", "replace").partition(" ")
            features[keyword.lower()] = value
        return features
    code, reply = await connection.command(b"HELO " + _local_name())
    if code != 250:
        _fail(f"the SMTP server refused HELO: {code} {reply}", code, "EHLO")
    return {}


async def _login(
    connection: _Connection, features: dict[str, str], user: str, password: str
) -> None:
    mechanisms = features.get("auth", "").upper().split()
    if "PLAIN" in mechanisms:
        secret = base64.b64encode(f"\0{user}\0{password}".encode())
        code, reply = await connection.command(b"AUTH PLAIN " + secret)
    elif "LOGIN" in mechanisms:
        code, reply = await connection.command(b"AUTH LOGIN")
        for value in (user, password):
            if code != 334:
                break
            code, reply = await connection.command(base64.b64encode(value.encode()))
    else:
        raise RelayError(
            "the SMTP server offers no login we speak (AUTH PLAIN or LOGIN); most servers offer "
            "it only after STARTTLS: check PAPERBOY_SMTP_SECURITY",
            code=None,
            step="AUTH",
        )
    if code != 235:
        _fail(f"the SMTP server refused our login ({code}): {reply}", code, "AUTH")


def _address(value: str, *, ours: bool = False) -> bytes:
    """An address fit to go between < and > in an SMTP command (no command injection): no
    control character, space or bracket, one @. Checked before any byte is written. A
    recipient's is that recipient's problem; our own sender's stops the run."""
    problem = ""
    if not value or _UNUSABLE.search(value) or value.count("@") != 1:
        problem = f"not a usable address: {value!r}"
    elif not value.isascii():
        problem = f"not an ASCII address (SMTPUTF8 is not supported): {value!r}"
    if not problem:
        return value.encode("ascii")
    if ours:
        raise RelayError(problem, code=None, step="address", hint="fix PAPERBOY_MAIL_FROM")
    raise SendError(problem, code=None, permanent=True, step="address", recipient_refused=True)


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


@functools.cache
def _local_name() -> bytes:
    """The name we give in EHLO (what smtplib gives: the fully qualified host name)."""
    name = socket.getfqdn()
    return name.encode("idna") if name else b"localhost"


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One context per process: building one loads the system's CA store (~20 ms), which a
    connection per message would pay every time."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
