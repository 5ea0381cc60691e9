"""How the store batches its SQL: long id lists in chunks, hot statements compiled once."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size``: an ``IN (...)`` list per query stays
    under the drivers' parameter limits."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


@dataclass(frozen=True, slots=True)
class Compiled:
    """A statement's SQL for one dialect, and the names of its placeholders in order for a
    positional driver (None: the driver takes named parameters)."""

    sql: str
    names: tuple[str, ...] | None


_compiled: dict[tuple[str, Hashable], Compiled] = {}


def compiled_once(
    connection: Connection,
    key: Hashable,
    build: Callable[[], Any],
    column_keys: Sequence[str] | None = None,
) -> Compiled:
    """``build()`` compiled for this connection's dialect the first time ``key`` is asked for,
    then the same SQL every time: building and compiling a statement per call was most of the
    CPU of ingest and of sending (bench/RESULTS.md)."""
    full = (connection.dialect.name, key)
    found = _compiled.get(full)
    if found is None:
        options = {} if column_keys is None else {"column_keys": list(column_keys)}
        compiled = build().compile(dialect=connection.dialect, **options)
        names = tuple(compiled.positiontup or ()) if compiled.positional else None
        found = _compiled[full] = Compiled(str(compiled), names)
    return found
