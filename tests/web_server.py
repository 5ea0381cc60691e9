"""Serve the real web app with uvicorn on 127.0.0.1 for tests (HTTP clients and the browser)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from paperboy.wiring import server_config
from tests.smtp_server import free_port


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Yields the base URL while the app answers on a free loopback port."""
    port = free_port()
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, log_level="error"))  # as served
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
