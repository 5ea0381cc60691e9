"""A local stand-in for huggingface.co on 127.0.0.1: serves the saved captures over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from paperboy.demo import ROUTES
from tests.conftest import HF

FEED_PATH = "/feeds/hf-weekly.xml"
FEED_FILE = "thirdparty-rss-hf-weekly-2026-08-03.xml"


class _Handler(BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        url = urlsplit(self.path)
        params = {k: v for k, v in parse_qsl(url.query) if k not in ("limit", "p")}
        if url.path == "/robots.txt":
            return self._send(200, b"User-agent: *\nDisallow: /login\n", "text/plain")
        if url.path == FEED_PATH:  # a third-party feed (PAPERBOY_FEED_URL), on the same server
            return self._send(200, (HF / FEED_FILE).read_bytes(), "application/rss+xml")
        if dict(parse_qsl(url.query)).get("p", "0") != "0":
            return self._send(200, b"[]", "application/json")
        for route in ROUTES:
            if url.path == route.path and params == dict(route.params):
                return self._send(200, (HF / route.file).read_bytes(), route.content_type)
        extra = {
            "sort": "hf-api-daily-papers-2026-05-08.json",  # trending
            "week": "hf-api-daily-papers-2026-07-31.json",
            "month": "hf-api-daily-papers-2024-06-13.reserialized.json",
        }
        for key, file in extra.items():
            if url.path == "/api/daily_papers" and key in params:
                return self._send(200, (HF / file).read_bytes(), "application/json")
        if url.path == "/api/papers/search":
            return self._send(200, b"[]", "application/json")  # a search with no hits
        day = params.get("date")
        pages = {r.path for r in ROUTES}
        if url.path == "/api/daily_papers" and day and f"/papers/date/{day}" not in pages:
            return self._send(200, b"[]", "application/json")  # a day with no papers yet
        return self._send(404, (HF / "hf-api-error-404-body.json").read_bytes(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def replay_server() -> Iterator[tuple[str, list[str]]]:
    """Yields the base URL and the list of request paths it received."""
    seen: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
