"""SIGKILL a sender at random points of a 100-subscriber send, re-run, repeat: no one gets two.

The only exception is the documented "unknown" window: killed after DATA began and before the
ledger heard "250", a delivery is marked unknown and not sent again (it may have arrived).
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
    url = f"sqlite:///{tmp_path / 'pb.db'}"
    with world(url) as w:
        for i in range(SUBSCRIBERS):
            w.subscribe(f"reader{i:03d}@example.org", hour=8)
        assert w.dispatcher().compose().composed == SUBSCRIBERS
        ledger = w.ledger
        with smtp_server() as (port, inbox):
            inbox.delay = 0.04  # a whole run needs about two seconds: kills land mid-send
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
            for _ in range(25):
                counts = ledger.counts()
                if not counts.get("pending") and not counts.get("sending"):
                    break
                process = subprocess.Popen(
                    [str(PAPERBOY), "send", "--workers", "2"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(rng.uniform(0.6, 1.5))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
                process.wait(timeout=30)
                time.sleep(1.1)  # let the dead sender's leases expire
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
    print(f"{kills} kills; {counts.get('sent', 0)} sent, {len(unknown)} unknown")
