"""A small, real world for digest tests: a store with the captured papers, subscribers, a ledger."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy.engine import Engine

from paperboy import subscribers as rules
from paperboy.clock import fixed_clock
from paperboy.dispatch import Dispatcher, MailConfig
from paperboy.ingest import plan_batch
from paperboy.tokens import Purpose, Tokens
from scraper.models import ScrapedPaper, View
from store.ledger import Ledger
from store.repository import SqlStore
from store.subscribers import SubscriberStore
from store.types import Digest, NewSubscriber
from tests.builders import outcome
from tests.databases import migrated_engine
from tests.papers import saved_papers

# 2026-07-02 09:30 UTC: 08:30 in London, 18:30 in Tokyo, 05:30 in New York.
NOW = datetime.fromisoformat("2026-07-02T09:30:00+00:00")
SECRET = "test-secret-key-0123456789abcdef"
CONFIG = MailConfig(
    sender="Paperboy <digest@paperboy.example.org>", public_url="https://paperboy.example.org"
)


@dataclasses.dataclass
class World:
    papers: SqlStore
    people: SubscriberStore
    ledger: Ledger
    now: datetime
    engine: Engine  # the one the three stores share: for web contexts and raw SQL in tests

    def dispatcher(self, now: datetime | None = None, **config: object) -> Dispatcher:
        clock = fixed_clock(now or self.now)
        return Dispatcher(
            papers=self.papers,
            people=self.people,
            ledger=self.ledger,
            tokens=Tokens(SECRET, clock),
            config=dataclasses.replace(CONFIG, **config),  # type: ignore[arg-type]
            clock=clock,
        )

    def link(self, tokens: Tokens, purpose: Purpose, subscriber_id: int, detail: str = "") -> str:
        """The token a mail would carry for this subscriber (it names their link key)."""
        subscriber = self.people.by_id(subscriber_id)
        assert subscriber is not None
        return tokens.for_subscriber(purpose, subscriber.link_key, detail)

    def subscribe(
        self, email: str, *, hour: int = 8, zone: str = "Europe/London", **kw: object
    ) -> int:
        profiles = kw.pop("profiles", {"vision": 'diffusion OR "video generation"'})
        assert isinstance(profiles, dict)
        settings = rules.settings(zone=zone, hour=hour, **kw)  # type: ignore[arg-type]
        new = NewSubscriber(
            rules.normalise_email(email),
            "active",
            settings,
            tuple(rules.profile(n, q) for n, q in profiles.items()),
        )
        return self.people.add(new, self.now - timedelta(days=30)).id

    def ingest(self, papers: tuple[ScrapedPaper, ...], at: datetime) -> None:
        self.papers.ingest(
            plan_batch(outcome(papers, view=View.DAY, period=at.date().isoformat(), at=at))
        )


def mail_parts(digest: Digest) -> tuple[str, str]:
    """The text and HTML of a digest's message (kept until its delivery is final)."""
    assert digest.message is not None, "the message bytes go once the delivery is final"
    message = email.message_from_bytes(digest.message, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    parts = {}
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        assert part is not None
        assert isinstance(part, EmailMessage)
        parts[kind] = part.get_content()
    return parts["plain"], parts["html"]


@contextmanager
def world(database_url: str, *, papers: tuple[ScrapedPaper, ...] | None = None) -> Iterator[World]:
    engine = migrated_engine(database_url)  # a copy of a migrated template (tests/databases.py)
    w = World(SqlStore(engine), SubscriberStore(engine), Ledger(engine), NOW, engine)
    w.ingest(saved_papers() if papers is None else papers, NOW - timedelta(hours=2))
    try:
        yield w
    finally:
        engine.dispose()
