"""The first web pages against the real app and store: health, one-click unsubscribe, archive."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from paperboy.clock import fixed_clock
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
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
