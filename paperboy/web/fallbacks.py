"""What the app answers when no route does: a foreign host, 404, 405, 422, a 500, and the
address with or without its trailing slash. Every one is an HTML page with the security headers.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from paperboy.web.security import SECURITY_HEADERS, Guard, host_of
from paperboy.web.site import Site

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    422: "Not understood",
}
_LAST_RESORT = (  # if even the template cannot be rendered
    "<!doctype html><meta charset=utf-8><title>Something went wrong</title>"
    "<h1>Something went wrong</h1><p>Paperboy could not answer this request. Try again later."
)


def allowed_hosts(site: Site) -> frozenset[str]:
    """The configured hosts and the host of the public URL."""
    public = host_of(site.context.public_url.partition("://")[2].partition("/")[0])
    return frozenset(site.context.allowed_hosts) | ({public} if public else set())


def install(app: FastAPI, site: Site) -> None:
    """Put the guard in front of the routes and the fallback pages behind them."""
    app.router.redirect_slashes = False  # Starlette's would echo the Host header; see below
    app.add_middleware(
        Guard,
        hosts=allowed_hosts(site),
        proxies=site.context.trusted_proxies,
        refuse=lambda: site.message(
            "Unknown host",
            "This server does not answer for that name.",
            status=400,
            hint="use the address in your email",
        ),
    )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 404 and (twin := _slash_twin(app, request)):
            return RedirectResponse(
                f"{site.context.public_url}{twin}", status_code=308, headers=SECURITY_HEADERS
            )
        text, hint = _text(error)
        page = site.message(
            _TITLES.get(error.status_code, "Not possible"),
            text,
            status=error.status_code,
            hint=hint,
            link=("Go to the recent papers", "/"),
        )
        page.headers.update(error.headers or {})  # Allow on a 405
        return page

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        names = sorted({str(e["loc"][-1]) for e in error.errors() if e.get("loc")})
        return site.message(
            _TITLES[422],
            f"This page was sent a value it cannot use: {', '.join(names) or 'the request'}.",
            status=422,
            hint="go back, reload the page and try again",
        )

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception) -> Response:
        """The last line of defence: a page, never a traceback (uvicorn logs the error)."""
        try:
            return site.message(
                "Something went wrong",
                "Paperboy could not answer this request; the error is logged for the operator.",
                status=500,
                hint="try again in a few minutes",
            )
        except Exception:  # the page itself failed: still say it in HTML, with the headers
            log.exception("the error page could not be rendered")
            return HTMLResponse(_LAST_RESORT, status_code=500, headers=SECURITY_HEADERS)


def _text(error: HTTPException) -> tuple[str, str]:
    """What happened, in a sentence, and what to do next."""
    if error.status_code == 404:
        return (
            "There is no page at this address.",
            "Check the address for a typing mistake, or start again from the recent papers.",
        )
    if error.status_code == 405:
        return (
            "This page does not take that kind of request.",
            "Open it from a link or a button on this site instead.",
        )
    return "This request cannot be answered.", "Go back and try again."


def _slash_twin(app: FastAPI, request: Request) -> str | None:
    """The same address with its trailing slash added or dropped, if a route answers there.

    The redirect is built from PAPERBOY_PUBLIC_URL (or is a path), never from the Host header.
    """
    path = request.url.path
    if path == "/":
        return None
    twin = "/" + (path.rstrip("/") if path.endswith("/") else path + "/").lstrip("/")
    scope = dict(request.scope, path=twin)
    if not any(route.matches(scope)[0] != Match.NONE for route in app.router.routes):
        return None
    query = request.url.query
    return twin + (f"?{query}" if query else "")
