"""Databases at the head revision for tests, without running the migrations for each test.

Most tests want a store at the head revision and nothing more; running the Alembic migrations
for each one cost ~100 ms of CPU on SQLite and ~180 ms on PostgreSQL, a good part of the suite.
So each test process runs them for real once, into a template, and a test gets a copy:

- SQLite: the migrated file is copied (one file: WAL is checkpointed when its engine is disposed
  of; journal_mode=WAL is kept in the file itself).
- PostgreSQL cannot copy a schema, and CREATE DATABASE ... TEMPLATE takes seconds (a checkpoint),
  so the statements the migrations sent to the driver are recorded once and sent again, in one
  transaction, into the test's new, empty schema (the names are unqualified: the schema comes
  from the URL's search_path). The same statements, with the same parameters, in the same order.

A database that is not empty (a second world() on the same URL) is upgraded for real, as before.
Tests of the migrations themselves call store.engine.upgrade and run them for real;
tests/test_databases.py checks that a copy is what a real upgrade makes.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateSchema, DropSchema

from store.engine import current_revision, make_engine, upgrade

Statement = tuple[str, Any, bool]  # what went to the driver: SQL, parameters, executemany


def migrated_engine(url: str) -> Engine:
    """An engine on ``url`` whose database is at the head revision."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).exists():
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_sqlite_template(), database)
            return make_engine(url)
    else:
        engine = make_engine(url)
        if current_revision(engine) is None:
            _replay(engine, _postgres_statements(_server(url)))
            return engine
        engine.dispose()
    engine = make_engine(url)
    upgrade(engine)
    return engine


@functools.cache
def _sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="paperboy-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "head.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    leftovers = sorted(p.name for p in folder.iterdir() if p != path)
    assert not leftovers, f"the template is not one file after its engine closed: {leftovers}"
    return path


def _server(url: str) -> str:
    """The URL without its options (the schema): where a scratch schema can be made."""
    parsed = make_url(url)
    return parsed.set(
        query={k: v for k, v in parsed.query.items() if k != "options"}
    ).render_as_string(hide_password=False)


@functools.cache
def _postgres_statements(server: str) -> tuple[Statement, ...]:
    """What a real upgrade of an empty schema sends to the driver (run once, in a scratch
    schema that is dropped afterwards)."""
    schema = f"pb_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(CreateSchema(schema))
    sep = "&" if "?" in server else "?"
    engine = make_engine(f"{server}{sep}options=-csearch_path%3D{schema}")
    sent: list[Statement] = []

    def record(_c: Any, _cursor: Any, statement: str, params: Any, _x: Any, many: bool) -> None:
        sent.append((statement, params, many))

    event.listen(engine, "before_cursor_execute", record)
    try:
        upgrade(engine)
    finally:
        event.remove(engine, "before_cursor_execute", record)
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(DropSchema(schema, cascade=True))
        admin.dispose()
    return tuple(sent)


def _replay(engine: Engine, statements: tuple[Statement, ...]) -> None:
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for statement, params, many in statements:
            if many:
                cursor.executemany(statement, params)
            else:
                cursor.execute(statement, params)
        cursor.close()
        connection.commit()
    finally:
        connection.close()


def schema_of(engine: Engine) -> list[tuple[Any, ...]]:
    """What a database holds apart from rows: its tables, columns, indexes and constraints, and
    the revision (for tests/test_databases.py to compare a copy with a real upgrade)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(
                text("select type, name, tbl_name, sql from sqlite_master order by type, name")
            )
        else:
            rows = connection.execute(
                text(
                    "select 'column', table_name, column_name, data_type, column_default,"
                    " is_nullable, character_maximum_length from information_schema.columns"
                    " where table_schema = current_schema()"
                    " union all select 'index', tablename, indexname,"
                    " replace(indexdef, current_schema() || '.', ''), null, null, null"
                    " from pg_indexes where schemaname = current_schema()"
                    " union all select 'constraint', conrelid::regclass::text, conname,"
                    " pg_get_constraintdef(oid), null, null, null from pg_constraint"
                    " where connamespace = current_schema()::regnamespace"
                    " order by 1, 2, 3"
                )
            )
        found = [tuple(row) for row in rows]
        revision = connection.execute(text("select version_num from alembic_version")).all()
    return [*found, ("revision", *[tuple(r) for r in revision])]
