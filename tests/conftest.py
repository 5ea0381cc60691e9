"""Shared fixtures: the real store on SQLite and PostgreSQL, a pinned clock, the saved captures."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateSchema, DropSchema

from store.repository import SqlStore
from tests.databases import migrated_engine

DATA = Path(__file__).parent / "data"
HF = DATA / "hf"
PINNED = datetime(2026, 7, 2, 21, 40, 39, tzinfo=UTC)

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 set, which a plain pytest run does not
# have: a Rich console made while a test module is imported (paperboy.cli.app's) would keep 80
# columns for good. The tests that care about width set COLUMNS for the call (tests/cli.py: 200).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)

POSTGRES_URL = os.environ.get(
    "PAPERBOY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def capture(name: str) -> bytes:
    return (HF / name).read_bytes()


def _postgres_reason() -> str | None:
    """None when PostgreSQL is reachable, else why not (shown as the skip reason)."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as e:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(e).__name__}: {e})"
    return None


def _worker_database(url: str) -> str:
    """Under pytest-xdist (scripts/test runs the suite with -n), each worker process gets a
    database of its own beside the one named (test_gw0, test_gw1, ...; made once, then kept):
    the schemas keep tests apart, but the one-Paperboy-per-store advisory lock (paperboy.lock)
    is per database, and two workers' `run-once`s would otherwise wait for each other."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        found = connection.execute(
            text("select 1 from pg_database where datname = :name"), {"name": name}
        ).first()
        if found is None:
            connection.execute(text(f'create database "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


_PG_REASON = _postgres_reason()
if _PG_REASON is None:
    try:
        POSTGRES_URL = _worker_database(POSTGRES_URL)
    except Exception as e:
        _PG_REASON = f"cannot make this test worker's database beside {POSTGRES_URL} ({e})"


@functools.cache
def _admin() -> Engine:
    """Makes and drops the tests' schemas (one engine for the session, not one a test)."""
    engine = create_engine(POSTGRES_URL)
    atexit.register(engine.dispose)
    return engine


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'paperboy.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards: tests never see each other."""
    if _PG_REASON is not None:
        if os.environ.get("PAPERBOY_REQUIRE_POSTGRES"):
            pytest.fail(_PG_REASON)
        pytest.skip(_PG_REASON)
    with fresh_schema() as url:
        yield url


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """The URL of a new, empty schema, dropped on the way out."""
    schema = f"pb_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.begin() as connection:
        connection.execute(CreateSchema(schema))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(DropSchema(schema, cascade=True))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Every store test runs on both databases."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    engine = migrated_engine(database_url)
    yield SqlStore(engine)
    engine.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SqlStore]:
    engine = migrated_engine(sqlite_url)
    yield SqlStore(engine)
    engine.dispose()
