"""Alembic environment: runs against the engine Paperboy hands over, never a URL of its own."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from store.errors import DanglingRows
from store.tables import METADATA

target_metadata = METADATA


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    assert isinstance(engine, Engine)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename); with foreign keys on, the
            # drop would cascade into the rows that point at it. SQLite ignores this pragma inside
            # a transaction, so it goes to the driver before ours begins, and back on after.
            _pragma(connection, "foreign_keys=OFF")
        try:
            with connection.begin():
                context.configure(
                    connection=connection,
                    target_metadata=target_metadata,
                    render_as_batch=sqlite,
                    compare_type=True,
                )
                context.run_migrations()
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                _pragma(connection, "foreign_keys=ON")


def _pragma(connection: Connection, setting: str) -> None:
    """A pragma straight to the driver (outside any transaction SQLAlchemy would begin)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA {setting}")


def _check_foreign_keys(connection: Connection) -> None:
    """A migration that left a dangling reference is rolled back, not committed."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise DanglingRows(broken)  # nothing was changed (paperboy.cli.hints says what next)


run_migrations_online()
