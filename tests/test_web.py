"""The first web pages against the real app and store: health, one-click unsubscribe, archive."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import httpx
import pytest
import uvloop
from sqlalchemy import text
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from paperboy.clock import fixed_clock
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
from paperboy.web.health import TTL, HealthCheck
from paperboy.web.security import SECURITY_HEADERS
from paperboy.wiring import server_config
from tests.digests import latest_digest
from tests.web_server import serving
from tests.world import NOW, SECRET, World, mail_parts, world


@pytest.fixture
def site(database_url: str) -> Iterator[tuple[httpx.Client, World, Tokens]]:
    """The real app served by uvicorn on 127.0.0.1, spoken to over HTTP."""
    with world(database_url) as w:
        tokens = Tokens(SECRET, fixed_clock(NOW))
        engine = w.engine
        app = create_app(WebContext(engine, tokens, fixed_clock(NOW)))
        with serving(app) as base, httpx.Client(base_url=base) as client:
            yield client, w, tokens


def test_healthz(site: tuple[httpx.Client, World, Tokens]) -> None:
    client, _, _ = site
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


HEALTH_HEADERS = {
    **{name.lower(): value for name, value in SECURITY_HEADERS.items()},
    "cache-control": "no-store",
    "content-type": "application/json",
}


def test_healthz_answered_in_front_of_the_app_keeps_its_headers_and_503(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    """/healthz is answered before FastAPI's middleware and routing, with the headers the guard
    puts on every answer; 503 while the schema is not current (checked at most once a second);
    other methods still get the site's 405 page."""
    client, w, _ = site

    def checked() -> httpx.Response:
        answer = client.get("/healthz?probe=1", headers={"Host": "10.0.0.7:8000"})
        for name, value in HEALTH_HEADERS.items():
            assert answer.headers.get(name) == value, name
        assert answer.headers["content-length"] == str(len(answer.content))
        return answer

    assert checked().json() == {"status": "ok"}
    with w.engine.begin() as c:
        current = c.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        c.execute(text("UPDATE alembic_version SET version_num = 'elsewhere'"))
    time.sleep(TTL + 0.1)
    broken = checked()
    assert broken.status_code == 503
    assert broken.json() == {"status": "error", "detail": "schema not current"}
    with w.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    time.sleep(TTL + 0.1)
    assert checked().status_code == 200
    for method in ("HEAD", "POST"):
        other = client.request(method, "/healthz")
        assert other.status_code == 405
        assert other.headers["allow"] == "GET"
        assert other.headers["content-type"] == "text/html; charset=utf-8"


def test_a_health_check_that_fails_unforeseen_still_answers_503(
    site: tuple[httpx.Client, World, Tokens], caplog: pytest.LogCaptureFixture
) -> None:
    """In front of the app, no error page catches it: the check itself answers 503, with the
    headers, and logs the failure."""
    _, w, _ = site

    def broken_clock() -> float:
        raise RuntimeError("no clock")

    health = HealthCheck(w.engine, monotonic=broken_clock)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/healthz", "headers": []}
    with caplog.at_level(logging.ERROR, logger="paperboy.web.health"):
        asyncio.run(health(scope, receive, send))
    start, body = sent
    assert start["status"] == 503
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert headers == HEALTH_HEADERS | {"content-length": str(len(body["body"]))}
    assert json.loads(body["body"]) == {"status": "error", "detail": "RuntimeError"}
    assert "the health check failed" in caplog.text


def test_the_server_parses_http_with_httptools_on_uvloop(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    """uvicorn's "auto" picks the C parser and loop when installed (they are dependencies)."""
    _, w, tokens = site
    config = server_config(
        create_app(WebContext(w.engine, tokens, fixed_clock(NOW))), "127.0.0.1", 8000
    )
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    assert config.get_loop_factory() is uvloop.new_event_loop


def test_one_click_unsubscribe(site: tuple[httpx.Client, World, Tokens]) -> None:
    client, w, tokens = site
    sid = w.subscribe("reader@example.org")
    token = w.link(tokens, Purpose.UNSUBSCRIBE, sid)
    shown = client.get(f"/u/{token}")
    assert shown.status_code == 200
    assert '<form method="post">' in shown.text
    assert w.people.require("reader@example.org").status == "active"  # a GET changes nothing
    done = client.post(
        f"/u/{token}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200  # no redirect, no cookie needed
    assert "set-cookie" not in done.headers
    assert "You are unsubscribed" in done.text
    assert w.people.require("reader@example.org").status == "unsubscribed"
    again = client.post(f"/u/{token}")  # unsubscribing rotated the link key: the link is dead
    assert again.status_code == 410
    assert "This link is no longer valid" in again.text
    assert done.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in done.headers["Content-Security-Policy"]


@pytest.mark.parametrize("kind", ["forged", "cross-purpose", "garbage"])
def test_bad_tokens_get_a_clear_page_never_a_500(
    site: tuple[httpx.Client, World, Tokens], kind: str
) -> None:
    client, w, tokens = site
    sid = w.subscribe("reader@example.org")
    token = {
        "forged": Tokens("another-secret-0123456789abcdef").make(Purpose.UNSUBSCRIBE, sid),
        "cross-purpose": w.link(tokens, Purpose.MANAGE, sid),
        "garbage": "not.a.token",
    }[kind]
    for response in (
        client.get(f"/u/{token}"),
        client.post(f"/u/{token}"),
        client.get(f"/d/{token}"),
    ):
        assert response.status_code == 400
        assert "This link does not work" in response.text
    assert w.people.require("reader@example.org").status == "active"


def test_the_archive_shows_a_sent_digest(site: tuple[httpx.Client, World, Tokens]) -> None:
    client, w, tokens = site
    sid = w.subscribe("reader@example.org", hour=8)
    w.dispatcher().compose()
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    page = client.get(f"/d/{w.link(tokens, Purpose.ARCHIVE, sid, digest.period)}")
    assert page.status_code == 200
    assert digest.subject in page.text
    shown = re.findall(r'class="title" href="https://huggingface.co/papers/([^"]+)"', page.text)
    assert shown == list(digest.paper_ids)  # every paper, the ones past "and N more" too
    # A forwarded digest hands over nothing: no address, no link that changes or ends it.
    assert "reader@example.org" not in page.text
    assert not re.search(r'href="[^"]*/(m|u|f|c)/', page.text)
    html = mail_parts(digest)[1]  # the mail itself does carry them
    assert "/m/" in html
    assert "/u/" in html
    missing = client.get(f"/d/{w.link(tokens, Purpose.ARCHIVE, sid, '1999-01-01')}")
    assert missing.status_code == 404
    assert "No such digest" in missing.text
