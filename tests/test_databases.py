"""The tests' migrated databases (tests/databases.py) are what a real upgrade makes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from store.engine import current_revision, head_revision, make_engine, upgrade
from tests.conftest import fresh_schema
from tests.databases import migrated_engine, schema_of


@contextmanager
def another(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'real.db'}"
    else:
        with fresh_schema() as url:
            yield url


def test_a_copy_of_the_template_is_what_a_real_upgrade_makes(
    database_url: str, tmp_path: Path
) -> None:
    copied = migrated_engine(database_url)
    with another(database_url, tmp_path) as url:
        real = make_engine(url)
        upgrade(real)
        try:
            assert current_revision(copied) == head_revision()
            assert schema_of(copied) == schema_of(real)
            assert len(schema_of(real)) > 20  # tables, columns, indexes: not two empty lists
        finally:
            real.dispose()
            copied.dispose()


def test_a_database_that_is_not_empty_is_upgraded_for_real(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    engine.dispose()
    upgraded = migrated_engine(database_url)
    try:
        assert current_revision(upgraded) == head_revision()
        with another(database_url, tmp_path) as url:
            real = make_engine(url)
            upgrade(real)
            assert schema_of(upgraded) == schema_of(real)
            real.dispose()
    finally:
        upgraded.dispose()
