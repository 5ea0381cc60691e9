"""`paperboy run-once` as cron runs it: fetch, compose, deliver; one instance per store."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from paperboy.lock import single_instance
from store.engine import make_engine, upgrade
from tests.replay_server import replay_server
from tests.smtp_server import free_port
from tests.test_cli import rows, run


def test_run_once_fetches_composes_and_delivers(tmp_path: Path) -> None:
    subscribed = run(
        tmp_path,
        "subscriber",
        "add",
        "reader@example.org",
        "--zone",
        "UTC",
        "--hour",
        "0",
        "--profile",
        'p=diffusion OR agent* OR "language model"',
    )
    assert subscribed.returncode == 0, subscribed.stderr
    with replay_server() as (base, _):
        env = {"PAPERBOY_HF_BASE_URL": base, "PAPERBOY_REQUEST_DELAY": "0"}
        first = run(tmp_path, "run-once", **env)
        second = run(tmp_path, "run-once", **env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 digest due, 1 composed; 1 sent" in " ".join(first.stdout.split())
    fetched = rows(tmp_path, "select source, period from fetches order by id")
    assert [s for s, _ in fetched[:4]] == ["day", "trending", "week", "month"]
    # The profile's words and phrases are searched for, once a day like week and month.
    assert fetched[4:6] == [("search", "diffusion"), ("search", "language model")]
    assert [s for s, _ in fetched[6:]] == ["day", "trending"]
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 digests due" in second.stdout  # the period was sent: never twice
    outbox = tmp_path / "data" / "paperboy" / "outbox"
    assert len(list(outbox.glob("*.eml"))) == 1


def test_a_broken_fetch_makes_run_once_fail_loudly(tmp_path: Path) -> None:
    result = run(
        tmp_path, "run-once", PAPERBOY_HF_BASE_URL="http://127.0.0.1:9", PAPERBOY_MAX_RETRIES="0"
    )
    assert result.returncode == 1
    assert "error: day latest: cannot reach 127.0.0.1" in result.stderr
    assert "digests not composed" not in result.stderr  # nobody was due


def test_a_second_instance_is_refused(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with single_instance(engine):
        started = time.monotonic()
        refused = run(tmp_path, "run-once", "--wait", "1", PAPERBOY_DATABASE_URL=database_url)
        waited = time.monotonic() - started
    engine.dispose()
    assert refused.returncode == 75
    assert "another Paperboy is already running against this store" in refused.stderr
    assert "after waiting 1s" in refused.stderr
    assert waited >= 1.0


def test_doctor_passes_after_a_good_run_and_fails_offline(tmp_path: Path) -> None:
    with replay_server() as (base, _):
        env = {"PAPERBOY_HF_BASE_URL": base, "PAPERBOY_REQUEST_DELAY": "0"}
        assert run(tmp_path, "run-once", **env).returncode == 0
        healthy = run(tmp_path, "doctor", **env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    text = " ".join(healthy.stdout.split())
    for line in (
        "database │ OK",
        "mail │ OK",
        "site │ OK",
        "fetch day │ OK",
        "fetch trending │ OK",
    ):
        assert line in text
    offline = run(tmp_path, "doctor", PAPERBOY_HF_BASE_URL="http://127.0.0.1:9")
    assert offline.returncode == 1
    assert "site │ FAIL" in " ".join(offline.stdout.split())
    assert "1 check(s) failed: site" in offline.stderr


def test_doctor_checks_smtp_without_sending(tmp_path: Path) -> None:
    from tests.smtp_server import free_port, smtp_server

    with smtp_server() as (port, inbox):
        env = {
            "PAPERBOY_MAIL_TRANSPORT": "smtp",
            "PAPERBOY_SMTP_HOST": "127.0.0.1",
            "PAPERBOY_SMTP_PORT": str(port),
            "PAPERBOY_SMTP_SECURITY": "none",
        }
        result = run(tmp_path, "doctor", **env)
    assert f"SMTP 127.0.0.1:{port} answered" in " ".join(result.stdout.split())
    assert inbox.messages == []
    down = run(tmp_path, "doctor", **{**env, "PAPERBOY_SMTP_PORT": str(free_port())})
    assert "mail │ FAIL" in " ".join(down.stdout.split())
    assert down.returncode == 1


def test_serve_fetches_sends_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess

    from tests.test_cli import PAPERBOY

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
            "--profile",
            "p=diffusion OR agent*",
        ).returncode
        == 0
    )
    outbox = tmp_path / "data" / "paperboy" / "outbox"
    web_port = free_port()
    with replay_server() as (base, _):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'pb.db'}",
            "PAPERBOY_HF_BASE_URL": base,
            "PAPERBOY_REQUEST_DELAY": "0",
            "PAPERBOY_WEB_PORT": str(web_port),
        }
        server = subprocess.Popen(
            [str(PAPERBOY), "serve", "--fetch-every", "5", "--dispatch-every", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not list(outbox.glob("*.eml")) and time.monotonic() < deadline:
                time.sleep(0.2)
            health = httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=10)
            # a real process: were the lock not taken, `serve` would run on here for good
            second = run(tmp_path, "serve", process=True, PAPERBOY_HF_BASE_URL=base)
        finally:
            server.send_signal(signal.SIGTERM)
            stdout, stderr = server.communicate(timeout=30)
    assert len(list(outbox.glob("*.eml"))) == 1, stderr
    assert second.returncode == 75
    assert "another Paperboy is already running" in second.stderr
    assert server.returncode == 0, stderr
    assert "stopped." in stdout
    assert health.json() == {"status": "ok"}  # the web pages ran beside the scheduler


def test_two_run_once_started_together_never_send_twice(database_url: str, tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.test_cli import PAPERBOY

    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    addresses = [f"r{i}@example.org" for i in range(6)]
    for address in addresses:
        added = run(
            tmp_path,
            "subscriber",
            "add",
            address,
            "--zone",
            "UTC",
            "--hour",
            "0",
            "--profile",
            "p=diffusion OR agent* OR model*",
            PAPERBOY_DATABASE_URL=database_url,
        )
        assert added.returncode == 0, added.stderr
    outbox = tmp_path / "outbox"
    with replay_server() as (base, _):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
            "HOME": str(tmp_path),
            "PAPERBOY_DATABASE_URL": database_url,
            "PAPERBOY_HF_BASE_URL": base,
            "PAPERBOY_REQUEST_DELAY": "0",
            "PAPERBOY_OUTBOX_DIR": str(outbox),
            "PAPERBOY_SECRET_KEY": "two-runs-secret-0123456789",
        }
        runs = [
            subprocess.Popen(
                [str(PAPERBOY), "run-once", "--wait", "60"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=120), *p.communicate()) for p in runs]
    for code, stdout, stderr in results:
        assert code == 0, stdout + stderr
    mails = sorted(outbox.glob("*.eml"))
    recipients = sorted(
        next(line for line in m.read_text().splitlines() if line.startswith("To: "))[4:]
        for m in mails
    )
    assert recipients == sorted(addresses)  # each exactly once


def test_search_terms_come_from_the_profiles() -> None:
    from paperboy.service import search_terms

    queries = [
        '"variational inference" OR bayesian* -survey',
        "author:lecun title:diffusion upvotes>=5",
        "Diffusion OR keyword:rlhf",
        "(broken",
    ]
    assert search_terms(queries) == ["diffusion", "rlhf", "variational inference"]
