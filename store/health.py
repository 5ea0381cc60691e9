"""The heartbeat (one row per unattended run) and the operator's alerts (one per incident)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import desc, select, update

from scraper.models import Verdict, View
from store.base import Repository
from store.tables import ALERTS, FETCHES, RUNS
from store.types import RunKind


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    kind: RunKind
    started_at: datetime
    finished_at: datetime
    counters: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    key: str
    message: str
    opened_at: datetime
    closed_at: datetime | None
    mailed_at: datetime | None


class HealthStore(Repository):
    def record_run(self, run: Run) -> None:
        with self._begin() as connection:
            connection.execute(
                RUNS.insert().values(
                    run_id=run.run_id,
                    kind=run.kind,
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    counters=dict(run.counters),
                )
            )

    def runs(self, limit: int = 20) -> list[Run]:
        query = select(RUNS).order_by(desc(RUNS.c.id)).limit(limit)
        return [
            Run(r.run_id, RunKind(r.kind), r.started_at, r.finished_at, dict(r.counters))
            for r in self._rows(query)
        ]

    def broken_in_a_row(self, source: View) -> int:
        """Consecutive broken fetches of a source, newest first."""
        query = (
            select(FETCHES.c.verdict)
            .where(FETCHES.c.source == source)
            .order_by(desc(FETCHES.c.id))
            .limit(100)
        )
        count = 0
        for row in self._rows(query):
            if row.verdict != Verdict.BROKEN:
                break
            count += 1
        return count

    def open_alerts(self) -> list[Alert]:
        query = select(ALERTS).where(ALERTS.c.closed_at.is_(None)).order_by(ALERTS.c.id)
        return [_alert(r._mapping) for r in self._rows(query)]

    def alerts(self, limit: int = 20) -> list[Alert]:
        return [
            _alert(r._mapping)
            for r in self._rows(select(ALERTS).order_by(desc(ALERTS.c.id)).limit(limit))
        ]

    def open_alert(self, key: str, message: str, now: datetime) -> int:
        with self._begin() as connection:
            return int(
                connection.execute(
                    ALERTS.insert()
                    .values(key=key, message=message, opened_at=now)
                    .returning(ALERTS.c.id)
                ).scalar_one()
            )

    def mark_mailed(self, alert_id: int, now: datetime) -> None:
        with self._begin() as connection:
            connection.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(mailed_at=now))

    def close_alert(self, alert_id: int, now: datetime) -> None:
        with self._begin() as connection:
            connection.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(closed_at=now))


def _alert(m: Mapping[str, object]) -> Alert:
    return Alert(**{name: m[name] for name in Alert.__dataclass_fields__})  # type: ignore[arg-type]
