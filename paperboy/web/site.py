"""What the routes share: the stores, links, mailer and limits, and how a page is answered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from sqlalchemy import Engine

from mailer.render import environment
from paperboy.clock import Clock
from paperboy.errors import InputError, ProfileSyntaxError
from paperboy.links import FRESH_LINK, LinkBuilder, P
from paperboy.semantic.vectors import needs_meaning
from paperboy.subscribers import WEEKDAYS, Frequency
from paperboy.tokens import TokenError, TokenRevoked, Tokens, revoked
from paperboy.web.limits import Network, address_key, network_key
from paperboy.web.mails import PageMailer
from paperboy.web.outgoing import CAPACITY, RETRY_DELAYS, MailQueue
from paperboy.web.preview import QUERY_CHARS
from paperboy.web.security import (
    CSRF_COOKIE,
    DEFAULT_LIMITS,
    LOOPBACK_HOSTS,
    SECURITY_HEADERS,
    Csrf,
    FormRefused,
    Limit,
    RateLimiter,
)
from store.ledger import Ledger
from store.repository import SqlStore
from store.subscribers import SubscriberStore
from store.types import Subscriber

if TYPE_CHECKING:
    from paperboy.semantic.runtime import Semantics

FREQUENCIES = (
    (Frequency.DAILY.value, "Every day"),
    (Frequency.WEEKDAYS.value, "Monday to Friday"),
    (Frequency.WEEKLY.value, "Once a week"),
)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAY_CHOICES = tuple(zip(WEEKDAYS, WEEKDAY_NAMES, strict=True))
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WebContext:
    """What ``paperboy serve`` hands the app (built once, at the edge)."""

    engine: Engine
    tokens: Tokens  # signs every link, read and built through paperboy.links only
    clock: Clock
    mailer: PageMailer | None = None  # None: pages that send mail say they cannot
    limits: dict[str, Limit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    public_url: str = ""  # where the pages live, for links copied out of them (feeds)
    # Host names the pages answer for, besides the host of public_url; others get a 400.
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    # Proxies whose X-Forwarded-For / -Proto are believed (PAPERBOY_TRUSTED_PROXIES).
    trusted_proxies: tuple[Network, ...] = ()
    mail_retries: tuple[float, ...] = RETRY_DELAYS  # page mails: seconds before each new try
    mail_capacity: int = CAPACITY  # page mails waiting at once; more get "busy, try later"
    # Meaning for the previews' about:/like: (paperboy.semantic.runtime); None: they match nothing.
    semantics: Semantics | None = None


@cache
def zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def schedule_text(s: Subscriber) -> str:
    """ "every day at 08:30 (Europe/London)" """
    at = f"{s.send_hour:02d}:{s.send_minute:02d} ({s.time_zone})"
    if s.frequency == Frequency.WEEKLY:
        return f"every {WEEKDAY_NAMES[s.weekday]} at {at}"
    if s.frequency == Frequency.WEEKDAYS:
        return f"Monday to Friday at {at}"
    return f"every day at {at}"


def attempt(errors: dict[str, str], name: str, make: Callable[[], T]) -> T | None:
    """Run ``make``; a clear input error is kept under ``name`` for the form."""
    try:
        return make()
    except ProfileSyntaxError as e:
        errors[name] = f"{e.problem} at column {e.column}"
    except InputError as e:
        errors[name] = e.message + (f" ({e.hint})" if e.hint else "")
    return None


class Site:
    def __init__(self, context: WebContext) -> None:
        self.context = context
        self.links = LinkBuilder(context.tokens, context.public_url)
        self.clock = context.clock
        self.mailer = context.mailer
        # The page mails go out from here, off the request (see paperboy.web.outgoing).
        self.outbox = (
            MailQueue(
                context.mailer.send, capacity=context.mail_capacity, retries=context.mail_retries
            )
            if context.mailer is not None
            else None
        )
        self.people = SubscriberStore(context.engine)
        self.papers = SqlStore(context.engine)
        self.ledger = Ledger(context.engine)
        self.csrf = Csrf(self.links)
        self.limiter = RateLimiter(context.clock, context.limits)
        self.templates: Environment = environment()
        # The choices every settings form offers, the same on every page.
        self.templates.globals.update(
            zones=zones(), frequencies=FREQUENCIES, weekdays=WEEKDAY_CHOICES
        )

    # -- answering ---------------------------------------------------------------------------

    def render(self, name: str, status: int = 200, **values: object) -> HTMLResponse:
        """A page without forms of ours (no cookie is set)."""
        html = self.templates.get_template(f"web/{name}.html.j2").render(**values)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def page(
        self, request: Request, name: str, status: int = 200, **values: object
    ) -> HTMLResponse:
        """A page with forms: each carries the CSRF field that matches the browser's cookie."""
        cookie = request.cookies.get(CSRF_COOKIE)
        nonce = self.csrf.nonce(cookie)
        response = self.render(name, status, csrf=self.csrf.field(nonce), **values)
        if nonce != cookie:
            response.set_cookie(
                CSRF_COOKIE,
                nonce,
                max_age=24 * 3600,
                path="/",
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response

    def message(
        self,
        title: str,
        text: str,
        *,
        status: int = 200,
        hint: str = "",
        link: tuple[str, str] | None = None,
    ) -> HTMLResponse:
        return self.render("message", status, title=title, text=text, hint=hint, link=link)

    def refused(self, error: TokenError) -> HTMLResponse:
        if isinstance(error, TokenRevoked):
            return self.message(
                "This link is no longer valid",
                "It belonged to a subscription that has ended or was signed up for again.",
                status=410,
                hint=error.hint,
                link=("Get a fresh link", FRESH_LINK),
            )
        return self.message("This link does not work", error.message, status=400, hint=error.hint)

    # -- checking ----------------------------------------------------------------------------

    def check_form(
        self,
        request: Request,
        csrf: str,
        again: Callable[[str], HTMLResponse] | None = None,
    ) -> HTMLResponse | None:
        """None if the post may proceed; otherwise the page that says why not.

        ``again`` shows the form once more, with what was typed and the reason at its top, when
        the cookie check fails (a cookie lost or a day old is no reason to lose the typing);
        that page sets the cookie, so sending it again works. The reason says so: reloading the
        page, the advice without ``again``, would lose the typing.
        """
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            return self.message(
                "This form was sent from another site",
                "Paperboy only accepts its forms from its own pages.",
                status=403,
                hint="open the page again from your email or from this site",
            )
        try:
            self.csrf.check(request.cookies.get(CSRF_COOKIE), csrf)
        except FormRefused as e:
            if again is not None:
                cookies = (
                    "" if request.cookies.get(CSRF_COOKIE) else "allow cookies for this site and "
                )
                return again(
                    f"The form could not be accepted: {e.message}. Nothing was changed;"
                    f" what you sent is kept below: {cookies}send it again."
                )
            return self.message(
                "The form could not be accepted", e.message, status=403, hint=e.hint
            )
        return None

    @staticmethod
    def client_ip(request: Request) -> str:
        """The client's network as the limits count it: its IPv4 address or its IPv6 /64.

        Behind a trusted proxy, the guard has already put the forwarded address in the scope.
        """
        return network_key(request.client.host if request.client else "unknown")

    def may_ask_meaning(self, ip: str, query: str) -> bool:
        """Whether a query from the network ``ip`` may be answered now: one that asks meaning
        (about:, like:: model time for each new topic text, and its vector stored) counts under
        the previews' per-network limit; any other query is not counted."""
        if self.context.semantics is None or not needs_meaning([query[:QUERY_CHARS]]):
            return True
        return self.limiter.allow(preview=ip)

    def allowed(self, request: Request, address: str) -> bool:
        """One more mail for ``address`` (however tagged) asked from this network, if within
        both limits."""
        return self.limiter.allow(ip=self.client_ip(request), address=address_key(address))

    def too_many(self) -> HTMLResponse:
        return self.message(
            "Too many requests",
            "We have sent enough mail for this address or from this network for now.",
            status=429,
            hint="wait an hour and try again; check your spam folder meanwhile",
        )

    def open(self, kind: type[P], token: str) -> tuple[P, Subscriber]:
        """What a link says and the subscriber it names; TokenError (TokenRevoked: 410) if it
        may not act for anyone.

        A link names the subscriber's random link key, never a row id: once the key is rotated
        (unsubscribed, signed up again) or the row is gone, the link names nobody, whoever signs
        up next. The one older form still honoured, an unsubscribe link by row id, must name a
        row that existed when the link was made.
        """
        link = self.links.read(kind, token)
        ref = link.ref
        if ref.legacy_id is not None:
            found = self.people.by_id(ref.legacy_id)
            if found is None or found.created_at >= ref.signed_at + timedelta(seconds=1):
                raise revoked()
            return link, found
        found = self.people.by_link_key(ref.link_key)
        if found is None:
            raise revoked()
        return link, found
