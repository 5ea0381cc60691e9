"""A subscriber's past digests, newest first, for the manage page's list (read only).

Only what the list shows is read (never the paper ids or the message bytes); a skipped digest
was never sent, so it is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import desc, select

from store.base import Repository
from store.tables import DIGESTS
from store.types import DigestKind

SHOWN = 20  # the list's length: older digests stay reachable from their mails


@dataclass(frozen=True, slots=True)
class PastDigest:
    period: str  # 2026-07-02 or 2026-W27: its archive link names it
    kind: DigestKind  # papers or nothing (a skipped one is not listed)
    subject: str
    shown: int  # papers in the mail
    created_at: datetime


class DigestIndex(Repository):
    def past(self, subscriber_id: int, limit: int = SHOWN) -> list[PastDigest]:
        query = (
            select(
                DIGESTS.c.period,
                DIGESTS.c.kind,
                DIGESTS.c.subject,
                DIGESTS.c.shown,
                DIGESTS.c.created_at,
            )
            .where(DIGESTS.c.subscriber_id == subscriber_id, DIGESTS.c.kind != DigestKind.SKIPPED)
            .order_by(desc(DIGESTS.c.created_at), desc(DIGESTS.c.id))
            .limit(limit)
        )
        return [
            PastDigest(r.period, DigestKind(r.kind), r.subject, r.shown, _aware(r.created_at))
            for r in self._rows(query)
        ]

    def latest_period(self, subscriber_id: int) -> str:
        """The period of the newest digest composed (a skipped one too), or ""."""
        query = (
            select(DIGESTS.c.period)
            .where(DIGESTS.c.subscriber_id == subscriber_id)
            .order_by(desc(DIGESTS.c.created_at), desc(DIGESTS.c.id))
            .limit(1)
        )
        rows = self._rows(query)
        return str(rows[0].period) if rows else ""


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
