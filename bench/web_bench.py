"""`paperboy web` under load: /healthz, the recent-papers page /, a search on /, and the
profile preview, against a temporary SQLite store with 500 papers first seen in the last week.

The store holds the 160 captured papers (tests/data/hf) and synthetic variants of them (new
ids, upvotes and title words) up to 500, all first seen within the last 6 days by the system
clock (`paperboy web` runs on it). The server is the real command in a subprocess, on 127.0.0.1.

Load client: wrk (Debian's package) with 2 threads and 32 keep-alive connections for 10 s per
URL; without wrk, an asyncio httpx client with the same connections. The preview is limited to
120 requests a minute per client address, so it is timed instead: 100 different queries (what a
reader types, keystroke by keystroke) one after another, median and 95th percentile. Baselines
measured in the same run, in-process: what /healthz did per call before issue 17 (read the
migration scripts and the database's revision), and the preview's old path (read the week's
papers, match them with a fresh Matcher).

Each URL's line also gives the CPU time the server process used while it was loaded (user +
system, from /proc) and requests per CPU-second: on a shared machine the rate moves with the
neighbours' load, the CPU a request costs much less. ``--hide uvloop,httptools`` starts the server
with those modules made unimportable, so uvicorn falls back to asyncio's loop and h11 (the
"before" of issue 17's last step, measured in the same run). ``--stack`` measures, in-process
and without any HTTP server, the CPU a request costs at each layer of the app: the app as
served, FastAPI's whole stack, then each middleware inward (what is left at a layer is that
layer and everything inside it), on asyncio's loop and uvloop's.

    .venv/bin/python bench/web_bench.py [--seconds 10] [--connections 32] [--hide uvloop,httptools]
        [--paths /healthz,/] [--runs 3] [--stack]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.ingest import plan_batch  # noqa: E402
from paperboy.profiles.matcher import Matcher, ProfileSpec, ranked  # noqa: E402
from scraper.models import ScrapedPaper, View  # noqa: E402
from store.engine import current_revision, head_revision, open_engine  # noqa: E402
from store.repository import SqlStore  # noqa: E402
from tests.builders import outcome  # noqa: E402
from tests.papers import saved_papers  # noqa: E402

PAPERS = 500
LOADED = ("/healthz", "/", "/?q=diffusion+OR+%22video+generation%22")
TYPED = ('diffusion OR "video generation" -survey', "llm* AND reasoning", "author:Wang agent")
WORDS = ("sparse", "robust", "streaming", "multilingual", "efficient", "causal", "3d", "tiny")


def papers() -> list[ScrapedPaper]:
    """The captured papers, then variants of them up to PAPERS."""
    found = list(saved_papers())
    rng = random.Random(17)
    n = 0
    while len(found) < PAPERS:
        source = found[n % len(saved_papers())]
        n += 1
        title = f"{rng.choice(WORDS).title()} {source.title}"
        found.append(
            dataclasses.replace(
                source, arxiv_id=f"2699.{n:05d}", title=title, upvotes=rng.randint(0, 400)
            )
        )
    return found


def fill(url: str, now: datetime) -> None:
    store = SqlStore(open_engine(url))
    every = papers()
    for day in range(5):  # five fetches, a day apart, the last six hours ago
        at = now - timedelta(days=5 - day, hours=-18)
        chunk = tuple(every[day * 100 : (day + 1) * 100])
        store.ingest(plan_batch(outcome(chunk, view=View.DAY, period=f"{at:%Y-%m-%d}", at=at)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hiding(names: list[str], folder: str) -> str:
    """A folder to put first on PYTHONPATH in which each of ``names`` fails to import."""
    for name in names:
        package = Path(folder) / name
        package.mkdir()
        (package / "__init__.py").write_text(f"raise ImportError('{name} hidden by the bench')\n")
    return folder


@dataclasses.dataclass(frozen=True)
class Server:
    base: str
    pid: int

    def cpu(self) -> float:
        """CPU seconds (user + system, all threads) the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(url: str, hide: list[str]) -> Iterator[Server]:
    with tempfile.TemporaryDirectory() as shadow:
        path = os.pathsep.join((hiding(hide, shadow), str(ROOT))) if hide else str(ROOT)
        with _serving(url, path) as server:
            yield server


@contextmanager
def _serving(url: str, path: str) -> Iterator[Server]:
    port = free_port()
    env = dict(
        os.environ,
        PAPERBOY_DATABASE_URL=url,
        PAPERBOY_SECRET_KEY="bench-secret-key-0123456789abcdef",  # noqa: S106
        PAPERBOY_WEB_HOST="127.0.0.1",
        PAPERBOY_WEB_PORT=str(port),
        PAPERBOY_MAIL_TRANSPORT="null",
        PYTHONPATH=path,
    )
    command = [sys.executable, "-m", "paperboy.cli.main", "web"]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            said = server.stderr.read() if server.stderr else b""
            raise SystemExit(f"paperboy web did not start: {said[-2000:]!r}")
        yield Server(base, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def wrk(url: str, seconds: int, connections: int) -> tuple[float, int, str]:
    """Requests per second, requests made and the latency line, from wrk."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    made = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    latency = re.search(r"^\s+50%\s+(\S+).*?^\s+99%\s+(\S+)", text, re.S | re.M)
    note = f"p50 {latency.group(1)}, p99 {latency.group(2)}" if latency else ""
    if errors:
        note += f", {errors.group(1)} non-2xx answers"
    return rate, made, note


async def _pound(url: str, seconds: int, connections: int) -> tuple[float, int, str]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    done = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(limits=limits) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                (await client.get(url)).raise_for_status()
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return done / (time.perf_counter() - start), done, "httpx client"


def load(server: Server, path: str, seconds: int, connections: int) -> str:
    """One URL under load: its line of the report."""
    url = server.base + path
    before = server.cpu()
    if shutil.which("wrk"):
        rate, made, note = wrk(url, seconds, connections)
    else:
        rate, made, note = asyncio.run(_pound(url, seconds, connections))
    cpu = server.cpu() - before
    per_cpu = f"{made / cpu:7,.0f} per CPU-s" if cpu else ""
    return f"{path:45} {rate:7,.0f} requests/s  {per_cpu} (server {cpu:.1f} CPU-s)  {note}"


def keystrokes() -> list[str]:
    """What the preview is asked while three queries are typed: 100 requests."""
    asked = [q[:n] for q in TYPED for n in range(4, len(q) + 1)]
    return [asked[i * len(asked) // 100] for i in range(100)]


def preview_latency(base: str) -> tuple[float, float, int]:
    times = []
    with httpx.Client(base_url=base) as client:
        for q in keystrokes():
            start = time.perf_counter()
            answer = client.get(f"/preview?compact=1&q={quote(q)}")
            times.append(time.perf_counter() - start)
            assert answer.status_code == 200, answer.status_code
    times.sort()
    return statistics.median(times) * 1000, times[94] * 1000, len(times)


def baselines(url: str, now: datetime) -> tuple[float, float]:
    """In-process, this run: the old /healthz work per call (ms) and the old preview (ms)."""
    engine = open_engine(url)
    store = SqlStore(engine)
    runs = []
    for _ in range(20):
        start = time.perf_counter()
        current_revision(engine) == head_revision()  # noqa: B015
        runs.append(time.perf_counter() - start)
    health = statistics.median(runs) * 1000
    runs = []
    for q in TYPED:
        start = time.perf_counter()
        recent = store.papers_seen_between(now - timedelta(days=7), now)
        ranked(Matcher([ProfileSpec(0, 0, "preview", q)]).match(recent))
        runs.append(time.perf_counter() - start)
    return health, statistics.median(runs) * 1000


def _scope(path: str, app: object) -> dict[str, object]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "app": app,
    }


async def _layers(app: FastAPI, rounds: int, calls: int) -> None:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def stack(scope: Any, receive: Any, send: Any) -> None:
        await FastAPI.__call__(app, scope, receive, send)

    app.middleware_stack = app.build_middleware_stack()
    layers: list[tuple[str, Any]] = [(f"{type(app).__name__} (as served)", app)]
    layers.append(("FastAPI's stack", stack))
    layer: Any = app.middleware_stack
    while layer is not None and not hasattr(layer, "routes"):
        layers.append((type(layer).__name__, layer))
        layer = getattr(layer, "app", None)
    for path in ("/healthz", "/"):
        for name, target in layers:
            best = float("inf")
            for _ in range(rounds):
                statuses.clear()
                start = time.process_time()
                for _ in range(calls):
                    await target(_scope(path, app), receive, send)
                best = min(best, time.process_time() - start)
                assert set(statuses) == {200}, (name, set(statuses))
            print(f"  {path:9} from {name:32} {best / calls * 1e6:6.1f} us CPU a request")


def stack_costs(url: str, rounds: int = 5, calls: int = 2000) -> None:
    """The app's layers in-process (no HTTP server): the best of ``rounds`` of ``calls``."""
    import uvloop

    from paperboy.clock import system_clock
    from paperboy.tokens import Tokens
    from paperboy.web.app import WebContext, create_app

    clock = system_clock
    app = create_app(
        WebContext(open_engine(url), Tokens("bench-secret-key-0123456789ab", clock), clock)
    )
    for name, run in (("asyncio", asyncio.run), ("uvloop", uvloop.run)):
        print(f"in-process, {name}'s loop, no HTTP server (best of {rounds} x {calls}):")
        run(_layers(app, rounds, calls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--hide", default="", help="modules the server must not find, a,b")
    parser.add_argument("--paths", default="", help="only these URLs, a,b (no preview timing)")
    parser.add_argument("--runs", type=int, default=1, help="load each URL this many times")
    parser.add_argument("--stack", action="store_true", help="only the app's layers, in-process")
    args = parser.parse_args()
    hide = [name for name in args.hide.split(",") if name]
    paths = [p for p in args.paths.split(",") if p] or list(LOADED)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        fill(url, now)
        if args.stack:
            stack_costs(url)
            return
        old_health, old_preview = baselines(url, now)
        print(f"store: {PAPERS} papers first seen in the last 6 days; code at {ROOT}")
        print(f"load client: {'wrk' if shutil.which('wrk') else 'asyncio httpx'}, ", end="")
        print(f"{args.connections} connections, {args.seconds} s per URL", end="")
        print(f"; server without {', '.join(hide)}" if hide else "")
        with serving(url, hide) as server:
            base = server.base
            httpx.get(f"{base}/preview?q=warm").raise_for_status()  # builds the shelf's index
            httpx.get(f"{base}/?q=warm").raise_for_status()
            for _ in range(args.runs):
                for path in paths:
                    print(load(server, path, args.seconds, args.connections), flush=True)
            if args.paths:
                return
            median, p95, n = preview_latency(base)
            print(
                f"{'/preview (typed, one at a time)':45} median {median:.1f} ms, p95 {p95:.1f} ms"
            )
            print(f"  ({n} requests)")
    print(
        f"baseline, in-process: old /healthz work {old_health:.1f} ms per call (one core: ", end=""
    )
    print(f"{1000 / old_health:,.0f}/s at most); old preview path {old_preview:.0f} ms")


if __name__ == "__main__":
    main()
