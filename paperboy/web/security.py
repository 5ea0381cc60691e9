"""What every page shares for safety: response headers, known hosts only, the client's real
address behind a trusted proxy, CSRF on forms (the rate limits are in paperboy.web.limits).

CSRF is a double submit bound to a signature: the browser holds a random nonce in a
``SameSite=Strict`` cookie, and each form carries the same nonce signed with the CSRF salt. A
forged cross-site post has neither the cookie nor a valid signature for it. The RFC 8058
one-click unsubscribe is the one form without it: mail providers post it with no cookie, and its
signed link is the authorisation.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Collection
from ipaddress import ip_address
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperboy.errors import PaperboyError
from paperboy.links import LinkBuilder
from paperboy.tokens import TokenError
from paperboy.web.limits import DEFAULT_LIMITS, Limit, Network, RateLimiter

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'unsafe-inline'; img-src https:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CSRF_COOKIE = "paperboy_csrf"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
UNCHECKED_PATHS = frozenset({"/healthz"})  # echoes nothing; probes call it by any address


class FormRefused(PaperboyError):
    """A form post that failed its CSRF check."""


class Csrf:
    """Makes and checks the anti-forgery pair (cookie nonce, signed form field)."""

    def __init__(self, links: LinkBuilder) -> None:
        self._links = links

    @staticmethod
    def nonce(cookie: str | None) -> str:
        """The browser's nonce, or a fresh one to set as its cookie."""
        return cookie if cookie and 16 <= len(cookie) <= 64 else secrets.token_urlsafe(24)

    def field(self, nonce: str) -> str:
        return self._links.form_field(nonce)

    def check(self, cookie: str | None, field: str | None) -> None:
        if not cookie:
            raise FormRefused(
                "your browser did not send back this site's form cookie",
                hint="allow cookies for this site, reload the page and send the form again",
            )
        try:
            signed = self._links.read_form_field(field or "")
        except TokenError as e:
            raise FormRefused(
                "this form is out of date or did not come from this site",
                hint="reload the page and send the form again",
            ) from e
        if not hmac.compare_digest(signed.encode(), cookie.encode()):
            raise FormRefused(
                "this form did not come from this browser's session",
                hint="reload the page and send the form again",
            )


def host_of(header: str) -> str:
    """The host name a ``Host`` header names, without port, lowercase (``[::1]:80`` -> ``::1``)."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def forwarded_client(peer: str, forwarded_for: str, proxies: Collection[Network]) -> str:
    """The client's address: the right-most ``X-Forwarded-For`` entry that is not one of our
    proxies, if ``peer`` is one of them; otherwise ``peer`` itself (anyone can send the header).

    Entries left of the first untrusted one were written by whoever sent the request, so they
    are never believed.
    """
    if not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:100]
    return hops[0] if hops else peer


def _trusted(host: str, proxies: Collection[Network]) -> bool:
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


class Guard:
    """ASGI middleware in front of every route.

    It refuses a ``Host`` that is not ours (links and redirects must never point at a name a
    stranger chose), takes the client's address and scheme from a trusted proxy's
    ``X-Forwarded-For`` / ``X-Forwarded-Proto``, and puts the security headers on every answer
    that lacks them: error pages, redirects and JSON included (and ``Cache-Control: no-store``
    where the route set no caching of its own).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: Collection[str],
        proxies: Collection[Network],
        refuse: Callable[[], Response],
    ) -> None:
        self.app = app
        self.hosts = frozenset(hosts)
        self.proxies = tuple(proxies)
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if (
            scope["path"] not in UNCHECKED_PATHS
            and host_of(headers.get("host", "")) not in self.hosts
        ):
            await self.refuse()(scope, receive, send)
            return
        if self.proxies and scope.get("client"):
            scope = self._forwarded(scope, headers)

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    answer.setdefault(name, value)
                # Pages reached by a secret link name a profile or an address: kept by no
                # cache unless the route says otherwise (the static files, the Atom feed).
                answer.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, secured)

    def _forwarded(self, scope: Scope, headers: Headers) -> dict[str, Any]:
        peer, port = scope["client"]
        if not _trusted(peer, self.proxies):
            return dict(scope)
        forwarded_for = ",".join(headers.getlist("x-forwarded-for"))
        proto = headers.get("x-forwarded-proto", "").rpartition(",")[2].strip().lower()
        changed = dict(scope, client=(forwarded_client(peer, forwarded_for, self.proxies), port))
        if proto in ("http", "https"):
            changed["scheme"] = proto
        return changed


__all__ = [
    "CSRF_COOKIE",
    "DEFAULT_LIMITS",
    "SECURITY_HEADERS",
    "Csrf",
    "FormRefused",
    "Guard",
    "Limit",
    "RateLimiter",
    "forwarded_client",
    "host_of",
]
