"""The mails the web pages cause: the sign-up confirmation and a fresh manage link.

Each is built here as an Envelope and handed over by ``send`` (from the page mail queue,
paperboy.web.outgoing, never inside a request)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mailer.notice import plain_envelope
from mailer.render import environment
from mailer.transports import Transport, send_now
from mailer.types import Envelope
from paperboy.clock import Clock
from paperboy.links import LinkBuilder
from paperboy.tokens import MAX_AGE, Purpose, Tokens
from store.types import Subscriber

_DAY = 24 * 3600


@dataclass(frozen=True, slots=True)
class PageMailer:
    transports: Callable[[], Transport]
    sender: str
    public_url: str
    tokens: Tokens
    clock: Clock
    links: LinkBuilder = field(init=False, repr=False)  # built from public_url and tokens

    def __post_init__(self) -> None:
        object.__setattr__(self, "links", LinkBuilder(self.tokens, self.public_url))

    def confirmation(self, subscriber: Subscriber, query: str, schedule: str) -> Envelope:
        """The double opt-in mail: its link opens a page whose button confirms."""
        return self._letter(
            subscriber.email,
            "Confirm your Paperboy digest",
            "email/confirm.txt.j2",
            email=subscriber.email,
            query=query,
            schedule=schedule,
            confirm_url=self.links.confirm(subscriber.link_key),
            days=(MAX_AGE[Purpose.CONFIRM] or 0) // _DAY,
        )

    def manage_link(self, subscriber: Subscriber, *, already: bool = False) -> Envelope:
        """A fresh manage link (asked for, or on a sign-up of an address already subscribed)."""
        return self._letter(
            subscriber.email,
            "Your Paperboy settings link",
            "email/manage-link.txt.j2",
            email=subscriber.email,
            already=already,
            manage_url=self.links.manage(subscriber.link_key),
            unsubscribe_url=self.links.unsubscribe(subscriber.link_key),
            days=(MAX_AGE[Purpose.MANAGE] or 0) // _DAY,
        )

    def send(self, letter: Envelope) -> None:
        """Hand one letter over on a fresh transport; SendError if refused."""
        send_now(self.transports(), letter)

    def _letter(self, recipient: str, subject: str, template: str, **values: object) -> Envelope:
        text = _TEXTS.get_template(template).render(**values)
        return plain_envelope(
            sender=self.sender,
            recipient=recipient,
            subject=subject,
            text=text,
            date=self.clock(),
            kind="page",
        )


_TEXTS = environment()
