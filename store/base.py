"""What every repository shares: one transaction per unit of work, and database errors mapped
to StoreError with a hint (an IntegrityError passes through: callers turn it into a clear
InputError or "already done")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from base.errors import StoreError
from store.engine import READ_ONLY, explain, write_lock


class Repository:
    _write_hint = "nothing was changed; check the database and run again"
    _integrity_passes = True  # False: a constraint violation is a StoreError like the rest

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._write_lock = write_lock(engine)

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A transaction: committed at the end of the block, rolled back on any error."""
        try:
            with self._write_lock, self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as e:
            if isinstance(e, IntegrityError) and self._integrity_passes:
                raise
            raise StoreError(
                f"database write failed: {_detail(e)}",
                hint=explain(self._engine, e) or self._write_hint,
            ) from e

    def _rows(self, query: Any) -> list[Any]:
        try:
            with self._reader.connect() as connection:
                return list(connection.execute(query))
        except SQLAlchemyError as e:
            raise StoreError(
                f"database read failed: {_detail(e)}",
                hint=explain(self._engine, e) or "check PAPERBOY_DATABASE_URL",
            ) from e

    def _first(self, query: Any) -> Any:
        """The first row's mapping, or None."""
        rows = self._rows(query)
        return rows[0]._mapping if rows else None


def _detail(error: SQLAlchemyError) -> str:
    return str(getattr(error, "orig", None) or error).splitlines()[0]
