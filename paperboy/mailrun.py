"""What a dispatch is configured with (MailConfig) and what one reports (Report), shared by the
composer (paperboy.composer) and the sender (paperboy.sending)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

BREAKER_AFTER = 3  # connection failures or timeouts in a row that stop a run for the relay


@dataclass(frozen=True, slots=True)
class MailConfig:
    sender: str  # the From header
    public_url: str  # where the web pages live, for links
    max_bytes: int = 95_000
    workers: int = 4
    lease: timedelta = timedelta(minutes=5)
    batch: int = 10  # deliveries claimed at a time (up to twice that wait, messages in memory)
    breaker_after: int = BREAKER_AFTER  # relay failures in a row that stop a delivery run
    retention: timedelta = timedelta(days=365)  # older digests are pruned (not the latest)

    @property
    def domain(self) -> str:
        address = parseaddr(self.sender)[1]
        return address.rpartition("@")[2] or (urlsplit(self.public_url).hostname or "localhost")


@dataclass
class Report:
    """What one dispatch did, for the CLI and the logs."""

    due: int = 0
    composed: int = 0
    matched: int = 0  # matching papers over all composed digests
    empty: int = 0
    skipped_reason: str | None = None
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    bounced: int = 0
    requeued: int = 0
    unknown: int = 0
    expired: int = 0  # still failing for a passing reason when the next digest was due
    unconfirmed: int = 0  # the relay never answered the final ".": unknown, never sent again
    expired_signups: int = 0  # sign-ups never confirmed, erased
    pruned: int = 0  # digests older than the retention, deleted with their deliveries
    previews: list[tuple[str, str, int]] = field(default_factory=list)  # (email, subject, papers)
    errors: list[str] = field(default_factory=list)  # a digest not built, a sender stopped
    breaker: str | None = None  # why delivery stopped for the relay (the rest wait)
    refusals: Counter[str] = field(default_factory=Counter)  # why messages were not handed over
