"""The `paperboy` command as a user runs it: a real SQLite file, no network; in this process
(tests/cli.py) unless the process is the point."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from store.engine import head_revision, make_engine, upgrade
from tests.cli import PAPERBOY, in_process, run  # run and PAPERBOY are imported from here too
from tests.replay_server import replay_server
from tests.smtp_server import free_port


def rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "pb.db") as db:
        return db.execute(sql).fetchall()


def test_demo_stores_the_bundled_pages(tmp_path: Path) -> None:
    result = run(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    assert "161 papers and 161 observations stored" in result.stdout
    assert rows(tmp_path, "select count(*) from papers") == [(161,)]
    verdicts = rows(tmp_path, "select source, path, verdict from fetches order by id")
    assert ("day", "props", "ok") in verdicts  # the API 404 fell back to the page
    assert all(v == "ok" for _, _, v in verdicts)
    outbox = tmp_path / "data" / "paperboy" / "outbox"
    (mail,) = outbox.glob("*.eml")  # the demo reader's digest, through the real pipeline
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in mail.read_bytes()
    assert "Demo digest for demo@example.org: 1 composed, 1 sent" in " ".join(result.stdout.split())
    again = run(tmp_path, "demo")  # running twice duplicates nothing
    assert again.returncode == 0, again.stderr
    assert rows(tmp_path, "select count(*) from papers") == [(161,)]
    assert "0 new papers stored." in again.stdout


def test_default_database_is_a_new_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env |= {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "COLUMNS": "200"}
    result = in_process(tmp_path, ["demo"], env)  # no PAPERBOY_DATABASE_URL at all
    assert result.returncode == 0, result.stderr
    database = tmp_path / "data" / "paperboy" / "paperboy.db"
    assert database.is_file()
    with sqlite3.connect(database) as db:
        assert db.execute("pragma journal_mode").fetchone() == ("wal",)


def test_offline_fetch_is_one_clear_sentence_and_only_the_failed_row(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "fetch",
        PAPERBOY_HF_BASE_URL="http://127.0.0.1:9",  # nothing listens on the discard port
        PAPERBOY_MAX_RETRIES="0",
    )
    assert result.returncode == 1
    assert "error: day latest: cannot reach 127.0.0.1 (is the network up?)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert rows(tmp_path, "select verdict, error_kind from fetches") == [("broken", "network")]
    assert rows(tmp_path, "select count(*) from papers") == [(0,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fetch", "--date", "2026-13-01"), "--date '2026-13-01' is not a day like 2026-07-02"),
        (("fetch", "--week", "2026-W60"), "is not an ISO week like 2026-W27"),
        (("fetch", "--month", "2026-7"), "is not a month like 2026-07"),
        (("fetch", "--trending", "--search", "x"), "choose one of --trending, --search"),
        (("fetch", "--search", "   "), "the search query is empty"),
        (("fetch", "--backfill", "0"), "greater than or equal to 1"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split()).replace("│", "").replace("  ", " ")
    assert not (tmp_path / "pb.db").exists()


def test_bad_setting_names_the_setting(tmp_path: Path) -> None:
    result = run(tmp_path, "fetches", PAPERBOY_REQUEST_DELAY="soon")
    assert result.returncode == 2
    assert result.stderr.startswith("error: setting PAPERBOY_REQUEST_DELAY: Input should be")
    assert "Traceback" not in result.stderr


def test_a_sender_that_is_not_an_address_is_refused_at_start(tmp_path: Path) -> None:
    result = run(tmp_path, "fetches", PAPERBOY_MAIL_FROM="Paperboy\r\nBcc: x@example.org")
    assert result.returncode == 2
    assert result.stderr.startswith("error: setting PAPERBOY_MAIL_FROM:")
    assert "Traceback" not in result.stderr


def test_bad_database_url_is_explained(tmp_path: Path) -> None:
    result = run(
        tmp_path, "papers", PAPERBOY_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/x"
    )
    assert result.returncode == 1
    assert "error: cannot use the database" in result.stderr
    assert "PAPERBOY_DATABASE_URL" in result.stderr


def test_unwritable_sqlite_folder_is_explained(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run(tmp_path, "papers", PAPERBOY_DATABASE_URL=f"sqlite:///{blocker}/sub/pb.db")
    assert result.returncode == 1
    assert "error: cannot create the folder of the SQLite database" in result.stderr
    assert "PAPERBOY_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_papers_list_filter_and_show(tmp_path: Path) -> None:
    assert run(tmp_path, "demo").returncode == 0
    listing = run(tmp_path, "papers", "--search", "llama 3 herd", "--limit", "5")
    assert listing.returncode == 0, listing.stderr
    assert "2407.21783" in listing.stdout
    shown = run(tmp_path, "papers", "2407.21783")
    assert shown.returncode == 0, shown.stderr
    assert "The Llama 3 Herd of Models" in shown.stdout
    assert "search llama 3 herd (#1, 115 upvotes)" in shown.stdout
    weekly = run(tmp_path, "papers", "--view", "day", "--period", "2026-07-02", "--limit", "100")
    assert "31 papers" in weekly.stdout
    missing = run(tmp_path, "papers", "2401.00000")
    assert missing.returncode == 1
    assert "no paper '2401.00000' in the store" in missing.stderr


def test_fetches_lists_verdicts(tmp_path: Path) -> None:
    assert run(tmp_path, "demo").returncode == 0
    result = run(tmp_path, "fetches", "--verdict", "ok", "--limit", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" ok ") == 3


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    first = run(tmp_path, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    head = head_revision()
    assert f"upgraded the schema from empty to {head}" in first.stdout
    again = run(tmp_path, "db", "upgrade")
    assert f"already at the latest schema ({head})" in again.stdout
    current = run(tmp_path, "db", "current")
    assert current.returncode == 0
    assert f"database: {head}; this Paperboy: {head} (up to date)" in current.stdout


def test_an_older_schema_is_refused_until_upgraded(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pb.db'}")
    upgrade(engine, "0001")
    engine.dispose()
    refused = run(tmp_path, "papers")
    assert refused.returncode == 1
    assert (
        f"the database is at schema 0001, this Paperboy needs {head_revision()}" in refused.stderr
    )
    assert "paperboy db upgrade" in refused.stderr
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert run(tmp_path, "papers").returncode == 0


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("fetch", "demo", "papers", "fetches", "db"):
        assert command in result.stdout


def test_live_path_against_a_local_replay_server(tmp_path: Path) -> None:
    """`paperboy fetch` over real HTTP, the site played by a server on 127.0.0.1."""
    with replay_server() as (base, seen):
        env = {"PAPERBOY_HF_BASE_URL": base, "PAPERBOY_REQUEST_DELAY": "0.05"}
        day = run(tmp_path, "fetch", "--date", "2026-05-08", **env)
        search = run(tmp_path, "fetch", "--search", "llama 3 herd", **env)
        page = run(tmp_path, "fetch", "--date", "2026-07-02", **env)
        backfill = run(tmp_path, "fetch", "--backfill", "3", **env)
    assert day.returncode == 0, day.stderr
    assert "37 new papers stored." in day.stdout
    assert search.returncode == 0, search.stderr
    assert page.returncode == 0, page.stderr
    assert backfill.returncode == 0, backfill.stderr
    assert seen[0] == "/robots.txt"
    assert rows(tmp_path, "select count(*) from papers") == [(37 + 11 + 31,)]
    verdicts = rows(tmp_path, "select source, path, verdict from fetches order by id")
    assert verdicts[:3] == [("day", "api", "ok"), ("search", "api", "ok"), ("day", "props", "ok")]
    assert verdicts[3:] == [("day", "api", "empty")] * 3  # days with no papers yet


def test_send_preview_and_deliveries(tmp_path: Path) -> None:
    assert run(tmp_path, "demo").returncode == 0  # stores papers, mails the demo reader
    added = run(
        tmp_path,
        "subscriber",
        "add",
        "eve@example.org",
        "--hour",
        "0",
        "--zone",
        "UTC",
        "--profile",
        'llm=title:llama OR "language models"',
    )
    assert added.returncode == 0, added.stderr
    dry = run(tmp_path, "send", "--dry-run", PAPERBOY_MAIL_TRANSPORT="null")
    assert dry.returncode == 0, dry.stderr
    assert "eve@example.org" in dry.stdout
    assert rows(tmp_path, "select count(*) from deliveries") == [(1,)]  # the dry run kept nothing
    sent = run(tmp_path, "send", PAPERBOY_MAIL_TRANSPORT="null")
    assert sent.returncode == 0, sent.stderr
    assert "1 due, 1 composed" in " ".join(sent.stdout.split())
    assert rows(tmp_path, "select state from deliveries order by id") == [("sent",), ("sent",)]
    again = run(tmp_path, "send", PAPERBOY_MAIL_TRANSPORT="null")
    assert "0 due, 0 composed" in " ".join(again.stdout.split())
    listed = run(tmp_path, "deliveries")
    assert "eve@example.org" in listed.stdout
    assert "sent: 2" in listed.stdout
    preview = run(tmp_path, "digest", "preview", "eve@example.org", "-o", str(tmp_path / "p"))
    assert preview.returncode == 0, preview.stderr
    # Nothing new since the digest just sent, and eve asked for no "nothing matched" mail:
    # the preview says what send would do (nothing) instead of writing a mail never sent.
    assert "no mail" in preview.stdout
    assert list((tmp_path / "p").iterdir()) == []


def test_paperboy_web_serves_the_pages_until_sigterm(tmp_path: Path) -> None:
    """`paperboy web`: the pages alone, for deployments that send with run-once."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")},
        "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'pb.db'}",
        "PAPERBOY_WEB_PORT": str(port),
        "PAPERBOY_SECRET_KEY": "web-test-secret-0123456789",
        "HOME": str(tmp_path),
    }
    process = subprocess.Popen(
        [str(PAPERBOY), "web"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "paperboy web did not start"
                assert process.poll() is None, process.communicate()
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        assert "Sign up" in httpx.get(f"http://127.0.0.1:{port}/signup").text
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the signal: systemd counts that as clean.
    assert process.returncode in (0, -signal.SIGTERM), errors
    assert "Traceback" not in errors


def test_one_unusable_subscriber_does_not_stop_the_others(tmp_path: Path) -> None:
    assert run(tmp_path, "demo").returncode == 0
    for email in ("eve@example.org", "zoe@example.org"):
        added = run(
            tmp_path, "subscriber", "add", email, "--hour", "0", "--zone", "UTC", "--profile",
            'llm=title:llama OR "language models"',
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    with sqlite3.connect(tmp_path / "pb.db") as db:  # as stored before addresses had to be ASCII
        db.execute("update subscribers set email = 'zoé@example.org' where email like 'zoe@%'")
    sent = run(tmp_path, "send", PAPERBOY_MAIL_TRANSPORT="null")
    assert sent.returncode == 1
    said = " ".join(sent.stderr.split())
    assert "no digest for zoé@example.org: address must be printable ASCII" in said
    assert "paperboy subscriber remove" in said
    assert "Traceback" not in sent.stderr
    delivered = rows(tmp_path, "select recipient, state from deliveries order by id")
    assert ("eve@example.org", "sent") in delivered
    assert not [r for r in delivered if "zo" in str(r[0])]
