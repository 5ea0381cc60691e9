"""The web app: sign-up with double opt-in, the manage page, one-click unsubscribe (RFC 8058),
the digest archive, recent papers, Atom feeds per profile, feedback on a paper, and a health check.

Every page is a Jinja2 template with autoescape on. Links carry signed tokens (one salt per
purpose), built and read in paperboy.links only; a forged, expired or cross-purpose token gets a
clear page, never a 500. Every form but the one-click unsubscribe and the feedback buttons
carries a CSRF field; every page works without JavaScript.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from mailer.render import TEMPLATES
from paperboy.digest import archive_sections
from paperboy.links import ArchiveLink, UnsubscribeLink
from paperboy.profiles.matcher import ProfileSpec
from paperboy.subscribers import Action, Status, transition
from paperboy.tokens import TokenError
from paperboy.web import fallbacks, feedback, leaving, manage, public, signup
from paperboy.web.health import HealthCheck
from paperboy.web.security import SECURITY_HEADERS
from paperboy.web.site import Site, WebContext

STATIC = TEMPLATES / "web" / "static"
_STATIC_TYPES = {".js": "text/javascript; charset=utf-8"}


class Paperboy(FastAPI):
    """The FastAPI app with ``GET /healthz`` answered in front of it.

    A load balancer polls the health check hard; FastAPI's middleware, routing and response
    objects cost several times the kept answer itself (bench/RESULTS.md), so the check is
    called before them. It needs none of them: it reads no input, takes any ``Host`` (the guard
    lets it through for probes) and sends the guard's headers itself. Any other method or path
    goes through the whole stack (``HEAD /healthz`` gets the 405 page as before).
    """

    health: HealthCheck | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.health is not None
            and scope["type"] == "http"
            and scope["path"] == "/healthz"
            and scope["method"] == "GET"
        ):
            await self.health(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(context: WebContext) -> Paperboy:
    site = Site(context)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if site.outbox is not None:  # send what is due, then stop the page mail worker
            await asyncio.to_thread(site.outbox.close)

    app = Paperboy(
        title="Paperboy", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.mail_queue = site.outbox  # tests wait on it: app.state.mail_queue.drain()
    app.include_router(signup.routes(site))
    app.include_router(manage.routes(site))
    app.include_router(leaving.routes(site))
    app.include_router(public.routes(site))
    app.include_router(feedback.routes(site))
    fallbacks.install(app, site)  # foreign hosts, error pages, headers on every answer

    # Polled hard: answered on the event loop, before the middleware, from a check made at
    # most once a second. The route is what the routing knows of it (HEAD and POST get 405).
    health = app.health = HealthCheck(context.engine)

    @app.get("/healthz")
    async def healthz() -> Response:
        return await health.answer()

    # The only files served are the ones shipped, read once here; a name is looked up, never
    # joined to a path.
    files = {
        path.name: (path.read_bytes(), _STATIC_TYPES[path.suffix])
        for path in STATIC.iterdir()
        if path.suffix in _STATIC_TYPES
    }

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in files:
            return site.message("Not found", "There is no such file.", status=404)
        body, kind = files[name]
        headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
        return Response(body, media_type=kind, headers=headers)

    @app.get("/u/{token}")
    def unsubscribe_page(token: str) -> HTMLResponse:
        """Shows a button; changes nothing (link scanners follow GETs)."""
        try:
            link, subscriber = site.open(UnsubscribeLink, token)
        except TokenError as e:
            return site.refused(e)
        if subscriber.status == Status.UNSUBSCRIBED:  # the undo only with a link of the new key
            return leaving.unsubscribed(site, subscriber, undo=link.ref.legacy_id is None)
        return site.render("unsubscribe", title="Unsubscribe", email=subscriber.email, done=False)

    @app.post("/u/{token}")
    def unsubscribe(token: str) -> HTMLResponse:
        """RFC 8058 one-click: unsubscribes at once, 200, no redirect, no cookie needed."""
        try:
            _, subscriber = site.open(UnsubscribeLink, token)
        except TokenError as e:
            return site.refused(e)
        if subscriber.status != Status.UNSUBSCRIBED:
            gone = transition(subscriber.status, Action.UNSUBSCRIBE)
            subscriber = site.people.set_status(subscriber.email, gone, site.clock())
        return leaving.unsubscribed(site, subscriber)  # the undo: a fresh link of the new key

    @app.get("/d/{token}")
    def archive(token: str) -> HTMLResponse:
        """A sent digest's papers ("view in browser" and "and N more").

        Digests get forwarded: the page shows the papers, never the subscriber's address or the
        links that change or end the subscription (those stay in the mail itself).
        """
        try:
            link, subscriber = site.open(ArchiveLink, token)
        except TokenError as e:
            return site.refused(e)
        digest = site.ledger.digest_for(subscriber.id, link.period)
        if digest is None:
            return site.message("No such digest", "This digest is not in the archive.", status=404)
        # The row keeps the papers only: their grouping and the words to mark come from
        # matching the subscriber's current profiles against them again.
        papers = site.papers.papers_by_id(digest.paper_ids)
        profiles = [
            ProfileSpec(p.id, subscriber.id, p.name, p.query)
            for p in site.people.profiles(subscriber.id)
        ]
        return site.render(
            "archive",
            title=digest.subject,
            subject=digest.subject,
            sent=digest.created_at.strftime("%d %B %Y"),
            count=len(papers),
            sections=archive_sections(
                papers, profiles, site.links.paper_feedback(subscriber.link_key)
            ),
        )

    return app


__all__ = ["Paperboy", "WebContext", "create_app"]
