"""The CLI's finish (issue 17): it starts without loading the web server, the migrations or the
model; tables fit 80 columns without breaking ids, addresses or URLs; listings print JSON for
scripts; --version; unknown delivery states refused; plurals; a slow fetch says what it waits for;
and a query is shown as it was understood."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from paperboy import __version__
from paperboy.cli.views import plural, waiting
from tests import cli

HEAVY = (
    *("fastapi", "uvicorn", "starlette", "alembic", "mako", "apscheduler", "onnxruntime", "numpy"),
    *("markdown_it", "pygments", "email_validator"),  # Rich's Markdown and tracebacks; addresses
)
SLOW = (
    "sqlalchemy",
    "sqlmodel",
    "httpx",
    "jinja2",
    "pydantic",
    "pydantic_settings",
)  # not for --help
LONG = "a.rather.long.mailbox.name.for.tables@lists.subdomain.example.org"


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI at 80 columns, the lexical fallback, on home's database (in this process:
    tests/cli.py; what importing it loads is checked in a fresh interpreter below)."""
    return cli.run(home, *args, **({"PAPERBOY_SEMANTIC": "off", "COLUMNS": "80"} | env))


def loaded_by(code: str) -> list[str]:
    """The heavy and slow packages loaded by running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint([m for m in {HEAVY + SLOW!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"')))


def test_importing_the_cli_loads_no_web_server_migrations_or_model() -> None:
    assert loaded_by("import paperboy.cli.main") == []


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["profile", "help"]])
def test_help_and_version_load_nothing_heavy(args: list[str]) -> None:
    code = f"from paperboy.cli.main import main\nmain({args!r})"
    assert loaded_by(code) == []


def test_version(tmp_path: Path) -> None:
    result = run(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"paperboy {__version__}"
    assert not (tmp_path / "pb.db").exists()


def test_an_unknown_delivery_state_is_refused_like_an_unknown_verdict(tmp_path: Path) -> None:
    result = run(tmp_path, "deliveries", "--state", "lost")
    assert result.returncode == 2
    said = " ".join(result.stderr.replace("│", " ").split())
    assert "'lost' is not one of" in said
    assert "'perm_failed'" in said
    assert not (tmp_path / "pb.db").exists()


def test_the_closeness_range_of_the_cli_is_the_stores() -> None:
    from paperboy.cli.commands_profile import MAX_CLOSENESS
    from paperboy.feedback import MAX_CLOSENESS as STORED

    assert MAX_CLOSENESS == STORED


def test_plural() -> None:
    assert [plural(n, "digest") for n in (0, 1, 2)] == ["0 digests", "1 digest", "2 digests"]


def test_a_slow_call_off_a_terminal_says_what_it_waits_for_once() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=80)
    with waiting(console, "huggingface.co", after=0.05):
        time.sleep(0.5)
    assert buffer.getvalue() == "waiting for huggingface.co…\n"
    quick = io.StringIO()
    with waiting(Console(file=quick), "huggingface.co", after=5):
        pass
    assert quick.getvalue() == ""


def test_a_slow_call_on_a_terminal_shows_a_spinner_that_goes_away() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=True)
    with waiting(console, "huggingface.co", after=0.0):
        time.sleep(0.3)
    assert "waiting for huggingface.co…" in buffer.getvalue()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's papers, a broken fetch (its error holds a URL) and a digest to a long address."""
    home = tmp_path_factory.mktemp("finish")
    assert run(home, "demo").returncode == 0
    offline = {"PAPERBOY_HF_BASE_URL": "http://127.0.0.1:9", "PAPERBOY_MAX_RETRIES": "0"}
    assert run(home, "fetch", "--trending", **offline).returncode == 1
    added = run(
        home, "subscriber", "add", LONG, "--hour", "0", "--zone", "UTC", "--profile", "d=diffusion"
    )
    assert added.returncode == 0, added.stderr
    return home


def test_profile_add_and_test_print_how_the_query_was_understood(store: Path) -> None:
    query = '"variational inference" OR bayesian* -survey'
    for args in (("profile", "test", query), ("profile", "add", LONG, "vi", query)):
        result = run(store, *args)
        assert result.returncode == 0, result.stderr
        assert 'understood as: ("variational inference" OR (bayesian* -survey))' in result.stdout
        said = " ".join(result.stderr.split())
        assert "warning: -survey applies only to bayesian*" in said
        assert 'write: ("variational inference" OR bayesian*) -survey' in said
    fixed = run(store, "profile", "test", '("variational inference" OR bayesian*) -survey')
    assert "warning" not in fixed.stderr


def test_a_dry_run_counts_in_words(store: Path) -> None:
    result = run(store, "send", "--dry-run", COLUMNS="200")
    assert result.returncode == 0, result.stderr
    assert "1 digest due (dry run" in result.stdout


def _widths(header: str) -> dict[str, int]:
    """Each column's inner width, read from the table's header line."""
    cells = header.strip("┃").split("┃")
    return {cell.strip(): len(cell) for cell in cells}


def _table(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("┃", "│"))]


def test_papers_at_80_columns_give_the_title_the_width(store: Path) -> None:
    result = run(store, "papers", "--limit", "20")
    assert result.returncode == 0, result.stderr
    lines = _table(result.stdout)
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    widths = _widths(lines[0])
    assert widths["title"] >= 40
    assert widths["title"] > sum(widths.values()) / 2
    assert "authors" not in widths


def test_fetches_at_80_columns_keep_urls_on_one_line(store: Path) -> None:
    result = run(store, "fetches", "--limit", "20")
    assert result.returncode == 0, result.stderr
    assert all(len(line) <= 80 for line in _table(result.stdout))
    urls = re.findall(r"https?://\S+", result.stdout)
    assert "http://127.0.0.1:9/robots.txt)" in urls  # the broken fetch's error, whole
    broken = next(line for line in _table(result.stdout) if "trending" in line)
    assert f"fetch {broken.split('│')[1].strip()}: cannot reach 127.0.0.1" in result.stdout


def test_deliveries_at_80_columns_keep_addresses_whole(store: Path) -> None:
    assert run(store, "send").returncode == 0
    result = run(store, "deliveries")
    assert result.returncode == 0, result.stderr
    rows = _table(result.stdout)
    assert all(len(line) <= 80 for line in rows)
    assert len(rows) == 3  # the header and one line per delivery: nothing split
    widths = _widths(rows[0])
    assert widths["period"] >= len(" 2026-07-02 ")
    assert widths["next / sent"] >= len(" 11-29 04:43 ")
    long = rows[1].split("│")[2].strip()
    assert long.endswith("…")  # it cannot fit 80 columns ...
    assert LONG.startswith(long[:-1])  # ... so it is shortened, not split
    assert rows[2].split("│")[2].strip() == "demo@example.org"
    wide = _table(run(store, "deliveries", COLUMNS="120").stdout)
    assert wide[1].split("│")[2].strip() == LONG


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("papers", "--limit", "7"), "arxiv_id"),
        (("fetches", "--limit", "7"), "id"),
        (("deliveries",), "id"),
        (("profile", "list"), "email"),
    ],
)
def test_listings_print_the_same_rows_as_json(store: Path, args: tuple[str, ...], key: str) -> None:
    table = run(store, *args, COLUMNS="250")
    shown = run(store, *args, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr == ""
    found: list[dict[str, Any]] = json.loads(shown.stdout)
    assert found
    firsts = [line.split("│")[1].strip() for line in _table(table.stdout)[1:]]
    assert [str(row[key]) for row in found] == firsts


def test_one_paper_as_json(store: Path) -> None:
    shown = run(store, "papers", "2407.21783", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    paper = json.loads(shown.stdout)
    assert paper["title"] == "The Llama 3 Herd of Models"
    assert paper["first_seen_at"].endswith("+00:00")
    assert any(o["view"] == "search" for o in paper["observations"])
