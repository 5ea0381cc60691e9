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
from typing import NoReturn

from mailer.transports import BeforeData, SendError, is_permanent
from mailer.types import Envelope


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str = ""
    password: str = ""
    timeout: float = 30.0  # seconds for the connection and for each reply
    verify_tls: bool = True


_SMALL = 16_384  # commands are tiny; only a message's bytes need the write buffer drained
_LINE_LIMIT = 2**16  # the reader's buffer limit: a longer reply line is refused
# One reply's lines and bytes at most: RFC 5321 4.5.3.1.5 allows 512 bytes a line, and EHLO
# answers run to a dozen or two lines. A server that never ends its reply is cut off here.
_REPLY_LINES = 100
_REPLY_BYTES = 32_768
_UNUSABLE = re.compile(r"[\x00-\x20\x7f<>]")  # controls, space, brackets: never in an address
_LINE_END = re.compile(rb"\r\n|\r|\n")


class Dropped(Exception):
    """The server closed the connection or sent what is not an SMTP reply."""


class _Connection:
    """One SMTP session's streams: write a command, read its (multi-line) reply."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout
        self.pipelining = False  # the server offers RFC 2920 PIPELINING

    async def reply(self) -> tuple[int, str]:
        code, lines = await self.reply_lines()
        return code, b" ".join(lines).decode("utf-8", "replace")

    async def reply_lines(self) -> tuple[int, list[bytes]]:
        lines: list[bytes] = []
        size = 0
        async with asyncio.timeout(self.timeout):
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

    async def command(self, line: bytes) -> tuple[int, str]:
        self.writer.write(line + b"\r\n")
        return await self.reply()

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(self.timeout):
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
        ((code, reply),) = await self._exchange(connection, b"NOOP\r\n")
        if code != 250:
            raise SendError(
                f"the SMTP server answered NOOP with {code} {reply}", code=code, permanent=False
            )

    async def send(self, message: Envelope, before_data: BeforeData) -> int:
        mail = b"MAIL FROM:<" + _address(message.sender) + b">\r\n"
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
        ((code, reply),) = await self._exchange(connection, b"DATA\r\n")
        if code != 354:
            await self._refuse(connection, code, reply, "DATA")
        ((code, reply),) = await self._exchange(connection, _on_the_wire(message.data))
        if not 200 <= code < 300:
            await self._refuse(connection, code, reply, "DATA")
        return code

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
            return await self._exchange(connection, mail + rcpt, 2)
        answers = await self._exchange(connection, mail)
        if 200 <= answers[0][0] < 300:
            answers += await self._exchange(connection, rcpt)
        return answers

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(OSError, Dropped):
                await connection.command(b"QUIT")
            await connection.close()

    # -- the conversation --------------------------------------------------------------------

    async def _exchange(
        self, connection: _Connection, payload: bytes, replies: int = 1
    ) -> list[tuple[int, str]]:
        """Write commands (or a whole dot-terminated message) and read their replies; a broken
        connection is forgotten and becomes a temporary SendError."""
        try:
            connection.writer.write(payload)
            if len(payload) > _SMALL:  # a message: wait while the server is slow to read it
                async with asyncio.timeout(connection.timeout):
                    await connection.writer.drain()
            return [await connection.reply() for _ in range(replies)]
        except Dropped as e:
            await self._forget(connection)
            raise SendError(str(e), code=None, permanent=False) from e
        except OSError as e:  # includes TimeoutError and ssl.SSLError
            await self._forget(connection)
            raise SendError(
                f"the SMTP connection failed: {_reason(e)}", code=None, permanent=False
            ) from e

    async def _refuse(self, connection: _Connection, code: int, reply: str, step: str) -> NoReturn:
        """Raise the refusal as a SendError, after leaving the session clean."""
        await self._reset(connection)
        raise SendError(f"{step} refused: {code} {reply}", code=code, permanent=is_permanent(code))

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
        context = _tls_context(c.verify_tls) if c.security in ("tls", "starttls") else None
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(c.timeout):
                reader, writer = await asyncio.open_connection(
                    c.host,
                    c.port,
                    ssl=context if c.security == "tls" else None,
                    limit=_LINE_LIMIT,
                )
            connection = _Connection(reader, writer, c.timeout)
            code, reply = await connection.reply()
            if code != 220:
                raise SendError(
                    f"the SMTP server {c.host}:{c.port} greeted us with {code} {reply}",
                    code=code,
                    permanent=False,
                )
            features = await _hello(connection)
            if c.security == "starttls":
                if "starttls" not in features:
                    raise SendError(
                        f"the SMTP server {c.host}:{c.port} does not offer STARTTLS: set "
                        "PAPERBOY_SMTP_SECURITY=tls for implicit TLS (port 465) or none for a "
                        "local relay",
                        code=None,
                        permanent=False,
                    )
                code, reply = await connection.command(b"STARTTLS")
                if code != 220:
                    raise SendError(
                        f"the SMTP server refused STARTTLS: {code} {reply}",
                        code=code,
                        permanent=False,
                    )
                assert context is not None
                await _start_tls(connection, context, c.host, c.port)
                features = await _hello(connection)
            if c.username:
                await _login(connection, features, c.username, c.password)
            connection.pipelining = "pipelining" in features
        except SendError:
            if connection is not None:
                await connection.close()
            raise
        except (OSError, Dropped) as e:  # OSError includes TimeoutError and ssl.SSLError
            if connection is not None:
                await connection.close()
            raise SendError(
                f"cannot reach the SMTP server {c.host}:{c.port}: {_reason(e)}",
                code=None,
                permanent=False,
            ) from e
        self._connection = connection
        return connection


async def _start_tls(
    connection: _Connection, context: ssl.SSLContext, host: str, port: int
) -> None:
    """The TLS handshake after the server's 220 to STARTTLS. Bytes that came with or behind
    that 220 came before the handshake, unprotected, and would be read as the server's first
    answers under TLS (STARTTLS response injection, CVE-2011-0411): a server that sends any
    is refused, before the handshake and again after it."""
    _refuse_unread(connection, host, port)
    async with asyncio.timeout(connection.timeout):
        await connection.writer.start_tls(context, server_hostname=host)
    _refuse_unread(connection, host, port)


def _refuse_unread(connection: _Connection, host: str, port: int) -> None:
    if connection.unread():
        raise SendError(
            f"the SMTP server {host}:{port} sent more after its 220 to STARTTLS; bytes that "
            "did not come over TLS are never read (a man in the middle may have added them): "
            "not sending",
            code=None,
            permanent=False,
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
        raise SendError(f"the SMTP server refused HELO: {code} {reply}", code=code, permanent=False)
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
        raise SendError(
            "the SMTP server offers no login we speak (AUTH PLAIN or LOGIN); most servers offer "
            "it only after STARTTLS: check PAPERBOY_SMTP_SECURITY",
            code=None,
            permanent=False,
        )
    if code != 235:
        raise SendError(
            f"the SMTP server refused our login ({code}): {reply}", code=code, permanent=False
        )


def _address(value: str) -> bytes:
    """An address fit to go between < and > in an SMTP command (no command injection): no
    control character, space or bracket, one @. Checked before any byte is written."""
    if not value or _UNUSABLE.search(value) or value.count("@") != 1:
        raise SendError(f"not a usable address: {value!r}", code=None, permanent=True)
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        raise SendError(
            f"not an ASCII address (SMTPUTF8 is not supported): {value!r}",
            code=None,
            permanent=True,
        ) from None


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
