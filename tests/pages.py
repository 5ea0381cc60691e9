"""The whole web app served on 127.0.0.1 with its mail going to a real in-process SMTP server,
on a clock the test can move: shared by the endpoint tests and the browser tests."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx

from mailer.smtp import SmtpConfig, SmtpTransport
from paperboy.tokens import Tokens
from paperboy.web.app import WebContext, create_app
from paperboy.web.mails import PageMailer
from paperboy.web.outgoing import MailQueue
from paperboy.web.security import DEFAULT_LIMITS, Limit
from tests.smtp_server import Inbox, smtp_server
from tests.web_server import serving
from tests.world import NOW, SECRET, World, world

PUBLIC = "https://paperboy.example.org"  # what the mails' links start with


@dataclass
class MovingClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Site:
    base: str
    world: World
    tokens: Tokens
    inbox: Inbox
    clock: MovingClock
    limits: dict[str, Limit] = field(default_factory=dict)
    queue: MailQueue | None = None

    def drain(self) -> None:
        """Wait until the page mail queue has done every job asked so far (sent or given up)."""
        if self.queue is not None:
            assert self.queue.drain(timeout=30), "the page mail queue did not drain"

    @property
    def hooks(self) -> dict[str, list[Callable[[httpx.Response], None]]]:
        """httpx event hooks: every answer waits for the work its request queued."""
        return {"response": [lambda _: self.drain()]}

    def mails_to(self, address: str) -> list[EmailMessage]:
        self.drain()
        return self.inbox.to(address)

    def link_in(self, message: EmailMessage, path: str) -> str:
        """The link to ``path`` (``/c/``, ``/m/``) in a mail, pointed at this test server."""
        body = message.get_content()
        found = re.search(re.escape(PUBLIC + path) + r"[\w.\-]+", body)
        assert found, f"no {path} link in:\n{body}"
        return self.base + found.group(0).removeprefix(PUBLIC)


@contextmanager
def site(database_url: str, limits: dict[str, Limit] | None = None) -> Iterator[Site]:
    clock = MovingClock()
    with world(database_url) as w, smtp_server() as (port, inbox):
        tokens = Tokens(SECRET, clock)
        mailer = PageMailer(
            transports=lambda: SmtpTransport(SmtpConfig("127.0.0.1", port, "none")),
            sender="Paperboy <hello@paperboy.example.org>",
            public_url=PUBLIC,
            tokens=tokens,
            clock=clock,
        )
        chosen = limits or dict(DEFAULT_LIMITS)
        context = WebContext(
            w.engine, tokens, clock, mailer, chosen, PUBLIC, mail_retries=(0.05, 0.1)
        )
        app = create_app(context)
        with serving(app) as base:
            yield Site(base, w, tokens, inbox, clock, chosen, app.state.mail_queue)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)
