"""Alerts: one per incident, mailed to the operator, closed on recovery; a heartbeat per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from paperboy.alerts import AlertConfig, incidents
from tests.replay_server import replay_server
from tests.test_cli import rows, run

NOW = datetime(2026, 7, 2, 12, tzinfo=UTC)
CONFIG = AlertConfig(admin_email="ops@example.org", sender="p@example.org", broken_after=3)


def test_incidents_are_a_function_of_the_facts() -> None:
    fresh = NOW - timedelta(hours=1)
    assert incidents({"day": 2, "trending": 0}, fresh, NOW, CONFIG) == {}
    assert incidents({"day": 3}, fresh, NOW, CONFIG) == {
        "broken:day": "the day list failed 3 times in a row"
    }
    stale = incidents({}, NOW - timedelta(hours=25), NOW, CONFIG)
    assert stale == {"stale": "no successful fetch since 2026-07-01 11:00 UTC"}
    assert incidents({}, None, NOW, CONFIG) == {"stale": "no successful fetch ever"}


def test_site_down_alerts_once_sends_no_empty_digest_and_recovers(tmp_path: Path) -> None:
    with replay_server() as (base, _):  # a good day first
        good = run(tmp_path, "run-once", PAPERBOY_HF_BASE_URL=base, PAPERBOY_REQUEST_DELAY="0")
        assert good.returncode == 0
    assert (
        run(
            tmp_path,
            "subscriber",
            "add",
            "reader@example.org",
            "--zone",
            "UTC",
            "--hour",
            "0",
            "--send-empty",
            "--profile",
            "p=diffusion",
        ).returncode
        == 0
    )
    outbox = tmp_path / "data" / "paperboy" / "outbox"
    down = {
        "PAPERBOY_HF_BASE_URL": "http://127.0.0.1:9",
        "PAPERBOY_MAX_RETRIES": "0",
        "PAPERBOY_ADMIN_EMAIL": "ops@example.org",
    }
    for _ in range(4):
        result = run(tmp_path, "run-once", **down)
        assert result.returncode == 1
    mails = [
        message_from_bytes(m.read_bytes(), policy=policy.default) for m in outbox.glob("*.eml")
    ]
    assert [m["To"] for m in mails] == ["ops@example.org"], [m["Subject"] for m in mails]
    assert mails[0]["Subject"].startswith("Paperboy alert: ")
    status = run(tmp_path, "status")
    assert "open alert" in status.stdout
    assert "the day list failed 3 times in a row" in " ".join(status.stdout.split())
    assert rows(tmp_path, "select count(*) from runs") == [(5,)]
    assert rows(tmp_path, "select count(*) from digests") == [(0,)]  # no "nothing new" mail
    with replay_server() as (base, _):
        recovered = run(
            tmp_path,
            "run-once",
            PAPERBOY_HF_BASE_URL=base,
            PAPERBOY_REQUEST_DELAY="0",
            PAPERBOY_ADMIN_EMAIL="ops@example.org",
        )
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert rows(tmp_path, "select count(*) from alerts where closed_at is null") == [(0,)]
    recipients = sorted(
        message_from_bytes(m.read_bytes(), policy=policy.default)["To"]
        for m in outbox.glob("*.eml")
    )
    assert recipients == ["ops@example.org", "reader@example.org"]  # the backlog, once
    status = run(tmp_path, "status")
    assert "open alert" not in status.stdout
    assert "run-once" in status.stdout
    assert "sent 1" in status.stdout
