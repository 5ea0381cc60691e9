"""A scripted SMTP server on 127.0.0.1 that misbehaves on cue, one step of the conversation at
a time, and keeps the exact bytes it was sent.

The steps are ``greeting``, the verbs ``EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP QUIT``
and ``.`` (the end of a message's data). A script maps a step to a :class:`Step` (used every
time) or to a list of them (the first time, the second time, ...; then the default answer).
A step waits, writes its bytes in one write, then hangs up if told to::

    with misbehaving_smtp(STARTTLS=inject("220 go ahead", b"250-AUTH LOGIN\\r\\n")) as server:
        ...  # SmtpConfig("127.0.0.1", server.port, "starttls")

Unscripted steps answer like a plain relay: EHLO offers PIPELINING and AUTH PLAIN LOGIN (and
STARTTLS when the server has a certificate), AUTH LOGIN asks for both values, DATA gets 354.
Every socket operation has a timeout, and leaving the ``with`` block ends every stall and
closes every connection.
"""

from __future__ import annotations

import base64
import socket
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

_TIMEOUT = 5.0  # seconds for every socket operation of the server
_MAX_BUFFER = 64 * 2**20  # what one connection may send before the server gives up on it


@dataclass(frozen=True)
class Step:
    """What the server does at one step: stay silent ``wait`` seconds, write ``reply`` (in one
    write, exactly as given), then hang up if ``hang_up``."""

    reply: bytes = b""
    wait: float = 0.0
    hang_up: bool = False


def answer(*lines: str) -> Step:
    """A reply, one CRLF-ended line per argument: ``answer("250-hi", "250 PIPELINING")``."""
    return Step("".join(line + "\r\n" for line in lines).encode())


def stall(seconds: float, then: Step | None = None) -> Step:
    """Say nothing for ``seconds``; then hang up (or do what ``then`` says)."""
    if then is None:
        return Step(wait=seconds, hang_up=True)
    return Step(then.reply, seconds + then.wait, then.hang_up)


def hang_up(reply: str = "") -> Step:
    """Close the connection (after an optional last reply line, such as a 421)."""
    return Step(reply.encode() + b"\r\n" if reply else b"", hang_up=True)


def inject(reply: str, extra: bytes) -> Step:
    """A reply with more bytes right behind it, in the same write."""
    return Step(reply.encode() + b"\r\n" + extra)


def flood(line: bytes, count: int, last: bytes = b"250 end\r\n") -> Step:
    """``count`` copies of ``line`` then ``last``, in one write (a reply that never ends)."""
    return Step(line * count + last)


Script = Mapping[str, Step | Sequence[Step]]
STEPS = frozenset(
    {"greeting", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", ".", "RSET"}
    | {"NOOP", "QUIT"}
)


@dataclass
class Log:
    """What the server saw, across all its connections."""

    connections: int = 0
    tls: int = 0  # TLS handshakes completed (STARTTLS or implicit)
    commands: list[bytes] = field(default_factory=list)  # each command line, without its CRLF
    messages: list[bytes] = field(default_factory=list)  # DATA as sent: stuffed, up to CRLF.CRLF
    logins: list[tuple[str, str]] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)  # every byte, per connection (after TLS)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def verbs(self) -> list[str]:
        with self.lock:
            return [c.split(b" ")[0].decode("ascii", "replace").upper() for c in self.commands]


@dataclass
class MisbehavingServer:
    port: int
    log: Log


class _Stop(Exception):
    """The conversation is over (hung up, timed out, or the fixture is closing)."""


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.sock: socket.socket | ssl.SSLSocket = self.request
        self.sock.settimeout(_TIMEOUT)
        self.buffer = b""
        self.tls = False
        self.index = 0
        with self.server.log.lock:
            self.server.log.connections += 1
            self.index = len(self.server.log.received)
            self.server.log.received.append(b"")
        self.server.track(self.request)

    def handle(self) -> None:
        with suppress(_Stop, OSError):
            if self.server.implicit is not None:
                self._start_tls(self.server.implicit)
            self._act("greeting", b"220 misbehaving ESMTP\r\n")
            while True:
                line = self._line()
                verb = line.split(b" ")[0].decode("ascii", "replace").upper()
                self._log(commands=line)
                self._command(verb, line)

    def finish(self) -> None:
        self.server.untrack(self.request)
        if self.sock is not self.request:  # the TLS socket took the connection over
            self.server.untrack(self.sock)
            self.sock.close()

    # -- the conversation --------------------------------------------------------------------

    def _command(self, verb: str, line: bytes) -> None:
        if verb in ("EHLO", "HELO"):
            self._act(verb, self._ehlo() if verb == "EHLO" else b"250 misbehaving\r\n")
        elif verb == "STARTTLS":
            reply = self._act(verb, b"220 go ahead\r\n")
            context = self.server.context
            if reply.startswith(b"220") and context is not None and not self.tls:
                self.buffer = b""  # nothing said in plaintext counts after the handshake
                self._start_tls(context)
        elif verb == "AUTH":
            self._auth(line)
        elif verb == "DATA":
            if self._act(verb, b"354 end with <CRLF>.<CRLF>\r\n").startswith(b"354"):
                self._log(messages=self._data())
                self._act(".", b"250 queued\r\n")
        elif verb == "QUIT":
            self._act(verb, b"221 bye\r\n")
            raise _Stop
        elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
            self._act(verb, b"250 OK\r\n")
        else:
            self._act(verb, b"502 not implemented\r\n")

    def _ehlo(self) -> bytes:
        lines = [b"250-misbehaving", b"250-PIPELINING", b"250-8BITMIME"]
        if self.server.context is not None and not self.tls:
            lines.append(b"250-STARTTLS")
        lines.append(b"250 AUTH PLAIN LOGIN")
        return b"\r\n".join(lines) + b"\r\n"

    def _auth(self, line: bytes) -> None:
        words = line.split(b" ")
        mechanism = words[1].upper() if len(words) > 1 else b""
        if mechanism == b"PLAIN" and len(words) > 2:
            _, user, password = [*_b64(words[2]).split("\0", 2), "", ""][:3]
            if self._act("AUTH", b"235 welcome\r\n").startswith(b"235"):
                self._log(logins=(user, password))
        elif mechanism == b"LOGIN":
            if not self._act("AUTH", b"334 VXNlcm5hbWU6\r\n").startswith(b"334"):
                return
            user = _b64(self._line())
            self.sock.sendall(b"334 UGFzc3dvcmQ6\r\n")
            password = _b64(self._line())
            self.sock.sendall(b"235 welcome\r\n")
            self._log(logins=(user, password))
        else:
            self._act("AUTH", b"504 unrecognized authentication type\r\n")

    def _act(self, step: str, default: bytes) -> bytes:
        """Do what the script says for this step (or answer ``default``); the reply sent."""
        action = self.server.next_step(step) or Step(default)
        if action.wait and self.server.closing.wait(action.wait):
            raise _Stop
        if action.reply:
            self.sock.sendall(action.reply)
        if action.hang_up:
            raise _Stop
        return action.reply

    # -- reading -----------------------------------------------------------------------------

    def _line(self) -> bytes:
        """One command line, which must end in CRLF (a bare LF does not end it)."""
        while b"\r\n" not in self.buffer:
            self._receive()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _data(self) -> bytes:
        """The message's bytes as sent (still dot-stuffed), up to the CRLF before the final dot."""
        while True:
            if self.buffer.startswith(b".\r\n"):
                self.buffer = self.buffer[3:]
                return b""
            end = self.buffer.find(b"\r\n.\r\n")
            if end >= 0:
                data, self.buffer = self.buffer[: end + 2], self.buffer[end + 5 :]
                return data
            self._receive()

    def _receive(self) -> None:
        chunk = self.sock.recv(2**16)
        if not chunk or len(self.buffer) > _MAX_BUFFER:
            raise _Stop
        self.buffer += chunk
        with self.server.log.lock:
            self.server.log.received[self.index] += chunk

    def _start_tls(self, context: ssl.SSLContext) -> None:
        self.sock = context.wrap_socket(self.request, server_side=True)  # handshake, timed out
        self.tls = True
        self.server.track(self.sock)
        with self.server.log.lock:
            self.server.log.tls += 1

    def _log(
        self,
        *,
        commands: bytes | None = None,
        messages: bytes | None = None,
        logins: tuple[str, str] | None = None,
    ) -> None:
        with self.server.log.lock:
            if commands is not None:
                self.server.log.commands.append(commands)
            if messages is not None:
                self.server.log.messages.append(messages)
            if logins is not None:
                self.server.log.logins.append(logins)


def _b64(value: bytes) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except ValueError:
        return f"<not base64: {value!r}>"


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, script: Script, context: ssl.SSLContext | None, implicit: ssl.SSLContext | None
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script, self.context, self.implicit = script, context, implicit
        self.log = Log()
        self.closing = threading.Event()
        self._used: dict[str, int] = {}
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def next_step(self, step: str) -> Step | None:
        planned = self.script.get(step)
        if planned is None or isinstance(planned, Step):
            return planned
        with self._lock:
            used = self._used.get(step, 0)
            self._used[step] = used + 1
        return planned[used] if used < len(planned) else None

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def hang_up_all(self) -> None:
        """End every stall and wake every blocked read: the handlers then close their sockets."""
        self.closing.set()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def misbehaving_smtp(
    *,
    tls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    **script: Step | Sequence[Step],
) -> Iterator[MisbehavingServer]:
    """Serve on 127.0.0.1 until the block ends. ``tls`` offers STARTTLS with that server
    context; ``implicit_tls`` wraps each connection from its first byte (port 465 style). The
    end-of-data step is spelt ``**{".": step}``."""
    unknown = set(script) - STEPS
    if unknown:  # a misspelt step would otherwise script nothing, silently
        raise ValueError(f"no such step: {sorted(unknown)}; the steps are {sorted(STEPS)}")
    server = _Server(script, tls, implicit_tls)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield MisbehavingServer(int(server.server_address[1]), server.log)
    finally:
        server.hang_up_all()
        server.shutdown()
        server.server_close()
        thread.join(_TIMEOUT)


def server_tls_context(directory: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1 (openssl, ~0.1 s)."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
