"""SIGTERM (a systemd stop) ends `send` and `run-once` the way it ends `serve`: the message in
hand is finished and recorded, every other claim is given back, the command exits at once with
128 + 15; nothing is left `sending` and nothing turns `unknown`. The next run sends the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.replay_server import replay_server
from tests.smtp_server import Inbox, smtp_server
from tests.test_cli import PAPERBOY
from tests.world import world

READERS = 30


def environment(tmp_path: Path, url: str, port: int, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
        "PAPERBOY_DATABASE_URL": url,
        "PAPERBOY_MAIL_TRANSPORT": "smtp",
        "PAPERBOY_SMTP_HOST": "127.0.0.1",
        "PAPERBOY_SMTP_PORT": str(port),
        "PAPERBOY_SMTP_SECURITY": "none",
        "PAPERBOY_SECRET_KEY": "signal-test-secret-0123456789",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        **extra,
    }


def terminate_mid_send(args: list[str], env: dict[str, str], inbox: Inbox) -> tuple[int, str]:
    """Start the command, SIGTERM it once the first message has arrived; (exit code, stderr)."""
    process = subprocess.Popen(
        [str(PAPERBOY), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not inbox.messages:
            assert process.poll() is None, process.communicate(timeout=10)
            assert time.monotonic() < deadline, "no message arrived"
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, stderr = process.communicate(timeout=20)
        assert time.monotonic() - signalled < 10, "it must exit promptly"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return process.returncode, stderr


@pytest.mark.parametrize("command", ["send", "run-once"])
def test_sigterm_finishes_the_message_in_hand_and_gives_back_the_rest(
    tmp_path: Path, command: str
) -> None:
    url = f"sqlite:///{tmp_path / 'pb.db'}"
    with world(url) as w:
        for i in range(READERS):
            w.subscribe(f"reader{i:03d}@example.org", hour=8)
        assert w.dispatcher().compose().composed == READERS
        with smtp_server() as (port, inbox), replay_server() as (base, _):
            inbox.delay = 0.2  # a whole run needs about three seconds
            env = environment(
                tmp_path, url, port, PAPERBOY_HF_BASE_URL=base, PAPERBOY_REQUEST_DELAY="0"
            )
            code, stderr = terminate_mid_send([command, "--workers", "2"], env, inbox)
            states = Counter(d.state for d in w.ledger.deliveries(limit=1000))
            received = len(inbox.messages)
            after = subprocess.run(
                [str(PAPERBOY), "send"], env=env, capture_output=True, text=True, timeout=120
            )
            everyone = Counter(m["To"] for m in inbox.messages)
        final = Counter(d.state for d in w.ledger.deliveries(limit=1000))
    assert code == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM" in stderr
    assert "Traceback" not in stderr
    assert states["sending"] == 0, f"claims left behind: {states}"
    assert states["unknown"] == 0, "a message in hand was cut off"
    assert states["sent"] == received, "every message the relay took is recorded as sent"
    assert states["pending"] >= 1, "the stop came mid-send"
    assert after.returncode in (0, 1), after.stderr  # 1: fetching is stale for `send`'s clock
    assert max(everyone.values()) == 1, "nobody gets a digest twice"
    assert final["sent"] == sum(final.values()) == len(everyone)
