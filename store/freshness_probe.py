"""A cheap answer to "have the stored papers changed?", for caches kept in memory (web pages).

Papers change only through an ingest, and every ingest inserts its fetch row in the same
transaction, so the newest fetch id moves whenever a paper may have: one primary-key lookup,
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import func, select

from store.base import Repository
from store.tables import FETCHES

_NEWEST = select(func.coalesce(func.max(FETCHES.c.id), 0))


class FreshnessProbe(Repository):
    """Reads the papers' version: it grows with every fetch recorded (0 before the first)."""

    def papers_version(self) -> int:
        return int(self._rows(_NEWEST)[0][0])


__all__ = ["FreshnessProbe"]
