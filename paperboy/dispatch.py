"""Compose the digests that are due, then deliver them: one façade over the composer
(paperboy.composer, around the pure paperboy.planner) and the sender (paperboy.sending, around
the pure paperboy.outcome).

compose: who is due -> their new matching papers -> the digest plan -> HTML and text -> a digest
row and a pending delivery, one transaction each. deliver: claim, send, record, under leases;
any number of senders can run at once. Re-running either after a crash never sends a period
twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from mailer.render import DigestRenderer
from mailer.transports import Transport
from paperboy import digest as digests
from paperboy.clock import Clock
from paperboy.composer import Composer, DigestArchive, Matching, PaperSource, People
from paperboy.mailrun import BREAKER_AFTER, MailConfig, Report
from paperboy.outcome import BOUNCE_AFTER
from paperboy.sending import DeliveryLedger, Sender, Suppressor
from paperboy.tokens import Tokens
from store.types import DigestRecord, Subscriber

__all__ = ["BOUNCE_AFTER", "BREAKER_AFTER", "Dispatcher", "MailConfig", "Report"]


class Ledger(DigestArchive, DeliveryLedger, Protocol):
    """The digest archive and the delivery ledger (store.ledger.Ledger)."""


class Subscribers(People, Suppressor, Protocol):
    """The subscribers (store.subscribers.SubscriberStore)."""


class Dispatcher:
    """Composes and delivers; ``stopping`` (set on SIGTERM) winds a delivery run down."""

    def __init__(
        self,
        *,
        papers: PaperSource,
        people: Subscribers,
        ledger: Ledger,
        tokens: Tokens,
        config: MailConfig,
        clock: Clock,
        renderer: DigestRenderer | None = None,
        matching: Matching | None = None,
    ) -> None:
        self.stopping = threading.Event()  # set on SIGTERM: finish the message, release the rest
        self._composer = Composer(
            papers=papers,
            people=people,
            ledger=ledger,
            tokens=tokens,
            config=config,
            clock=clock,
            renderer=renderer,
            matching=matching,
        )
        self._sender = Sender(
            ledger=ledger, people=people, config=config, clock=clock, stopping=self.stopping
        )

    def compose(self, *, dry_run: bool = False) -> Report:
        return self._composer.compose(dry_run=dry_run)

    def preview(self, subscriber: Subscriber, *, archive_url: str | None = None) -> DigestRecord:
        return self._composer.preview(subscriber, archive_url=archive_url)

    def stale_reason(self) -> str | None:
        return self._composer.stale_reason()

    def links(self, subscriber: Subscriber, period: str) -> digests.Links:
        return self._composer.links(subscriber, period)

    def deliver(self, transports: Callable[[], Transport], *, workers: int | None = None) -> Report:
        return self._sender.deliver(transports, workers=workers)
