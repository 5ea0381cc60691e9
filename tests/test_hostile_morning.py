"""A hostile review of the morning's changes: the third-party RSS feed (a hostile feed server, a
hostile PAPERBOY_FEED_URL, the feed on Hugging Face's own host) and the pages (the /healthz
front, forms kept after a failed cookie check, an expired confirmation link's address).

Everything runs for real: the feed over HTTP from a hostile server on 127.0.0.1 through the
wiring the CLI uses, the pages under uvicorn."""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from base.clock import fixed_clock
from base.errors import ConfigError
from paperboy.settings import load_settings
from paperboy.tokens import Purpose
from paperboy.wiring import build_ingestor
from scraper import sources
from store.repository import SqlStore
from store.types import Fetch, Status
from tests.conftest import HF, PINNED
from tests.hostile_server import Reply, answer, hostile_server
from tests.pages import Site, csrf_of, site
from tests.replay_server import FEED_PATH, _Handler

FEED = "/feed.xml"
RSS = (HF / "thirdparty-rss-hf-weekly-2026-08-03.xml").read_bytes()


def rss(*items: str) -> bytes:
    return f"<rss version='2.0'><channel><title>x</title>{''.join(items)}</channel></rss>".encode()


def item(link: str, *, date: str = "Mon, 03 Aug 2026 02:05:52 +0000") -> str:
    return f"<item><title>A paper</title><link>{link}</link><pubDate>{date}</pubDate></item>"


def feed_fetch(
    store: SqlStore, database_url: str, routes: dict[str, Reply], **env: str
) -> tuple[Fetch, list[str]]:
    """`paperboy fetch --feed` as the CLI wires it, against a hostile server on 127.0.0.1."""
    with hostile_server(routes) as (base, seen):
        settings = load_settings(
            _env_file=None,
            database_url=database_url,
            hf_base_url="https://hf.invalid",
            feed_url=base + FEED,
            semantic="off",
            max_retries=env.pop("max_retries", "1"),
            **env,
        )
        ingestor, client = build_ingestor(settings, store, clock=fixed_clock(PINNED), delay=0)
        with client:
            ingestor.run(sources.feed())
    fetch = store.last_fetch()
    assert fetch is not None
    return fetch, seen


# -- a hostile feed server --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (rss(item("javascript:" + "a" * 1_000_000)), "item[0].link"),
        (rss(item("https://arxiv.org/abs/2401.00001", date="Mon, " + "9" * 1_000_000)), "pubDate"),
        (
            b"<!DOCTYPE rss [<!ENTITY e SYSTEM '" + b"a" * 1_000_000 + b"'>]><rss>&e;</rss>",
            "not a well-formed RSS feed",
        ),
        (
            rss("<item><title> </title><link>https://arxiv.org/abs/2401.00001</link></item>"),
            "title",
        ),
    ],
)
def test_a_huge_bad_item_is_quoted_short_in_the_broken_row(
    store: SqlStore, database_url: str, body: bytes, where: str
) -> None:
    """A scraped value quoted in the error is cut short: a megabyte of link is not stored in
    the fetch row, printed by `paperboy fetches` or logged."""
    fetch, _ = feed_fetch(store, database_url, {"=" + FEED: answer(body)})
    assert fetch.verdict == "broken"
    assert fetch.error_kind == "parse"
    assert fetch.error is not None
    assert where in fetch.error
    assert len(fetch.error) < 500, len(fetch.error)


def test_a_failing_feed_host_is_not_called_hugging_face(store: SqlStore, database_url: str) -> None:
    """The broken row says which site failed: the feed's host, not Hugging Face."""
    fetch, _ = feed_fetch(store, database_url, {"=" + FEED: answer(b"down", status=503)})
    assert fetch.verdict == "broken"
    assert fetch.error is not None
    assert "Hugging Face" not in fetch.error
    assert "HTTP 503" in fetch.error
    assert "127.0.0.1" in fetch.error
    robots, _ = feed_fetch(store, database_url, {"=/robots.txt": answer(b"x", status=500)})
    assert robots.error_kind == "robots"
    assert robots.error is not None
    assert "Hugging Face" not in robots.error


def _to_itself(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(302)
    handler.send_header("Location", FEED)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def test_a_redirect_loop_is_given_up_at_once_not_retried(
    store: SqlStore, database_url: str
) -> None:
    """A loop is no network trouble that a retry cures: one round of redirects is asked (not
    one per retry), and the row says it was a redirect loop."""
    fetch, seen = feed_fetch(store, database_url, {"=" + FEED: _to_itself}, max_retries="3")
    assert fetch.verdict == "broken"
    assert fetch.error is not None
    assert "redirect" in fetch.error
    assert fetch.error_kind != "network"
    assert len(seen) <= 25, len(seen)  # httpx follows 20 hops; 4 tries would be 84


# -- a hostile PAPERBOY_FEED_URL ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "https://feeds.example.org:99999/feed.xml",  # port out of range
        "https://feeds.example.org:abc/feed.xml",  # not a port
        "https://feeds.example.org:0/feed.xml",
        "https://feeds example.org/feed.xml",  # a space in the host
        "https://feeds%20example.org/feed.xml",
        "https://" + "a" * 64 + ".example.org/feed.xml",  # a DNS label over 63
        "https://feeds.example.org\\@evil.example/feed.xml",
    ],
)
def test_a_feed_url_that_cannot_be_fetched_is_a_config_error(value: str) -> None:
    """Refused when the settings are read (the CLI exits 2 naming the setting), not at fetch
    time as an "unexpected error" with a traceback in the log."""
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, feed_url=value)
    assert caught.value.setting == "PAPERBOY_FEED_URL"


@pytest.mark.parametrize(
    "value",
    [
        "https://feeds.example.org/hf/feed.xml?lang=en",
        "http://127.0.0.1:8080/feed.xml",
        "http://[::1]:8080/feed.xml",
        "https://bücher.example/feed.xml",  # IDN: sent as xn--bcher-kva.example
        "https://feeds.example.org.:443/feed.xml",
    ],
)
def test_a_fetchable_feed_url_is_accepted(value: str) -> None:
    assert load_settings(_env_file=None, feed_url=value).feed_url == value


# -- the feed on Hugging Face's own host ----------------------------------------------------


def test_the_feed_on_hugging_faces_host_keeps_the_spacing(
    store: SqlStore, database_url: str
) -> None:
    """One host, one spacing: the feed's requests wait PAPERBOY_REQUEST_DELAY after the
    site's, as every request to one host does."""
    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()

    def timed(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            arrivals.append((time.monotonic(), handler.path))
        _Handler.do_GET(handler)  # type: ignore[arg-type]

    with hostile_server({"": timed}) as (base, _):
        settings = load_settings(
            _env_file=None,
            database_url=database_url,
            hf_base_url=base,
            feed_url=base + FEED_PATH,
            semantic="off",
        )
        ingestor, client = build_ingestor(settings, store, clock=fixed_clock(PINNED), delay=1.5)
        with client:
            trending = ingestor.run(sources.trending())
            feed = ingestor.run(sources.feed())
    assert trending.outcome.verdict.value == "ok"
    assert feed.outcome.verdict.value == "ok"
    times = [t for t, _ in arrivals]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.4, arrivals  # the delay; storing trending's papers takes far less


# -- pages: an expired confirmation link ------------------------------------------------------


@pytest.fixture
def web(database_url: str) -> Iterator[tuple[Site, httpx.Client]]:
    with site(database_url) as s, httpx.Client(base_url=s.base, event_hooks=s.hooks) as client:
        yield s, client


@pytest.mark.parametrize(
    "then", [Status.ACTIVE, Status.PAUSED, Status.BOUNCED, Status.UNSUBSCRIBED]
)
def test_an_expired_confirmation_link_shows_no_address_once_the_sign_up_is_over(
    web: tuple[Site, httpx.Client], then: Status
) -> None:
    """The sign-up form an expired link offers fills in the address only while the sign-up it
    was mailed for is still waiting: once confirmed (then paused, or bounced), a forwarded or
    leaked old link reveals nothing."""
    s, client = web
    address = "reader@example.org"
    csrf = csrf_of(client.get("/signup").text)
    client.post("/signup", data={"csrf": csrf, "email": address, "query": "agents"})
    (mail,) = s.mails_to(address)
    link = s.link_in(mail, "/c/")
    page = client.get(link)
    done = client.post(link, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200
    assert s.world.people.require(address).status == Status.ACTIVE
    if then is not Status.ACTIVE:
        s.world.people.set_status(address, then, s.clock.now)
    s.clock.advance(days=3, minutes=1)
    shown = client.get(link)
    assert shown.status_code == 400
    assert "This confirmation link has expired" in shown.text
    assert "reader@" not in shown.text
    assert 'value="reader' not in shown.text
    posted = client.post(link, data={"csrf": csrf_of(shown.text)})
    assert "reader@" not in posted.text


# -- pages: what a failed cookie check shows again ------------------------------------------

XSS = (
    "\"'><script>alert(1)</script></textarea></select><img src=x onerror=alert(1)>\x00&amp;{{7*7}}"
)


def _safe(page: httpx.Response) -> None:
    """No sent value reaches the page as markup: every one escaped (a NUL may come back as it
    came: HTML parsers read it as U+FFFD, never as markup)."""
    assert page.status_code < 500, page.status_code
    for bad in ("<script>alert", "<img src=x", "onerror=alert(1)>"):
        assert bad not in page.text, bad
    assert "</textarea></select>" not in page.text


TYPED = {"original", "name", "query", "ids", "time", "max_papers"}  # text the page shows again


def test_every_field_a_refused_form_shows_again_is_escaped(
    web: tuple[Site, httpx.Client],
) -> None:
    """Each field of each form kept after a failed cookie check, sent a hostile value (quotes,
    closing tags, an event handler, NUL, a template expression): shown escaped, never a 500."""
    s, client = web
    sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
    url = f"/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"
    assert client.get(url).status_code == 200
    posts = {
        "profiles": ["original", "name", "query", "action"],
        "examples": ["name", "ids"],
        "settings": [
            "time", "zone", "frequency", "weekday", "max_papers", "send_empty", "thumbnails"
        ],
        "status": ["action"],
        "feedback": ["undo"],
        "delete": ["csrf"],
    }  # fmt: skip
    for form, names in posts.items():
        for name in names:
            with httpx.Client(base_url=s.base, event_hooks=s.hooks) as other:
                refused = other.post(f"{url}/{form}", data={"csrf": "stale", name: XSS})
            assert refused.status_code == 403, (form, name, refused.status_code)
            _safe(refused)
            if name in TYPED:  # a free-text field comes back as typed, escaped
                assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;/textarea&gt;" in refused.text
    signup = {"email": XSS, "query": XSS, "examples": XSS, "zone": XSS, "time": XSS}
    for name, value in signup.items():
        with httpx.Client(base_url=s.base, event_hooks=s.hooks) as other:
            _safe(other.post("/signup", data={"csrf": "stale", name: value}))
            _safe(other.post("/link", data={"csrf": "stale", "email": value}))


def test_a_query_with_a_nul_is_refused_with_its_column_not_a_500(
    web: tuple[Site, httpx.Client],
) -> None:
    """A NUL kept in a refused form comes back when it is sent again: the query is refused
    saying where (PostgreSQL refuses NUL in text: a 500 before), on the manage page and on
    sign-up (where the queue's write failed after "Check your inbox"), and nothing is kept."""
    s, client = web
    sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
    url = f"/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"
    csrf = csrf_of(client.get(url).text)
    before = s.world.people.profiles(sid)
    for data in ({"original": "", "name": "agents"}, {"original": "vision", "name": "vision"}):
        answer = client.post(f"{url}/profiles", data=data | {"csrf": csrf, "query": "a\x00gents"})
        assert answer.status_code == 400
        assert "control character" in answer.text
        assert "column 2" in answer.text
    assert s.world.people.profiles(sid) == before
    csrf = csrf_of(client.get("/signup").text)
    signed = client.post(
        "/signup", data={"csrf": csrf, "email": "new@example.org", "query": "agents\x00"}
    )
    assert signed.status_code == 400
    assert "control character" in signed.text
    assert s.world.people.get("new@example.org") is None


def test_a_profile_edited_after_it_was_renamed_elsewhere_keeps_the_typing(
    web: tuple[Site, httpx.Client],
) -> None:
    """The form names a profile renamed or removed in another tab: refused by the cookie check
    or by the store, what was typed comes back in the "add a profile" form, saying so; sending
    it again adds it."""
    s, client = web
    sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
    url = f"/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"
    csrf = csrf_of(client.get(url).text)
    s.world.people.remove_profile("reader@example.org", "vision")
    typed = {"original": "vision", "name": "robots", "query": "humanoid robots"}
    with httpx.Client(base_url=s.base, event_hooks=s.hooks) as other:
        refused = other.post(f"{url}/profiles", data=typed | {"csrf": "stale"})
    failed = client.post(f"{url}/profiles", data=typed | {"csrf": csrf})
    for page in (refused, failed):
        assert page.status_code in (400, 403)
        assert 'value="robots"' in page.text
        assert "humanoid robots</textarea>" in page.text
        assert "no longer there" in page.text
        assert 'name="original" value=""' in page.text
    again = client.post(f"{url}/profiles", data=typed | {"original": "", "csrf": csrf})
    assert again.status_code == 303
    assert [(p.name, p.query) for p in s.world.people.profiles(sid)] == [
        ("robots", "humanoid robots")
    ]


# -- pages: /healthz in front of the app ------------------------------------------------------


def _raw(base: str, request: bytes) -> bytes:
    """Send bytes as they are (no client tidies the target) and read until the server closes."""
    host, _, port = base.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/healthz", 200),
        ("/healthz?probe=1", 200),
        ("http://evil.example/healthz", 200),  # absolute form: still the path /healthz
        ("/healthz/", 308),  # to /healthz, a path: never built from the Host header
        ("/healthz%2F", 308),
        ("//healthz", 404),
        ("/%2Fhealthz", 404),
        ("/HEALTHZ", 404),
        ("/healthz%00", 404),
        ("/./healthz", 404),
        ("/x/../healthz", 404),
        ("/healthz;x", 404),
    ],
)
def test_only_get_healthz_itself_is_answered_in_front(
    web: tuple[Site, httpx.Client], target: str, status: int
) -> None:
    """Path tricks reach the front only for /healthz itself; the rest get the app's pages, and
    every answer carries the guard's headers."""
    s, _ = web
    answer = _raw(
        s.base, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} "), lines[0]
    names = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in lines[1:]}
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert header in names, (target, header)
    assert names.get("cache-control") == "no-store"
    assert "evil.example" not in answer.decode("latin-1")
    if status == 200:
        assert body == b'{"status":"ok"}'
    if status == 308:
        assert names["location"] in ("/healthz", "https://paperboy.example.org/healthz")


def test_a_body_sent_to_healthz_is_never_read_as_a_request(
    web: tuple[Site, httpx.Client],
) -> None:
    """The front reads no body; the server still consumes it by its length: a request hidden
    in it is never answered (no smuggling through the front on a kept-alive connection)."""
    s, _ = web
    hidden = b"GET /nothere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    first = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(hidden)
    last = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    answer = _raw(s.base, first + hidden + last)
    assert re.findall(rb"HTTP/1\.1 (\d{3})", answer) == [b"200", b"200"]


def test_a_feed_thumbnail_from_elsewhere_than_hugging_face_is_not_kept(
    store: SqlStore, database_url: str
) -> None:
    """Digests show each paper's thumbnail: one on the feed author's own host would be a
    tracking pixel in every subscriber's mail. Only Hugging Face's images (https) are kept."""
    shown = {
        "2401.00001": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2401.00001.png",
        "2401.00002": "https://tracker.example/pixel.png?paper=2401.00002",
        "2401.00003": "http://cdn-thumbnails.huggingface.co/social-thumbnails/papers/x.png",
        "2401.00004": "https://huggingface.co.tracker.example/x.png",
        "2401.00005": "https://huggingface.co@tracker.example/x.png",
    }
    items = "".join(
        f"<item><title>Paper {i}</title><link>https://arxiv.org/abs/{i}</link><description>"
        f"&lt;p&gt;Authors: A&lt;/p&gt;&lt;img src=&quot;{src}&quot;&gt;</description></item>"
        for i, src in shown.items()
    )
    fetch, _ = feed_fetch(store, database_url, {"=" + FEED: answer(rss(items))})
    assert fetch.verdict == "ok", fetch.error
    kept = {i: getattr(store.get_paper(i), "thumbnail", "?") for i in shown}
    assert kept == {i: shown[i] if i == "2401.00001" else None for i in shown}


def test_the_feed_never_rewrites_what_hugging_face_said_of_a_paper(
    store: SqlStore, database_url: str
) -> None:
    """The feed is a second opinion: for a paper Hugging Face already gave, it cannot deface
    the title, abstract or authors, nor roll its upvotes back to an older snapshot (it ran after
    trending every run); it may raise them, and it adds the papers Hugging Face did not give."""
    known = "2605.05242"  # the first paper of the trending capture: 86 upvotes, 19 authors

    def feed_item(arxiv_id: str, title: str, upvotes: int) -> str:
        about = f"&lt;p&gt;Authors: Mallory&lt;/p&gt;&lt;p&gt;Upvotes: {upvotes}&lt;/p&gt;"
        about += "&lt;p&gt;Summary: buy now&lt;/p&gt;"
        link = f"https://arxiv.org/abs/{arxiv_id}"
        return (
            f"<item><title>{title}</title><link>{link}</link><description>{about}</description>"
            + ("</item>")
        )

    stale = rss(feed_item(known, "Defaced", 3), feed_item("2401.00009", "A new one", 5))
    fresher = rss(feed_item(known, "Defaced again", 90))
    answers = iter([stale, fresher])
    with hostile_server({"=" + FEED: lambda h: answer(next(answers))(h)}) as (base, _):
        settings = load_settings(
            _env_file=None,
            database_url=database_url,
            hf_base_url=base,
            feed_url=base + FEED,
            semantic="off",
        )
        ingestor, client = build_ingestor(settings, store, clock=fixed_clock(PINNED), delay=0)
        with client:
            assert ingestor.run(sources.trending()).outcome.verdict.value == "ok"
            before = store.get_paper(known)
            assert ingestor.run(sources.feed()).outcome.verdict.value == "ok"
            after = store.get_paper(known)
            assert ingestor.run(sources.feed()).outcome.verdict.value == "ok"
            raised = store.get_paper(known)
    assert before is not None
    assert after is not None
    assert raised is not None
    assert (after.title, after.summary, after.authors) == (
        before.title,
        before.summary,
        before.authors,
    )
    assert after.upvotes == before.upvotes == 86
    assert raised.title == before.title
    assert raised.upvotes == 90
    added = store.get_paper("2401.00009")
    assert added is not None
    assert (added.title, added.upvotes) == ("A new one", 5)
