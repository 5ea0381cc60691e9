"""Tests' way to a subscriber's newest digest, through what the code itself reads: its periods
(``Ledger.periods``, as the composer asks who is due) and the digest of one period
(``Ledger.digest_for``, as the archive page finds one)."""

from __future__ import annotations

from store.ledger import Ledger
from store.types import Digest


def latest_digest(ledger: Ledger, subscriber_id: int) -> Digest | None:
    """The subscriber's newest digest (the highest id), None before the first."""
    periods = ledger.periods([subscriber_id]).get(subscriber_id, frozenset())
    found = [d for p in periods if (d := ledger.digest_for(subscriber_id, p)) is not None]
    return max(found, key=lambda d: d.id, default=None)
