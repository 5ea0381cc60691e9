"""/healthz: is the database reachable and its schema current? Cheap enough to be polled.

The schema this Paperboy needs is store.engine.HEAD (no migration script is read); the database
is asked at most once per ``TTL`` seconds and the answer kept in between, so a load balancer
polling hard costs one query a second.

The check is itself a tiny ASGI app: paperboy.web.app calls it before FastAPI's middleware and
routing (which cost more than the answer), so it sends the security headers those would add.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from paperboy.web.security import SECURITY_HEADERS
from store.engine import current_revision, head_revision

log = logging.getLogger(__name__)
TTL = 1.0
_OK = b'{"status":"ok"}'
# What the guard puts on every answer, as the app's other JSON answers would carry them.
_HEADERS = [
    (b"content-type", b"application/json"),
    *((name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()),
    (b"cache-control", b"no-store"),
]


class HealthCheck:
    def __init__(
        self,
        engine: Engine,
        *,
        ttl: float = TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine, self._ttl, self._monotonic = engine, ttl, monotonic
        self._head = head_revision()
        self._lock = threading.Lock()
        self._answer: tuple[int, bytes] = (503, b"")
        self._until = float("-inf")

    async def status(self) -> tuple[int, bytes]:
        """The kept answer (HTTP status, JSON body); when it is older than ``TTL``, the
        database is asked in a worker thread (an unreachable database must not stall the event
        loop)."""
        if self._monotonic() >= self._until:
            return await asyncio.to_thread(self._refresh)
        return self._answer

    async def answer(self) -> Response:
        status, body = await self.status()
        return Response(body, status_code=status, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /healthz`` as ASGI: the kept answer with the security headers. Outside the
        app's error handling, a check that fails in an unforeseen way still answers 503."""
        try:
            status, body = await self.status()
        except Exception as e:
            log.exception("the health check failed")
            status, body = 503, json.dumps({"status": "error", "detail": type(e).__name__}).encode()
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _refresh(self) -> tuple[int, bytes]:
        with self._lock:  # one check at a time; the others take its answer
            if self._monotonic() >= self._until:
                self._answer = self._check()
                self._until = self._monotonic() + self._ttl
            return self._answer

    def _check(self) -> tuple[int, bytes]:
        try:
            current = current_revision(self._engine)
        except Exception as e:  # the load balancer needs a status, not a traceback
            return 503, json.dumps({"status": "error", "detail": type(e).__name__}).encode()
        if current != self._head:
            return 503, b'{"status":"error","detail":"schema not current"}'
        return 200, _OK


__all__ = ["HealthCheck"]
