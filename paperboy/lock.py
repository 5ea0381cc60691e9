"""One Paperboy at a time per store: a file lock beside a SQLite file, an advisory lock on
PostgreSQL. A second `serve` or `run-once` waits (``wait`` seconds) or exits with a message."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Engine, text

from paperboy.errors import PaperboyError

ADVISORY_KEY = zlib.crc32(b"paperboy.single-instance")  # any fixed 32-bit number


class Busy(PaperboyError):
    """Another Paperboy process holds the store's lock."""

    exit_code = 75  # EX_TEMPFAIL: cron and systemd may simply try again later


@contextmanager
def single_instance(engine: Engine, *, wait: float = 0.0) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        with _file_lock(engine, wait):
            yield
    else:
        with _advisory_lock(engine, wait):
            yield


@contextmanager
def _file_lock(engine: Engine, wait: float) -> Iterator[None]:
    database = engine.url.database or ""
    path = Path(f"{database}.lock") if database and database != ":memory:" else None
    if path is None:
        yield
        return
    lock = FileLock(path, timeout=wait)
    try:
        lock.acquire()
    except Timeout as e:
        raise _busy(str(path), wait) from e
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _advisory_lock(engine: Engine, wait: float) -> Iterator[None]:
    """A session-level advisory lock, held on one connection for as long as we run."""
    take = text("SELECT pg_try_advisory_lock(:key)")
    with engine.connect() as connection:
        deadline = time.monotonic() + wait
        while not connection.execute(take, {"key": ADVISORY_KEY}).scalar_one():
            if time.monotonic() >= deadline:
                raise _busy("PostgreSQL advisory lock", wait)
            time.sleep(0.2)
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            connection.commit()


def _busy(what: str, wait: float) -> Busy:
    waited = f" after waiting {wait:.0f}s" if wait else ""
    return Busy(
        f"another Paperboy is already running against this store ({what}){waited}",
        hint="let it finish, or pass --wait SECONDS to queue behind it",
    )
