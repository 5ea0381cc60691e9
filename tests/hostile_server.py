"""A hostile stand-in for huggingface.co on 127.0.0.1: chosen routes answer with oversized,
compressed, trickling, redirecting or malformed bytes; every other route replays the captures."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.replay_server import _Handler

Reply = Callable[[BaseHTTPRequestHandler], None]


def raw(data: bytes) -> Reply:
    """Write these bytes as the whole answer, status line and headers included."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(data)

    return reply


def answer(
    body: bytes,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: Sequence[tuple[str, str]] = (),
) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in headers:
            handler.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return reply


def gzip_bomb(inflated: int) -> Reply:
    """``inflated`` zero bytes, gzip-compressed (about a thousandth of that on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # one gzip member
    zeros = b"\0" * 1_000_000
    body = b"".join(packer.compress(zeros) for _ in range(inflated // len(zeros)))
    return answer(body + packer.flush(), headers=[("Content-Encoding", "gzip")])


def trickle(data: bytes, every: float, *, limit: float = 30.0) -> Reply:
    """Send ``data`` one byte at a time, ``every`` seconds apart (stops after ``limit`` s)."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        stop = time.monotonic() + limit
        for byte in data:
            if time.monotonic() > stop:
                return
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return  # the client hung up, as it should
            time.sleep(every)

    return reply


def head(status: int = 200, length: int = 1_000, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


@contextmanager
def hostile_server(routes: dict[str, Reply]) -> Iterator[tuple[str, list[str]]]:
    """Routes are matched by a substring of the request path (query included), or the whole
    path when the key starts with "=", first wins.

    Yields the base URL and the list of request paths received.
    """
    seen: list[str] = []

    class Handler(_Handler):
        requests = seen

        def do_GET(self) -> None:
            for needle, reply in routes.items():
                exact = needle.startswith("=")
                if self.path == needle[1:] if exact else needle in self.path:
                    self.requests.append(self.path)
                    return reply(self)
            return super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
