"""What hostile upstream answers cost, before and after the limits of issue 13 (items 3, 4).

Each scenario runs `paperboy` in a child process against a hostile server on 127.0.0.1 and
reports the child's peak memory (ru_maxrss), its wall time, its exit code and what the store kept.
"Before" is the code of another revision (git archive of --before, default the commit before the
limits), run the same way in the same run; "after" is this tree.

Scenarios: a 50 MB answer; a ~300 KB gzip bomb inflating to 300 MB; a body trickled a byte every
1.5 s (20 bytes, read timeout 5 s, deadline 10 s); a 1 MB title -> the digest email's size;
the web preview's CPU with a 1 MB abstract stored (in this process, on this tree's preview).

    .venv/bin/python bench/hostile_fetch_bench.py [--before REV] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAY = "2026-05-08"
CAPTURE = ROOT / "tests" / "data" / "hf" / "hf-api-daily-papers-2026-05-08.json"
DEFAULT_BEFORE = "973ba47^"  # the tree before part A of issue 13


@dataclass
class Run:
    exit_code: int
    seconds: float
    max_rss_mb: float
    verdict: str
    error: str
    stored: str


def entries(**paper: object) -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads(CAPTURE.read_bytes())[:5]
    first = data[0]["paper"]
    assert isinstance(first, dict)
    first.update(paper)
    return data


NAMES = ("50MB answer", "gzip bomb", "trickle", "1MB title")


def routes(name: str) -> dict[str, Any]:
    """The hostile routes of one scenario (built in the server process only)."""
    from tests.hostile_server import answer, gzip_bomb, head, raw, trickle

    def then(first: Any, second: Any) -> Any:
        return lambda handler: (first(handler), second(handler))

    api = f"/api/daily_papers?limit=100&date={DAY}"
    big = json.dumps(entries(summary="word " * 10_000_000)).encode()  # 50 MB
    title = json.dumps(entries(id="2605.99999", title="Diffusion " + "A" * 1_000_000)).encode()
    if name == "50MB answer":
        return {api: answer(big), "/papers/": answer(b"", status=404)}
    if name == "gzip bomb":
        return {api: gzip_bomb(300_000_000), "/papers/": answer(b"", status=404)}
    if name == "trickle":
        slow = trickle(b"[" * 10 + b"]" * 10, every=1.5)
        return {api: then(raw(head(length=20)), slow), "/papers/": answer(b"", status=404)}
    return {"=/api/daily_papers?limit=100": answer(title)}


def serve(name: str) -> None:
    """The hostile server of one scenario, in a process of its own; prints its base URL."""
    from tests.hostile_server import hostile_server

    with hostile_server(routes(name)) as (base, _):
        print(base, flush=True)
        sys.stdin.read()  # until the bench closes our stdin


@contextmanager
def server(name: str) -> Iterator[str]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdin is not None
    try:
        yield child.stdout.readline().strip()
    finally:
        child.stdin.close()
        child.wait(timeout=60)


def run_paperboy(
    tree: Path, home: Path, env: dict[str, str], *args: str
) -> tuple[int, float, float]:
    """Exit code, wall seconds and peak RSS (MB) of `paperboy ARGS` run from ``tree``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")} | {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "PYTHONPATH": str(tree),
        "COLUMNS": "200",
        **env,
    }
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "paperboy.cli.main", *args],
        env=environment,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, time.monotonic() - started, usage.ru_maxrss / 1024


def scenario(tree: Path, name: str) -> Run:
    with tempfile.TemporaryDirectory() as tmp, server(name) as base:
        home = Path(tmp)
        db = home / "pb.db"
        env = {
            "PAPERBOY_DATABASE_URL": f"sqlite:///{db}",
            "PAPERBOY_HF_BASE_URL": base,
            "PAPERBOY_REQUEST_DELAY": "0",
            "PAPERBOY_READ_TIMEOUT": "5",
            "PAPERBOY_MAX_RETRIES": "0",
            "PAPERBOY_REQUEST_DEADLINE": "10",
            "PAPERBOY_OUTBOX_DIR": str(home / "outbox"),
        }
        if name == "1MB title":
            run_paperboy(tree, home, env, "db", "upgrade")
            run_paperboy(
                tree, home, env, "subscriber", "add", "r@example.org", "--zone", "UTC",
                "--hour", "0", "--profile", "p=diffusion",
            )  # fmt: skip
            code, seconds, rss = run_paperboy(tree, home, env, "run-once")
            emails = sorted((home / "outbox").rglob("*.eml"))
            stored = f"email {max((e.stat().st_size for e in emails), default=0):,} bytes"
        else:
            code, seconds, rss = run_paperboy(tree, home, env, "fetch", "--date", DAY)
            stored = ""
        verdict, error, summary = _stored(db)
        stored = f"{stored}, " if stored else ""
        stored += f"longest title/abstract {summary:,} chars" if summary else "no papers"
        return Run(code, seconds, rss, verdict, error, stored)


def _stored(db: Path) -> tuple[str, str, int]:
    if not db.exists():
        return "-", "", 0
    with sqlite3.connect(db) as connection:
        try:
            row = connection.execute(
                "select verdict, coalesce(error, '') from fetches where source = 'day' "
                "order by id desc limit 1"
            ).fetchone()
            longest = connection.execute(
                "select max(n) from (select max(length(summary)) as n from papers "
                "union all select max(length(title)) from papers)"
            ).fetchone()
        except sqlite3.Error:
            return "-", "", 0
    verdict, error = row if row else ("no row", "")
    return verdict, error, longest[0] or 0


def preview_cpu() -> tuple[float, float]:
    """CPU seconds of one web preview with a 1 MB abstract stored, and with what is stored now."""
    from paperboy.web.preview import preview
    from scraper.parse_json import parse_entries
    from store.engine import make_engine, upgrade
    from store.repository import SqlStore
    from tests.builders import batch
    from tests.conftest import PINNED

    body = "diffusion models " * 60_000  # about 1 MB
    hostile = entries(summary=body)
    unparsed = parse_entries(json.loads(CAPTURE.read_bytes())[:5], "bench")
    import dataclasses

    figures = []
    for papers in (
        (dataclasses.replace(unparsed[0], summary=body), *unparsed[1:]),  # as stored before
        parse_entries(hostile, "bench"),  # as the capped parser stores it
    ):
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/pb.db")
            upgrade(engine)
            store = SqlStore(engine)
            store.ingest(batch(tuple(papers), at=PINNED))
            started = time.process_time()
            preview(store, "diffusion OR models", PINNED + timedelta(hours=1))
            figures.append(time.process_time() - started)
            engine.dispose()
    return figures[0], figures[1]


def before_tree(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="revision to compare with")
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.serve)
        return
    chosen = [name for name in NAMES if not options.only or name in options.only]
    with tempfile.TemporaryDirectory() as tmp:
        old = before_tree(options.before, Path(tmp))
        print(f"{'scenario':12} {'tree':6} {'exit':>4} {'seconds':>8} {'peak MB':>8}  outcome")
        for label, tree in (("before", old), ("after", ROOT)):
            with tempfile.TemporaryDirectory() as tmp:
                floor = run_paperboy(tree, Path(tmp), {}, "--help")[2]
            print(f"{'floor':12} {label:6} (`paperboy --help`) peak {floor:.0f} MB")
        for name in chosen:
            for label, tree in (("before", old), ("after", ROOT)):
                r = scenario(tree, name)
                print(
                    f"{name:12} {label:6} {r.exit_code:>4} {r.seconds:>8.1f} {r.max_rss_mb:>8.0f}"
                    f"  {r.verdict}; {r.stored}; {r.error[:110]}"
                )
    if not options.only or "preview" in options.only:
        before, after = preview_cpu()
        print(f"preview CPU with a 1 MB abstract stored: {before:.3f} s; capped: {after:.4f} s")


if __name__ == "__main__":
    main()
