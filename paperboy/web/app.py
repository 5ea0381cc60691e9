"""The web app: health check, one-click unsubscribe (RFC 8058), and the digest archive.

Every page is a Jinja2 template with autoescape on. Links carry signed tokens (one salt per
purpose); a forged, expired or cross-purpose token gets a clear page, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine

from mailer.render import environment
from paperboy.clock import Clock
from paperboy.subscribers import Status
from paperboy.tokens import Purpose, TokenError, Tokens
from store.engine import current_revision, head_revision
from store.ledger import Ledger
from store.subscribers import SubscriberStore

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src https:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class WebContext:
    engine: Engine
    tokens: Tokens
    clock: Clock


def create_app(context: WebContext) -> FastAPI:
    app = FastAPI(title="Paperboy", docs_url=None, redoc_url=None, openapi_url=None)
    pages = environment()
    people = SubscriberStore(context.engine)
    ledger = Ledger(context.engine)

    def page(name: str, status: int = 200, **values: object) -> HTMLResponse:
        html = pages.get_template(f"web/{name}.html.j2").render(**values)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def refused(error: TokenError) -> HTMLResponse:
        return page(
            "message", 400, title="This link does not work", text=error.message, hint=error.hint
        )

    def missing(title: str, text: str) -> HTMLResponse:
        return page("message", 404, title=title, text=text, hint="")

    def subscriber_of(token: str) -> int:
        try:
            return int(context.tokens.read(Purpose.UNSUBSCRIBE, token))
        except ValueError as e:
            raise TokenError("this link is not valid") from e

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            current = current_revision(context.engine)
        except Exception as e:  # the load balancer needs a status, not a traceback
            return JSONResponse({"status": "error", "detail": type(e).__name__}, status_code=503)
        if current != head_revision():
            return JSONResponse(
                {"status": "error", "detail": "schema not current"}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    @app.get("/u/{token}")
    def unsubscribe_page(token: str) -> HTMLResponse:
        """Shows a button; changes nothing (link scanners follow GETs)."""
        try:
            subscriber = people.by_id(subscriber_of(token))
        except TokenError as e:
            return refused(e)
        if subscriber is None:
            return missing("Unknown subscriber", "This address is no longer on our list.")
        done = subscriber.status == Status.UNSUBSCRIBED
        return page("unsubscribe", title="Unsubscribe", email=subscriber.email, done=done)

    @app.post("/u/{token}")
    def unsubscribe(token: str) -> HTMLResponse:
        """RFC 8058 one-click: unsubscribes at once, 200, no redirect, no cookie needed."""
        try:
            subscriber = people.by_id(subscriber_of(token))
        except TokenError as e:
            return refused(e)
        if subscriber is None:
            return missing("Unknown subscriber", "This address is no longer on our list.")
        if subscriber.status != Status.UNSUBSCRIBED:
            people.set_status(subscriber.email, Status.UNSUBSCRIBED, context.clock())
        return page("unsubscribe", title="Unsubscribed", email=subscriber.email, done=True)

    @app.get("/d/{token}")
    def archive(token: str) -> HTMLResponse:
        """A sent digest, as it was mailed ("view in browser" and "and N more")."""
        try:
            value = str(context.tokens.read(Purpose.ARCHIVE, token))
        except TokenError as e:
            return refused(e)
        subscriber_id, _, period = value.partition(":")
        digest = ledger.digest_for(int(subscriber_id), period) if subscriber_id.isdigit() else None
        if digest is None:
            return missing("No such digest", "This digest is not in the archive.")
        return HTMLResponse(digest.html, headers=SECURITY_HEADERS)

    return app
