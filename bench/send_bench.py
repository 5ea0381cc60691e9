"""Send 10,000 digests to a loopback SMTP sink through the real dispatcher and ledger.

The sink (bench/sink.py) runs in its own process. Three settings (DESIGN.md asks for the first
and the last):
  * instant: the sink answers at once (loopback, plain SMTP);
  * instant+TLS: the same, after STARTTLS on a self-signed certificate;
  * relay-like: every reply after MAIL, RCPT and DATA waits 20-50 ms, and the session starts
    with STARTTLS on a self-signed certificate.
In each: the pool (reused connections, all on the dispatcher's one event loop) against the
baseline (a new connection for every message, one at a time) measured in the same run on a
slice of the same digests.
Target (issue 5): >= 500 messages/s with the pool, >= 5x the baseline; peak memory < 300 MB.

`--postgres` adds the relay-like pool with its ledger on PostgreSQL (PAPERBOY_TEST_POSTGRES_URL,
a fresh schema), where every commit flushes the server's log.
"""

from __future__ import annotations

import multiprocessing
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import postgres_schema  # noqa: E402
from bench.sink import serve  # noqa: E402
from mailer.smtp import SmtpConfig, SmtpTransport  # noqa: E402
from paperboy.clock import fixed_clock  # noqa: E402
from store.types import NewSubscriber  # noqa: E402
from tests.world import NOW, world  # noqa: E402

NUMBERS = [a for a in sys.argv[1:] if not a.startswith("--")]
MESSAGES = int(NUMBERS[0]) if NUMBERS else 10_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed(directory: Path) -> str:
    base = str(directory / "sink")
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
            base + ".key",
            "-out",
            base + ".pem",
        ],
        check=True,
        capture_output=True,
    )
    return base


class OnePerMessage:
    """The baseline: a fresh connection (and TLS handshake) for every message."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: Any, before_data: Any) -> int:
        transport = SmtpTransport(self.config)
        try:
            return await transport.send(message, before_data)
        finally:
            await transport.close()

    async def close(self) -> None:
        pass


def prepare(url: str) -> None:
    """A store with MESSAGES composed digests waiting in the ledger (done once)."""
    with world(url) as w:
        from paperboy import subscribers as rules

        profile = (rules.profile("p", 'diffusion OR "video generation" OR agent*'),)
        settings = rules.settings(zone="Europe/London", hour=8)
        new = [
            NewSubscriber(f"reader{i:05d}@example.org", "active", settings, profile)
            for i in range(MESSAGES)
        ]
        w.people.add_many(new, NOW - timedelta(days=30))
        report = w.dispatcher().compose()
        assert report.composed == MESSAGES, report


def run(
    url: str, directory: Path, *, pool: bool, delay: tuple[float, float], tls: bool, limit: int
) -> float:
    """Copy the prepared store, then time the delivery of ``limit`` digests."""
    copy = directory / f"run-{random.random():.6f}.db"
    shutil.copy(directory / "bench.db", copy)
    port = free_port()
    ready = multiprocessing.Event()
    cert = self_signed(directory) if tls else None
    sink = multiprocessing.Process(target=serve, args=(port, delay, cert, ready), daemon=True)
    sink.start()
    ready.wait(10)
    config = SmtpConfig("127.0.0.1", port, "starttls" if tls else "none", verify_tls=False)
    try:
        with world(f"sqlite:///{copy}", papers=()) as w:
            # Only the first ``limit`` deliveries are due; the rest wait a day.
            with w.ledger._engine.begin() as connection:
                from sqlalchemy import update

                from store.tables import DELIVERIES

                connection.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id > limit)
                    .values(next_attempt_at=NOW + timedelta(days=1))
                )
            dispatcher = w.dispatcher()
            dispatcher._clock = fixed_clock(NOW)
            start = time.perf_counter()
            if pool:
                report = dispatcher.deliver(lambda: SmtpTransport(config), workers=pool)
            else:
                report = dispatcher.deliver(lambda: OnePerMessage(config), workers=1)  # type: ignore[arg-type,return-value]
            elapsed = time.perf_counter() - start
            assert report.sent == limit, report
    finally:
        sink.terminate()
    return limit / elapsed


def run_postgres(url: str, directory: Path) -> float:
    """The relay-like pool, its ledger on PostgreSQL (prepared in place: no copy needed)."""
    port = free_port()
    ready = multiprocessing.Event()
    args = (port, (0.02, 0.05), self_signed(directory), ready)
    sink = multiprocessing.Process(target=serve, args=args, daemon=True)
    sink.start()
    ready.wait(10)
    config = SmtpConfig("127.0.0.1", port, "starttls", verify_tls=False)
    try:
        with world(url, papers=()) as w:
            dispatcher = w.dispatcher()
            dispatcher._clock = fixed_clock(NOW)
            start = time.perf_counter()
            report = dispatcher.deliver(lambda: SmtpTransport(config), workers=64)
            elapsed = time.perf_counter() - start
            assert report.sent == MESSAGES, report
    finally:
        sink.terminate()
    return MESSAGES / elapsed


def main() -> None:
    directory = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    # Composing is render_bench's business: do it in another process so that this process's
    # peak memory is the sender's.
    url = f"sqlite:///{directory / 'bench.db'}"
    child = multiprocessing.Process(target=prepare, args=(url,))
    child.start()
    child.join()
    print(f"prepared {MESSAGES:,} digests in {time.perf_counter() - start:.0f} s")
    settings = (
        ("instant", (0.0, 0.0), False, 8, 500),
        ("instant+TLS", (0.0, 0.0), True, 8, 150),
        ("relay-like", (0.02, 0.05), True, 64, 150),
    )
    for name, delay, tls, workers, slice_ in settings:
        baseline = min(slice_, MESSAGES)
        pooled = run(url, directory, pool=workers, delay=delay, tls=tls, limit=MESSAGES)
        single = run(url, directory, pool=0, delay=delay, tls=tls, limit=baseline)
        print(
            f"{name:11}: pool of {workers} reused connections {pooled:5.0f} msg/s "
            f"({MESSAGES:,} messages); one connection per message {single:5.0f} msg/s "
            f"({baseline} messages); ratio {pooled / single:.1f}x"
        )
    if "--postgres" in sys.argv:
        with postgres_schema() as pg_url:
            if pg_url is not None:
                child = multiprocessing.Process(target=prepare, args=(pg_url,))
                child.start()
                child.join()
                rate = run_postgres(pg_url, directory)
                print(f"relay-like, ledger on PostgreSQL: pool of 64 connections {rate:5.0f} msg/s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS of the sender {rss:.0f} MiB (target < 300 MB); targets: >= 500 msg/s, >= 5x")
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
