"""Run the `paperboy` command in a test: in this process by default, or as a real process.

In this process (the default) the CLI runs through `paperboy.cli.main.main`, the console
script's own error boundary, so exit codes and messages are the ones a user sees; around it
the environment a real process would get is applied and taken back afterwards: PAPERBOY_*
cleared, then HOME, XDG_DATA_HOME, a SQLite database in tmp_path and COLUMNS=200 set; the
working directory is tmp_path; stdin is empty and no terminal; stdout and stderr are captured
apart (Click's test runner); the root logger and the SIGTERM/SIGINT handlers are restored and
the database engines the command opened are disposed of, as the end of a process would.

`process=True` spawns the real executable: for tests where the process is the point
(signals, a real exit status, servers, crash safety, what importing the CLI loads).
PAPERBOY_TESTS_REAL_PROCESS=1 spawns it for every call: the suite as it was, to compare.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

from click.testing import CliRunner

PAPERBOY = Path(sys.executable).with_name("paperboy")
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_WIDTH = ("COLUMNS", "LINES")


def environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """The variables a `paperboy` run in tmp_path sees: the caller's, PAPERBOY_* cleared."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")} | {
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'pb.db'}",
        "COLUMNS": "200",
        **env,
    }


def run(
    tmp_path: Path, *args: str, process: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    if process or os.environ.get("PAPERBOY_TESTS_REAL_PROCESS") == "1":
        return subprocess.run(
            [str(PAPERBOY), *args],
            capture_output=True,
            text=True,
            env=environment(tmp_path, **env),
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    return in_process(tmp_path, list(args), environment(tmp_path, **env))


def in_process(
    cwd: Path, args: list[str], env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    cli = _cli()
    runner = CliRunner()
    # what the process would not inherit is removed (None), the rest set for the call only
    changes: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    changes |= {k: v for k, v in env.items() if os.environ.get(k) != v}
    with (
        restored_globals(),
        _engines_disposed(),
        _working_directory(cwd),
        runner.isolation(env=changes) as streams,
    ):
        stdout, stderr, _ = streams
        try:
            code = cli.main(args)
        except SystemExit as e:  # main returns its code; a stray exit still ends the run
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        out, err = stdout.getvalue(), stderr.getvalue()
    return subprocess.CompletedProcess(
        ["paperboy", *args], code, out.decode(errors="replace"), err.decode(errors="replace")
    )


def _cli() -> ModuleType:
    """paperboy.cli.main, imported without COLUMNS/LINES set: Rich's consoles would keep a
    width seen at import for good, instead of reading COLUMNS at each call as they do now."""
    if "paperboy.cli.main" not in sys.modules:
        saved = {k: os.environ.pop(k) for k in _WIDTH if k in os.environ}
        try:
            importlib.import_module("paperboy.cli.main")
        finally:
            os.environ.update(saved)
    return sys.modules["paperboy.cli.main"]


@contextlib.contextmanager
def _engines_disposed() -> Iterator[None]:
    """Every engine the command connects with is disposed of afterwards (its pooled
    connections closed): a process would close them on exit, here they would leak."""
    from sqlalchemy import Connection, Engine, event

    engines: list[Engine] = []

    def connected(connection: Connection) -> None:
        if connection.engine not in engines:
            engines.append(connection.engine)

    event.listen(Engine, "engine_connect", connected)
    try:
        yield
    finally:
        event.remove(Engine, "engine_connect", connected)
        for engine in engines:
            engine.dispose()


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def restored_globals() -> Iterator[None]:
    """The CLI configures the root logger and installs signal handlers: both are put back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    handlers_before = {number: signal.getsignal(number) for number in SIGNALS}
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for number, handler in handlers_before.items():
            signal.signal(number, handler)
