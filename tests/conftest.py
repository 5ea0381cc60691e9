"""Shared fixtures: the real store on SQLite and PostgreSQL, a pinned clock, the saved captures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.schema import CreateSchema, DropSchema

from store.engine import make_engine, upgrade
from store.repository import SqlStore

DATA = Path(__file__).parent / "data"
HF = DATA / "hf"
PINNED = datetime(2026, 7, 2, 21, 40, 39, tzinfo=UTC)

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


_PG_REASON = _postgres_reason()


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
    schema = f"pb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(CreateSchema(schema))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(DropSchema(schema, cascade=True))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Every store test runs on both databases."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield SqlStore(engine)
    engine.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SqlStore]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield SqlStore(engine)
    engine.dispose()
