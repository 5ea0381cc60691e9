"""/healthz: is the database reachable and its schema current? Cheap enough to be polled.

The migration scripts are read once, when the app is built (they only change with a new
release, which restarts the process); the database is asked at most once per ``TTL`` seconds and
the answer kept in between, so a load balancer polling hard costs one query a second.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine
from starlette.responses import Response

from store.engine import current_revision, head_revision

TTL = 1.0
_OK = b'{"status":"ok"}'


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

    async def answer(self) -> Response:
        """The kept answer; when it is older than ``TTL``, the database is asked in a worker
        thread (an unreachable database must not stall the event loop)."""
        status, body = self._answer
        if self._monotonic() >= self._until:
            status, body = await asyncio.to_thread(self._refresh)
        return Response(body, status_code=status, media_type="application/json")

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
