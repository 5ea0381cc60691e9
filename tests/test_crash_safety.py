"""SIGKILL senders at random points of a 100-subscriber send, re-run, repeat: no one gets two.

The only exception is the documented "unknown" window: killed after DATA began and before the
ledger heard "250", a delivery is marked unknown and not sent again (it may have arrived).
On SQLite one sender runs at a time; on PostgreSQL three share the work (SKIP LOCKED).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from tests.smtp_server import smtp_server
from tests.test_cli import PAPERBOY
from tests.world import world

SUBSCRIBERS = 100


def test_killed_senders_never_send_twice(tmp_path: Path) -> None:
    kills, sent, unknown = hammer(f"sqlite:///{tmp_path / 'pb.db'}", tmp_path, senders=1)
    print(f"{kills} kills; {sent} sent, {unknown} unknown")


def test_three_killed_senders_on_postgresql_never_send_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    kills, sent, unknown = hammer(postgres_url, tmp_path, senders=3)
    print(f"three senders on PostgreSQL: {kills} kills; {sent} sent, {unknown} unknown")


def hammer(url: str, tmp_path: Path, *, senders: int) -> tuple[int, int, int]:
    """Rounds of ``senders`` concurrent `paperboy send`, some killed mid-send, then one clean
    run; asserts nobody got two and nothing was lost; returns (kills, sent, unknown)."""
    with world(url) as w:
        for i in range(SUBSCRIBERS):
            w.subscribe(f"reader{i:03d}@example.org", hour=8)
        assert w.dispatcher().compose().composed == SUBSCRIBERS
        ledger = w.ledger
        with smtp_server() as (port, inbox):
            inbox.delay = 0.04  # a whole run needs a second or two: kills land mid-send
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
                "PAPERBOY_DATABASE_URL": url,
                "PAPERBOY_MAIL_TRANSPORT": "smtp",
                "PAPERBOY_SMTP_HOST": "127.0.0.1",
                "PAPERBOY_SMTP_PORT": str(port),
                "PAPERBOY_SMTP_SECURITY": "none",
                "PAPERBOY_SECRET_KEY": "crash-test-secret-0123456789",
                "PAPERBOY_SEND_LEASE": "1",
                "HOME": str(tmp_path),
            }
            rng = random.Random(1234)
            kills = 0
            for _ in range(40):
                counts = ledger.counts()
                if not counts.get("pending") and not counts.get("sending"):
                    break
                processes = [
                    subprocess.Popen(
                        [str(PAPERBOY), "send", "--workers", "2"],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for _ in range(senders)
                ]
                # Each is killed at its own random moment once mail is flowing (a kill during
                # the interpreter's start would prove nothing).
                flowing = len(inbox.messages)
                deadline = time.monotonic() + 30
                while len(inbox.messages) == flowing and time.monotonic() < deadline:
                    if all(p.poll() is not None for p in processes):
                        break
                    time.sleep(0.01)
                for process in processes:
                    time.sleep(rng.uniform(0.0, 0.8) / senders)
                    if process.poll() is None:
                        process.send_signal(signal.SIGKILL)
                        kills += 1
                for process in processes:
                    process.wait(timeout=30)
                time.sleep(1.1)  # let the dead senders' leases expire
            final = subprocess.run(
                [str(PAPERBOY), "send"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            counts = ledger.counts()
            received = Counter(m["To"] for m in inbox.messages)
        states = {d.recipient: d.state for d in ledger.deliveries(limit=1000)}
    assert kills >= 3, "the senders must really have been killed mid-send"
    assert counts.get("pending", 0) == counts.get("sending", 0) == 0, final.stdout + final.stderr
    assert max(received.values()) == 1, "somebody got the same digest twice"
    unknown = [a for a, s in states.items() if s == "unknown"]
    for address, state in states.items():
        if state == "sent":
            assert received[address] == 1, address
        else:
            assert state == "unknown", (address, state)
            assert received[address] <= 1
    assert counts.get("sent", 0) + len(unknown) == SUBSCRIBERS
    return kills, counts.get("sent", 0), len(unknown)
