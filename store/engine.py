"""The engine (SQLite with WAL by default, PostgreSQL via psycopg) and Alembic migrations.

Opening a store reads the database's revision with one plain query and compares it with
``HEAD``; Alembic (and the migration scripts) load only to upgrade, so a command that merely
reads the store starts without them (issue 17; bench/cli_bench.py).
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, column, create_engine, event, inspect, select, table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    SQLAlchemyError,
)

from base.errors import ConfigError, StoreError
from store.errors import SchemaNotCurrent

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0012"
"""The newest migration's revision: what this Paperboy's schema is. A new migration moves it
(tests/test_cli_startup.py checks it against the scripts' head)."""
VERSION_TABLE = "alembic_version"  # where Alembic keeps a database's revision
_VERSIONS = table(VERSION_TABLE, column("version_num"))
MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "paperboy_read_only"  # execution option: a SQLite transaction that only reads
BUSY_TIMEOUT = 30.0  # seconds a SQLite write waits for another program's lock (URL: ?timeout=)
_WRITE_LOCKS: WeakKeyDictionary[Engine, AbstractContextManager[Any]] = WeakKeyDictionary()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout on every connect."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(
            f"PAPERBOY_DATABASE_URL is not a database URL: {url!r}",
            hint="use sqlite:///path/to/paperboy.db or postgresql+psycopg://user@host/db",
        ) from e
    try:  # loads the dialect and imports its driver: an unknown one is a setting to fix
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as e:
        raise ConfigError(
            "PAPERBOY_DATABASE_URL",
            f"Paperboy has no driver for {parsed.drivername!r}",
            hint="use sqlite:///path/to/paperboy.db or postgresql+psycopg://user@host/db",
        ) from e
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(
                    f"cannot create the folder of the SQLite database {folder}: {e.strerror}",
                    hint="point PAPERBOY_DATABASE_URL at a folder this user can write",
                ) from e
        busy = busy_timeout(parsed)
        engine = create_engine(parsed, connect_args={"timeout": busy})
        event.listen(engine, "connect", lambda c, r: sqlite_pragmas(c, r, busy=busy))
        event.listen(engine, "begin", _sqlite_begin)
        _WRITE_LOCKS[engine] = threading.RLock()
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def busy_timeout(url: URL) -> float:
    """Seconds a SQLite write waits for a lock another program holds: ``?timeout=`` in the URL
    (what the sqlite3 module calls it), else 30."""
    value = url.query.get("timeout", BUSY_TIMEOUT)
    try:
        seconds = float(value if isinstance(value, str | float) else value[-1])
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise ConfigError(
            "PAPERBOY_DATABASE_URL",
            f"timeout={value!r} is not a number of seconds from 0 to 3600",
            hint="write the SQLite busy timeout as sqlite:///path/to/paperboy.db?timeout=30",
        )
    return seconds


def sqlite_pragmas(dbapi_connection: Any, _record: Any = None, *, busy: float = 30.0) -> None:
    """What every SQLite connection of ours runs first (the ingest benchmark's floor too)."""
    # We issue BEGIN ourselves (below), so the driver must not start transactions of its own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={round(busy * 1000)}")
    # A 64 MiB page cache and a checkpoint every ~40 MiB of WAL instead of every 4 MiB: a fetch
    # that updates papers all over the table then rewrites each page far less often.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """BEGIN IMMEDIATE: take the write lock at the start, not halfway through.

    A deferred transaction that reads and then writes (claiming deliveries) fails at once with
    "database is locked" when another one got the lock first, whatever the busy timeout; an
    immediate one waits its turn. SQLite has one writer at a time either way. Connections marked
    READ_ONLY begin a plain (deferred) transaction: in WAL mode a reader never waits for writers.
    """
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    # Straight to the driver: this runs once per transaction, and a write transaction per
    # message is the sender's ledger cost (SQLAlchemy's execution pipeline adds nothing here).
    # Which is also why its errors ("database is locked" after the busy timeout) are wrapped
    # here: SQLAlchemy does not wrap what a "begin" listener raises, and the repositories turn
    # its own errors into clear messages.
    statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
    try:
        connection.connection.driver_connection.execute(statement)
    except sqlite3.Error as e:
        raise DBAPIError.instance(statement, None, e, sqlite3.Error) from e


def write_lock(engine: Engine) -> AbstractContextManager[Any]:
    """What a thread holds around a write transaction: for SQLite, a lock shared by the engine.

    SQLite lets one writer in at a time; a thread that finds the write lock taken sleeps in
    SQLite's busy handler for 1, 2, 5, ... 100 ms, however soon the lock is free again, so
    threads writing small transactions at once (the web pages' threads, the scheduler's jobs, a
    sender's ledger thread) would spend their time asleep. Waiting on a Python lock instead wakes
    the next writer as soon as the last commits. Other processes still meet the busy timeout.
    """
    return _WRITE_LOCKS.get(engine) or nullcontext()


def _alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:  # what migrations/env.py runs them on
        config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The revision this Paperboy's schema is at (``HEAD``, the newest migration)."""
    return HEAD


def scripts_head() -> str:
    """The head revision as the migration scripts say (reads them all, through Alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> frozenset[str]:
    """Every revision of the migration scripts (reads them all, through Alembic)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database: Alembic's version
    table read with plain SQL, in a transaction that only reads."""
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            if not inspect(connection).has_table(VERSION_TABLE):
                return None
            found = connection.execute(select(_VERSIONS.c.version_num))
            versions = sorted(found.scalars())
    except SQLAlchemyError as e:  # unreachable, refused, or not a database at all
        raise _unreachable(engine, e) from e
    if len(versions) > 1:  # Alembic's branches: Paperboy's history is one line
        raise StoreError(f"the database is at several schema revisions at once: {versions}")
    return versions[0] if versions else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (``paperboy db upgrade``); a database at a revision
    the scripts do not know (migrated by a newer Paperboy) is refused, unchanged."""
    from alembic import command

    current = current_revision(engine)
    if current is not None and current not in known_revisions():
        raise SchemaNotCurrent(current, HEAD, known=False)
    try:
        command.upgrade(_alembic_config(engine), revision)
    except SQLAlchemyError as e:
        raise _unreachable(engine, e) from e


def open_engine(url: str, *, migrate: bool = False) -> Engine:
    """An engine whose schema is current.

    A database with no tables yet (a new SQLite file, an empty PostgreSQL database) is migrated
    at once; an older schema is upgraded only with ``migrate=True`` and otherwise refused
    (SchemaNotCurrent), so an operator decides when a shared database changes.
    """
    engine = make_engine(url)
    try:
        current = current_revision(engine)
        if current is None or (migrate and current != HEAD):
            upgrade(engine)
        elif current != HEAD:
            raise SchemaNotCurrent(current, HEAD, known=current in known_revisions())
    except BaseException:
        engine.dispose()  # its pooled connection goes now, not when collected
        raise
    return engine


def _unreachable(engine: Engine, error: SQLAlchemyError) -> StoreError:
    where = engine.url.render_as_string(hide_password=True)
    detail = str(error.orig if hasattr(error, "orig") and error.orig else error).splitlines()[0]
    if engine.url.get_backend_name() == "sqlite":
        hint = explain(engine, error) or (
            f"check PAPERBOY_DATABASE_URL and the SQLite file {engine.url.database}"
        )
    else:
        hint = "check PAPERBOY_DATABASE_URL and that the database server is running"
    return StoreError(f"cannot use the database {where}: {detail}", hint=hint)


def explain(engine: Engine, error: SQLAlchemyError) -> str | None:
    """What to do about a SQLite error that is about the file, not about Paperboy: a lock held
    too long, a read-only file or folder, a full disk. None for anything else."""
    if engine.url.get_backend_name() != "sqlite":
        return None
    text = str(getattr(error, "orig", None) or error).lower()
    path = Path(engine.url.database or "")
    if "locked" in text:
        return (
            f"another program held the SQLite database {path} for longer than the busy timeout "
            f"({busy_timeout(engine.url):g} s): a backup, a `sqlite3` shell, a second process "
            "writing it; run again when it is done, or wait longer with ?timeout=SECONDS at "
            "the end of PAPERBOY_DATABASE_URL"
        )
    if "readonly" in text or "read-only" in text:
        return (
            f"the SQLite file {path} is read-only for this user, or its folder is (SQLite "
            f"also writes {path.name}-wal and {path.name}-shm beside it): check their owner and "
            "permissions, and that the disk is mounted read-write"
        )
    if "disk is full" in text or "disk i/o error" in text:
        return f"the disk holding the SQLite database {path} is full or failing: free space"
    if "not a database" in text or "malformed" in text:
        return (
            f"{path} is not a SQLite database, or a damaged one: check that "
            "PAPERBOY_DATABASE_URL names Paperboy's database (restore a backup if it is damaged)"
        )
    return None
