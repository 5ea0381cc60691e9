"""The feedback repository: a subscriber's "more like this" / "not interested" per profile and
paper. One row per (profile, paper): the latest signal wins, undo deletes it; a removed profile
takes its feedback with it (ON DELETE CASCADE)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from store.base import Repository
from store.batching import chunks
from store.errors import ProfileGone
from store.tables import FEEDBACK, PAPERS

# Profiles per query in for_profiles: well under SQLite's 32,766 bound parameters, so the
# dispatch's thousands of profiles are one query (two past 10,000).
_CHUNK = 10_000


class Signal(StrEnum):
    LIKE = "like"  # "More like this"
    REJECT = "reject"  # "Not interested"


@dataclass(frozen=True, slots=True)
class Signals:
    """What one profile was told: the papers liked and rejected, oldest first."""

    liked: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Feedback:
    """One signal as the manage page lists it (``title`` None: the paper is not stored)."""

    profile_id: int
    arxiv_id: str
    signal: Signal
    created_at: datetime
    title: str | None


class FeedbackStore(Repository):
    """Signals per profile."""

    def record(self, profile_id: int, arxiv_id: str, signal: Signal, now: datetime) -> None:
        """Store ``signal`` for the paper in this profile, replacing an earlier one.

        InputError if the profile is gone (removed meanwhile).
        """
        values = {
            "profile_id": profile_id,
            "arxiv_id": arxiv_id,
            "signal": Signal(signal).value,
            "created_at": now,
        }
        try:
            with self._begin() as connection:
                statement = _insert(connection).values(**values)
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=["profile_id", "arxiv_id"],
                        set_={"signal": values["signal"], "created_at": now},
                    )
                )
        except IntegrityError as e:  # the profile's foreign key: it was removed
            raise ProfileGone(profile_id) from e

    def undo(self, profile_id: int, arxiv_id: str) -> bool:
        """Forget the signal on this paper; False if there was none."""
        with self._begin() as connection:
            result = connection.execute(
                delete(FEEDBACK).where(
                    FEEDBACK.c.profile_id == profile_id, FEEDBACK.c.arxiv_id == arxiv_id
                )
            )
        return bool(result.rowcount)

    def signal(self, profile_id: int, arxiv_id: str) -> Signal | None:
        """The signal stored for this paper in this profile, if any."""
        row = self._first(
            select(FEEDBACK.c.signal).where(
                FEEDBACK.c.profile_id == profile_id, FEEDBACK.c.arxiv_id == arxiv_id
            )
        )
        return Signal(row.signal) if row is not None else None

    def for_profiles(self, profile_ids: Iterable[int]) -> dict[int, Signals]:
        """Every listed profile's signals (profiles without any are left out)."""
        ids = sorted(set(profile_ids))
        query = (
            select(FEEDBACK.c.profile_id, FEEDBACK.c.arxiv_id, FEEDBACK.c.signal)
            .where(FEEDBACK.c.profile_id.in_(bindparam("ids", expanding=True)))
            .order_by(FEEDBACK.c.profile_id, FEEDBACK.c.created_at, FEEDBACK.c.id)
        )
        liked: dict[int, list[str]] = {}
        rejected: dict[int, list[str]] = {}
        for chunk in chunks(ids, _CHUNK):
            for row in self._rows(query.params(ids=chunk)):
                into = liked if row.signal == Signal.LIKE else rejected
                into.setdefault(row.profile_id, []).append(row.arxiv_id)
        return {
            pid: Signals(tuple(liked.get(pid, ())), tuple(rejected.get(pid, ())))
            for pid in sorted(liked.keys() | rejected.keys())
        }

    def entries(self, profile_id: int) -> list[Feedback]:
        """One profile's signals, newest first, with the papers' titles."""
        query = (
            select(FEEDBACK, PAPERS.c.title)
            .select_from(FEEDBACK.outerjoin(PAPERS, PAPERS.c.arxiv_id == FEEDBACK.c.arxiv_id))
            .where(FEEDBACK.c.profile_id == profile_id)
            .order_by(FEEDBACK.c.created_at.desc(), FEEDBACK.c.id.desc())
        )
        return [_feedback(r._mapping) for r in self._rows(query)]


def _insert(connection: Connection) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(FEEDBACK)
    return sqlite.insert(FEEDBACK)


def _feedback(m: Any) -> Feedback:
    return Feedback(
        m["profile_id"], m["arxiv_id"], Signal(m["signal"]), m["created_at"], m["title"]
    )
