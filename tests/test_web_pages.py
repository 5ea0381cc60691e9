"""Sign-up, confirmation, the manage page, fresh links, previews, recent papers and feeds,
against the real app and store over HTTP, with mail delivered to a real SMTP server."""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from defusedxml import ElementTree
from starlette.exceptions import StarletteDeprecationWarning

from paperboy.clock import fixed_clock
from paperboy.profiles.parser import parse
from paperboy.profiles.reference import matches as reference
from paperboy.settings import load_settings
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
from paperboy.web.security import Limit
from paperboy.wiring import build_web
from store.types import PaperFilter
from tests.pages import Site, csrf_of, site
from tests.test_web_fuzz import NASTY
from tests.web_server import serving
from tests.world import SECRET, world

with warnings.catch_warnings():  # Starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def web(database_url: str) -> Iterator[tuple[Site, httpx.Client]]:
    with site(database_url) as s, httpx.Client(base_url=s.base, event_hooks=s.hooks) as client:
        yield s, client


@pytest.fixture
def web_sqlite(sqlite_url: str) -> Iterator[tuple[Site, httpx.Client]]:
    limits = {
        "ip": Limit(3, timedelta(hours=1)),
        "address": Limit(2, timedelta(hours=1)),
        "preview": Limit(2, timedelta(minutes=1)),
    }
    with (
        site(sqlite_url, limits) as s,
        httpx.Client(base_url=s.base, event_hooks=s.hooks) as client,
    ):
        yield s, client


def sign_up(
    client: httpx.Client, email: str, query: str = "diffusion", **extra: str
) -> httpx.Response:
    csrf = csrf_of(client.get("/signup").text)
    form = {"csrf": csrf, "email": email, "query": query, "time": "07:30", "zone": "Europe/Paris"}
    return client.post("/signup", data=form | extra)


def confirm_link(s: Site, address: str) -> str:
    (mail,) = [m for m in s.mails_to(address) if "Confirm" in m["Subject"]]
    return s.link_in(mail, "/c/")


def test_sign_up_confirm_by_button_then_active(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    answer = sign_up(client, "New.Reader@Example.org", 'diffusion OR "video generation"')
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    pending = s.world.people.require("new.reader@example.org")
    assert pending.status == "pending"
    assert (pending.time_zone, pending.send_hour, pending.send_minute) == ("Europe/Paris", 7, 30)
    (profile,) = s.world.people.profiles(pending.id)
    assert profile.query == 'diffusion OR "video generation"'

    link = confirm_link(s, "new.reader@example.org")
    shown = client.get(link)  # what a mail scanner does: nothing may change
    assert shown.status_code == 200
    assert "<button" in shown.text
    assert s.world.people.require("new.reader@example.org").status == "pending"

    done = client.post(link, data={"csrf": csrf_of(shown.text)})
    assert done.status_code == 200
    assert "You are subscribed" in done.text
    active = s.world.people.require("new.reader@example.org")
    assert active.status == "active"
    assert active.confirmed_at is not None
    again = client.post(link, data={"csrf": csrf_of(shown.text)})
    assert "already subscribed" in again.text  # a second press is harmless


def test_the_answer_does_not_tell_who_is_subscribed(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    s.world.subscribe("known@example.org")
    known = sign_up(client, "known@example.org")
    unknown = sign_up(client, "unknown@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("known@", "X@") == unknown.text.replace("unknown@", "X@")
    assert s.world.people.require("known@example.org").status == "active"  # untouched
    (mail,) = s.mails_to("known@example.org")  # they get their manage link, not a confirmation
    assert "already gets Paperboy digests" in mail.get_content()
    s.link_in(mail, "/m/")


def test_form_errors_are_shown_inline_and_nothing_is_stored(
    web: tuple[Site, httpx.Client],
) -> None:
    s, client = web
    answer = sign_up(client, "not-an-address", "diffusion AND (video", zone="Mars/Olympus")
    assert answer.status_code == 400
    assert "is not a valid email address" in answer.text
    assert "at column" in answer.text
    assert "unknown time zone" in answer.text
    assert "diffusion AND (video" in answer.text  # what was typed is kept
    assert s.world.people.count() == 0
    assert s.inbox.messages == []


def test_forms_without_a_matching_csrf_pair_are_refused(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    form = {"email": "x@example.org", "query": "diffusion"}
    with httpx.Client(base_url=s.base) as stranger:  # no cookie, no field
        assert stranger.post("/signup", data=form).status_code == 403
    csrf = csrf_of(client.get("/signup").text)
    with httpx.Client(base_url=s.base) as other:  # a field from someone else's page
        other.get("/signup")
        refused = other.post("/signup", data=form | {"csrf": csrf})
        assert refused.status_code == 403
        assert "did not come from this browser" in refused.text
    cross = client.post(
        "/signup", data=form | {"csrf": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert s.world.people.count() == 0
    assert s.inbox.messages == []


def test_rate_limits_per_address_and_per_ip(web_sqlite: tuple[Site, httpx.Client]) -> None:
    s, client = web_sqlite  # 2 mails per address, 3 per IP, an hour
    assert sign_up(client, "a@example.org").status_code == 200
    assert sign_up(client, "a@example.org").status_code == 200
    limited = sign_up(client, "a@example.org")
    assert limited.status_code == 429
    assert "Too many requests" in limited.text
    assert len(s.mails_to("a@example.org")) == 2
    assert sign_up(client, "b@example.org").status_code == 200
    assert sign_up(client, "c@example.org").status_code == 429  # the IP's third... and over
    s.clock.advance(hours=1, minutes=1)
    assert sign_up(client, "c@example.org").status_code == 200
    previews = [client.get("/preview", params={"q": "x"}).status_code for _ in range(3)]
    assert previews == [200, 200, 429]


def test_an_smtp_refusal_does_not_show_and_the_mail_is_retried(
    web: tuple[Site, httpx.Client],
) -> None:
    s, client = web
    s.inbox.fail_next["late@example.org"] = 1  # the relay answers 451 once
    answer = sign_up(client, "late@example.org")
    assert answer.status_code == 200  # the page never tells what the relay said
    assert "Check your inbox" in answer.text
    confirm_link(s, "late@example.org")  # the queue tried again: exactly one mail


def test_unconfirmed_sign_ups_expire(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sign_up(client, "slow@example.org")
    link = confirm_link(s, "slow@example.org")
    s.clock.advance(days=3, minutes=1)
    expired = client.get(link)
    assert expired.status_code == 400
    assert "expired" in expired.text
    report = s.world.dispatcher(now=s.clock.now).compose()
    assert report.expired_signups == 1
    assert s.world.people.get("slow@example.org") is None


def test_unsubscribed_reader_can_sign_up_again(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sid = s.world.subscribe("back@example.org")
    s.world.people.set_status("back@example.org", "unsubscribed", s.clock.now)
    sign_up(client, "back@example.org", "agents")
    again = s.world.people.require("back@example.org")
    assert (again.id, again.status) == (sid, "pending")
    assert [p.query for p in s.world.people.profiles(sid)] == ["agents"]
    link = confirm_link(s, "back@example.org")
    client.post(link, data={"csrf": csrf_of(client.get(link).text)})
    assert s.world.people.require("back@example.org").status == "active"


def manage(s: Site, client: httpx.Client, sid: int) -> tuple[str, str]:
    url = f"/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"
    page = client.get(url)
    assert page.status_code == 200
    return url, csrf_of(page.text)


def test_manage_profiles_with_preview_and_inline_errors(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
    url, csrf = manage(s, client, sid)
    page = client.get(url).text
    assert 'value="vision"' in page
    assert ">diffusion</textarea>" in page

    broken = {"csrf": csrf, "original": "vision", "name": "vision", "query": "video AND (gen"}
    refused = client.post(f"{url}/profiles", data=broken | {"action": "save"})
    assert refused.status_code == 400
    assert "at column" in refused.text
    assert "video AND (gen" in refused.text  # kept in the box
    assert [p.query for p in s.world.people.profiles(sid)] == ["diffusion"]

    wanted = broken | {"query": '"video generation"'}
    shown = client.post(f"{url}/profiles", data=wanted | {"action": "preview"})
    assert shown.status_code == 200
    assert re.search(r"\d+ of \d+ papers from the last 7 days match", shown.text)
    assert re.search(r"<mark[^>]*>video generation</mark>", shown.text, re.IGNORECASE)
    assert [p.query for p in s.world.people.profiles(sid)] == [
        "diffusion"
    ]  # a preview writes nothing

    saved = client.post(f"{url}/profiles", data=wanted | {"action": "save"})
    assert saved.status_code == 303
    assert "Profile saved" in client.get(saved.headers["location"]).text
    assert [p.query for p in s.world.people.profiles(sid)] == ['"video generation"']

    added = {"csrf": csrf, "original": "", "name": "agents", "query": "agent*", "action": "save"}
    assert client.post(f"{url}/profiles", data=added).status_code == 303
    assert sorted(p.name for p in s.world.people.profiles(sid)) == ["agents", "vision"]
    removed = {
        "csrf": csrf,
        "original": "agents",
        "name": "agents",
        "query": "",
        "action": "remove",
    }
    assert client.post(f"{url}/profiles", data=removed).status_code == 303
    assert [p.name for p in s.world.people.profiles(sid)] == ["vision"]


def test_manage_delivery_settings_pause_and_unsubscribe(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    url, csrf = manage(s, client, sid)
    settings = {
        "csrf": csrf,
        "time": "18:45",
        "zone": "Asia/Tokyo",
        "frequency": "weekly",
        "weekday": "fri",
        "max_papers": "7",
        "send_empty": "1",
    }
    assert client.post(f"{url}/settings", data=settings).status_code == 303
    r = s.world.people.require("reader@example.org")
    assert (r.send_hour, r.send_minute, r.time_zone) == (18, 45, "Asia/Tokyo")
    assert (r.frequency, r.weekday, r.max_papers, r.send_empty) == ("weekly", 4, 7, True)

    bad = client.post(f"{url}/settings", data=settings | {"max_papers": "500"})
    assert bad.status_code == 400
    assert "between 1 and 100" in bad.text
    assert s.world.people.require("reader@example.org").max_papers == 7

    for action, status in (("pause", "paused"), ("resume", "active")):
        answer = client.post(f"{url}/status", data={"csrf": csrf, "action": action})
        assert answer.status_code == 303
        assert s.world.people.require("reader@example.org").status == status
    assert client.get(url).status_code == 200  # pausing and resuming keep the links

    gone = client.post(f"{url}/status", data={"csrf": csrf, "action": "unsubscribe"})
    assert gone.status_code == 200
    assert "You are unsubscribed" in gone.text
    assert s.world.people.require("reader@example.org").status == "unsubscribed"
    assert client.get(url).status_code == 410  # unsubscribing ends every link mailed so far


def test_expired_manage_link_offers_a_fresh_one(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    url = f"/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"
    s.clock.advance(days=31)
    expired = client.get(url)
    assert expired.status_code == 400
    assert "This link has expired" in expired.text
    csrf = csrf_of(expired.text)
    known = client.post("/link", data={"csrf": csrf, "email": "Reader@example.org"})
    unknown = client.post("/link", data={"csrf": csrf, "email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("reader@", "X@") == unknown.text.replace("nobody@", "X@")
    (mail,) = s.mails_to("reader@example.org")
    assert s.mails_to("nobody@example.org") == []
    fresh = client.get(s.link_in(mail, "/m/"))
    assert fresh.status_code == 200
    assert "reader@example.org" in fresh.text


@pytest.mark.parametrize("path", ["/m/{}", "/c/{}", "/f/{}"])
@pytest.mark.parametrize("kind", ["forged", "cross-purpose", "garbage"])
def test_bad_tokens_get_a_clear_page(web: tuple[Site, httpx.Client], path: str, kind: str) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    token = {
        "forged": Tokens("another-secret-0123456789abcdef").make(Purpose.MANAGE, sid),
        "cross-purpose": s.world.link(s.tokens, Purpose.UNSUBSCRIBE, sid),
        "garbage": "not.a.token",
    }[kind]
    answer = client.get(path.format(token))
    assert answer.status_code == 400
    assert "This link does not work" in answer.text


def test_preview_fragment_marks_terms_and_escapes(web: tuple[Site, httpx.Client]) -> None:
    _, client = web
    found = client.get("/preview", params={"q": "diffusion"})
    assert found.status_code == 200
    assert re.search(r"<mark[^>]*>diffusion</mark>", found.text, re.IGNORECASE)
    broken = client.get("/preview", params={"q": "<script>alert(1)</script> AND ("})
    assert "at column" in broken.text
    assert "<script>" not in broken.text


def test_preview_says_how_the_query_was_understood_and_warns(
    web: tuple[Site, httpx.Client],
) -> None:
    """Issue 17: AND binds tighter than OR; the preview shows the grouping, and warns when an
    exclusion sits beside an OR without parentheses."""
    _, client = web
    mixed = client.get("/preview", params={"q": '"variational inference" OR bayesian* -survey'})
    assert mixed.status_code == 200
    understood = re.search(r"Understood as: <code>(.*?)</code>", mixed.text)
    assert understood
    assert html.unescape(understood.group(1)) == '("variational inference" OR (bayesian* -survey))'
    assert 'class="warning"' in mixed.text
    clear = client.get("/preview", params={"q": '("variational inference" OR bayesian*) -survey'})
    assert "Understood as:" in clear.text
    assert 'class="warning"' not in clear.text


def test_recent_papers_and_a_profile_feed(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    recent = client.get("/")
    assert recent.status_code == 200
    titles = re.findall(r'class="title"', recent.text)
    assert len(titles) >= 10
    query = parse("diffusion")
    sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
    url, _ = manage(s, client, sid)
    feed_path = re.search(r'href="https://paperboy.example.org(/f/[^"]+)"', client.get(url).text)
    assert feed_path
    feed = client.get(feed_path.group(1))
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(feed.content)
    entries = root.findall(f"{ATOM}entry")
    assert entries, "the feed has no entries though papers match"
    expected = [
        p for p in s.world.papers.list_papers(PaperFilter(limit=1000)) if reference(query, p)
    ]
    assert len(entries) == min(50, len(expected))
    for item in entries:
        link = item.find(f"{ATOM}link")
        assert link is not None
        href = link.get("href", "")
        assert href.startswith("https://huggingface.co/papers/")
        paper = s.world.papers.get_paper(href.rsplit("/", 1)[1])
        assert paper is not None
        assert reference(query, paper)
    profile = s.world.people.profiles(sid)[0]
    s.world.people.remove_profile("reader@example.org", profile.name)
    assert client.get(feed_path.group(1)).status_code == 404


def test_pages_have_no_inline_scripts_and_strict_headers(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    for path in ("/", "/signup", "/link", f"/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"):
        page = client.get(path)
        assert page.status_code == 200, path
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        for tag in re.findall(r"<script[^>]*>", page.text):
            assert 'src="/static/' in tag, f"inline script on {path}: {tag}"
    script = client.get("/static/pages.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../pyproject.toml").status_code == 404
    assert SECRET not in client.get("/").text


def test_the_app_paperboy_serve_builds_mails_through_the_configured_transport(
    sqlite_url: str, tmp_path: Path
) -> None:
    """What `paperboy serve` runs: settings -> build_web; the confirmation lands in the outbox."""
    settings = load_settings(
        database_url=sqlite_url,
        mail_transport="outbox",
        outbox_dir=tmp_path / "outbox",
        secret_key=SECRET,
        public_url="https://digest.example.org",
    )
    with world(sqlite_url) as w:
        app = build_web(settings, w.engine)
        with serving(app) as base, httpx.Client(base_url=base) as client:
            assert sign_up(client, "reader@example.org").status_code == 200
    (mail,) = (tmp_path / "outbox").glob("*.eml")
    text = message_from_bytes(mail.read_bytes(), policy=policy.default)
    assert text["To"] == "reader@example.org"
    assert "https://digest.example.org/c/" in text.get_content()


def in_layout(html: str) -> bool:
    """A page of the site: its header, its stylesheet, a heading and a sentence."""
    return (
        'class="brand"' in html
        and 'href="/signup"' in html
        and "prefers-color-scheme: dark" in html
        and re.search(r"<h1>[^<]+</h1>\s*<p>[^<]+\.</p>", html) is not None
    )


def test_every_error_is_a_page_with_a_next_step(sqlite_url: str) -> None:
    """404, 405, 422, 500 and a bad link: the site's layout, a sentence, then what to do."""
    with world(sqlite_url) as w:
        clock = fixed_clock(w.now)
        context = WebContext(
            w.engine, Tokens(SECRET, clock), clock, allowed_hosts=frozenset({"testserver"})
        )
        app = create_app(context)

        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("a bug")

        with TestClient(app, raise_server_exceptions=False) as client:
            answers = {
                404: client.get("/no/such/page"),
                405: client.delete("/signup"),
                422: client.get("/preview", params={"compact": "maybe"}),
                500: client.get("/boom"),
                400: client.get("/u/not-a-real-token"),
            }
            for hostile in NASTY:  # the search box parses what strangers type: never a 500
                got = client.get("/", params={"q": hostile})
                assert got.status_code in (200, 400), got.text
    for status, answer in answers.items():
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("text/html")
        assert in_layout(answer.text), (status, answer.text)
        nexts = re.search(r'<p class="muted">([A-Z][^<]+\.)</p>|<a href="/[^"]*">', answer.text)
        assert nexts, f"{status}: no next step"
    assert "a bug" not in answers[500].text
    assert "Go to the recent papers" in answers[404].text
