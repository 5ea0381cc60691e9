"""What every page shares for safety: response headers, CSRF on forms, and rate limits.

CSRF is a double submit bound to a signature: the browser holds a random nonce in a
``SameSite=Strict`` cookie, and each form carries the same nonce signed with the CSRF salt. A
forged cross-site post has neither the cookie nor a valid signature for it. The RFC 8058
one-click unsubscribe is the one form without it: mail providers post it with no cookie, and its
signed link is the authorisation.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from paperboy.clock import Clock
from paperboy.errors import PaperboyError
from paperboy.tokens import Purpose, TokenError, Tokens

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'unsafe-inline'; img-src https:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CSRF_COOKIE = "paperboy_csrf"


class FormRefused(PaperboyError):
    """A form post that failed its CSRF check."""


class Csrf:
    """Makes and checks the anti-forgery pair (cookie nonce, signed form field)."""

    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens

    @staticmethod
    def nonce(cookie: str | None) -> str:
        """The browser's nonce, or a fresh one to set as its cookie."""
        return cookie if cookie and 16 <= len(cookie) <= 64 else secrets.token_urlsafe(24)

    def field(self, nonce: str) -> str:
        return self._tokens.make(Purpose.CSRF, nonce)

    def check(self, cookie: str | None, field: str | None) -> None:
        if not cookie:
            raise FormRefused(
                "your browser did not send back this site's form cookie",
                hint="allow cookies for this site, reload the page and send the form again",
            )
        try:
            signed = str(self._tokens.read(Purpose.CSRF, field or ""))
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


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` events per ``window`` for one key."""

    count: int
    window: timedelta


@dataclass
class RateLimiter:
    """Sliding-window counters in memory, one per (action, key), on the injected clock.

    One process serves the pages (``paperboy serve``), so memory is the right place; the counters
    start afresh on a restart, which only forgives a few attempts.
    """

    clock: Clock
    limits: dict[str, Limit]
    _events: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, **keys: str) -> bool:
        """Count one event under each named limit (``ip="…", address="…"``).

        False, and nothing counted, if any of them is used up.
        """
        now = self.clock().timestamp()
        with self._lock:
            queues = []
            for name, key in keys.items():
                limit = self.limits[name]
                queue = self._events.setdefault((name, key), deque())
                while queue and queue[0] <= now - limit.window.total_seconds():
                    queue.popleft()
                if len(queue) >= limit.count:
                    return False
                queues.append(queue)
            for queue in queues:
                queue.append(now)
            if len(self._events) > 100_000:  # forget idle keys rather than grow without end
                for idle in [k for k, q in self._events.items() if not q]:
                    del self._events[idle]
            return True


DEFAULT_LIMITS = {
    "ip": Limit(10, timedelta(hours=1)),  # forms that send mail, from one IP address
    "address": Limit(3, timedelta(hours=1)),  # mails asked for one address: no mail bombing
    "preview": Limit(120, timedelta(minutes=1)),  # query previews from one IP address
}
