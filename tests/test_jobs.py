"""The service's jobs: one report and one exit policy for `serve`, `run-once`, `send` and `fetch`.

The policy is a table of plain values; then the same delivery situation (one reader accepted,
one 451, one 550) is handed to `send`, `run-once` and `serve`, which must count it the same.
"""

from __future__ import annotations

import dataclasses
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperboy.ingest import IngestReport
from paperboy.mailrun import Report
from paperboy.service import JobReport, exit_policy
from scraper.models import Verdict, View
from store.engine import make_engine
from store.health import HealthStore
from store.types import IngestResult
from tests.builders import outcome
from tests.papers import saved_papers
from tests.replay_server import replay_server
from tests.smtp_server import smtp_server
from tests.test_cli import PAPERBOY
from tests.test_signals import environment
from tests.world import world

BROKEN = IngestReport(
    "day latest",
    outcome((), view=View.DAY, verdict=Verdict.BROKEN, error="cannot reach the site"),
    IngestResult(fetch_id=1, new_papers=0, updated_papers=0),
)


@pytest.mark.parametrize(
    ("report", "code"),
    [
        (JobReport("send"), 0),
        (JobReport("send", delivered=Report(sent=3, retrying=2)), 0),  # a retry is normal
        (JobReport("send", delivered=Report(unconfirmed=1)), 0),  # a warning, not a failure
        (JobReport("send", delivered=Report(failed=1)), 1),
        (JobReport("send", delivered=Report(bounced=1)), 1),
        (JobReport("send", delivered=Report(expired=1)), 1),
        (JobReport("send", delivered=Report(breaker="relay down")), 1),
        (JobReport("send", delivered=Report(errors=["database is locked"])), 1),
        (JobReport("send", composed=Report(errors=["no digest for a@b.org: bad profile"])), 1),
        (JobReport("send", composed=Report(skipped_reason="fetching is stale")), 1),
        (JobReport("send", composed=Report(skipped_reason="stale"), dry_run=True), 0),
        (JobReport("fetch", fetched=(BROKEN,)), 1),
        (JobReport("run-once", alerts=("the day list failed 3 times in a row",)), 1),
        (JobReport("send", signum=signal.SIGTERM), 143),
        (JobReport("send", delivered=Report(failed=1), signum=signal.SIGINT), 130),
    ],
)
def test_one_exit_policy(report: JobReport, code: int) -> None:
    assert exit_policy(report) == report.exit_code == code


def test_problems_say_what_needs_an_operator() -> None:
    report = JobReport(
        "run-once",
        fetched=(BROKEN,),
        composed=Report(skipped_reason="stale", errors=["no digest for a@b.org: bad"]),
        delivered=Report(errors=["locked", "locked"], retrying=4),
        alerts=("mail relay: down",),
    )
    assert report.problems == [
        "day latest: cannot reach the site",
        "alert: mail relay: down",
        "digests not composed: stale",
        "no digest for a@b.org: bad",
        "a sender stopped: locked",
    ]
    assert report.counters["retrying"] == 4
    assert report.counters["broken"] == 1


# -- the same situation, three commands -------------------------------------------------------

READERS = ("reader@example.org", "r451@example.org", "r550@example.org")
DELIVERY = ("sent", "retrying", "failed", "expired", "unconfirmed")


def _waiting_world(url: str, now: datetime) -> None:
    """Three readers, each with a digest composed now and waiting to be delivered."""
    with world(url) as w:
        w.now = now
        for reader in READERS:
            w.subscribe(reader, hour=0, zone="UTC")
        fresh = dataclasses.replace(
            saved_papers()[0], arxiv_id="2611.00001", title="Video generation with diffusion"
        )
        w.ingest((fresh,), now - timedelta(minutes=5))
        assert w.dispatcher(now).compose(dry_run=False).composed == len(READERS)


def _printed(stdout: str) -> dict[str, int]:
    said = " ".join(stdout.split())
    return {
        name: int(m.group(1))
        for name, pattern in (
            ("sent", r"(\d+) sent"),
            ("retrying", r"(\d+) to retry"),
            ("failed", r"(\d+) failed"),
        )
        if (m := re.search(pattern, said))
    }


def _heartbeat(url: str, kind: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        runs = [r for r in HealthStore(engine).runs(50) if r.kind == kind]
    finally:
        engine.dispose()
    assert runs, f"no {kind} run recorded"
    return {k: v for k, v in runs[0].counters.items() if k in DELIVERY}  # the newest


def _serve(env: dict[str, str], url: str) -> dict[str, int]:
    process = subprocess.Popen(
        [str(PAPERBOY), "serve", "--no-web", "--fetch-every", "3600", "--dispatch-every", "3600"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        engine = make_engine(url)
        try:
            while not any(r.kind == "dispatch" for r in HealthStore(engine).runs(50)):
                assert process.poll() is None, process.communicate(timeout=10)
                assert time.monotonic() < deadline, "serve never dispatched"
                time.sleep(0.2)
        finally:
            engine.dispose()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return _heartbeat(url, "dispatch")


def test_serve_run_once_and_send_count_the_same(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    counted: dict[str, dict[str, int]] = {}
    states: dict[str, Counter[str]] = {}
    with smtp_server() as (port, inbox), replay_server() as (base, _):
        for command in ("send", "run-once", "serve"):
            folder = tmp_path / command
            folder.mkdir()
            url = f"sqlite:///{folder / 'pb.db'}"
            _waiting_world(url, now)
            env = environment(
                folder, url, port, PAPERBOY_HF_BASE_URL=base, PAPERBOY_REQUEST_DELAY="0"
            )
            if command == "serve":
                counted[command] = _serve(env, url)
            else:
                result = subprocess.run(
                    [str(PAPERBOY), command], env=env, capture_output=True, text=True, timeout=300
                )
                assert result.returncode == 1, result.stdout + result.stderr  # 550: failed
                assert "Traceback" not in result.stderr
                counted[command] = _printed(result.stdout)
                if command == "run-once":
                    assert _heartbeat(url, "run-once") == {
                        **dict.fromkeys(DELIVERY, 0),
                        **counted[command],
                    }
            with world(url) as w:
                states[command] = Counter(
                    d.state for d in w.ledger.deliveries(limit=100) if d.recipient in READERS
                )
        received = Counter(m["To"] for m in inbox.messages)
    expected = {"sent": 1, "retrying": 1, "failed": 1}
    assert counted["send"] == expected
    assert counted["run-once"] == expected
    assert counted["serve"] == {**expected, "expired": 0, "unconfirmed": 0}  # retrying too
    assert states["send"] == states["run-once"] == states["serve"]
    assert states["send"] == Counter({"sent": 1, "temp_failed": 1, "perm_failed": 1})
    assert received == Counter({"reader@example.org": 3})
