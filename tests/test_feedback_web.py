"""The feedback links of a digest ("More like this", "Not interested") through the real app and
store: a GET records nothing, a POST records without a cookie, undo, and every bad link gets a
clear page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from markupsafe import escape

from paperboy.clock import fixed_clock
from paperboy.links import LinkBuilder
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
from scraper.models import ScrapedPaper
from store.feedback import FeedbackStore, Signal, Signals
from store.types import PaperFilter
from tests import pages, test_browser
from tests.pages import csrf_of
from tests.test_web_pages import sign_up
from tests.web_server import serving
from tests.world import NOW, SECRET, World, world

browser = test_browser.browser  # Debian's Chromium through Playwright, one per module
ARTIFACTS = test_browser.ARTIFACTS

HOSTILE = ScrapedPaper(
    arxiv_id="2607.99999",
    title='<script>alert("title")</script> Diffusion & friends',
    upvotes=3,
    summary="<img src=x onerror=alert(1)> a diffusion model",
)


@dataclass
class Site:
    client: httpx.Client
    w: World
    links: LinkBuilder  # paths only: the app is reached through the client's base URL
    feedback: FeedbackStore
    tokens: Tokens

    def subscriber(self, email: str = "reader@example.org") -> tuple[str, int]:
        """A subscriber's link key and the id of their profile "vision"."""
        sid = self.w.subscribe(email)
        subscriber = self.w.people.by_id(sid)
        assert subscriber is not None
        (profile,) = self.w.people.profiles(sid)
        return subscriber.link_key, profile.id

    def url(self, link_key: str, profile_id: int, arxiv_id: str = HOSTILE.arxiv_id) -> str:
        return self.links.feedback(link_key, profile_id, arxiv_id)


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    with world(database_url) as w:
        w.ingest((HOSTILE,), NOW - timedelta(hours=1))
        tokens = Tokens(SECRET, fixed_clock(NOW))
        engine = w.engine
        app = create_app(WebContext(engine, tokens, fixed_clock(NOW)))
        with serving(app) as base, httpx.Client(base_url=base) as client:
            yield Site(client, w, LinkBuilder(tokens, ""), FeedbackStore(engine), tokens)


def _buttons(html: str) -> list[str]:
    return re.findall(r"<button[^>]*>([^<]*)</button>", html)


def test_a_get_shows_the_buttons_and_records_nothing(site: Site) -> None:
    key, pid = site.subscriber()
    url = site.url(key, pid)
    assert url.startswith("/r/")
    page = site.client.get(url)
    assert page.status_code == 200
    assert _buttons(page.text) == ["More like this", "Not interested"]
    assert "“vision”" in page.text
    # Scraped text is escaped; the address and the subscription's links stay out (forwarding).
    assert "<script>alert" not in page.text
    assert (
        "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; Diffusion &amp; friends" in page.text
    )
    assert "<img" not in page.text
    assert "reader@example.org" not in page.text
    assert "/m/" not in page.text
    assert "/u/" not in page.text
    assert "set-cookie" not in page.headers
    assert page.headers["X-Frame-Options"] == "DENY"
    assert site.feedback.for_profiles([pid]) == {}


def test_a_post_records_without_a_cookie_the_latest_wins_and_undo(site: Site) -> None:
    key, pid = site.subscriber()
    url = site.url(key, pid)
    liked = site.client.post(url, data={"action": "like"})
    assert liked.status_code == 200
    assert "Noted: more papers like this one in your profile “vision”" in liked.text
    assert _buttons(liked.text) == ["More like this", "Not interested", "Undo"]
    assert "set-cookie" not in liked.headers
    assert site.feedback.for_profiles([pid]) == {pid: Signals((HOSTILE.arxiv_id,), ())}
    assert "You asked for more like this" in site.client.get(url).text
    rejected = site.client.post(url, data={"action": "reject"})
    assert "Noted: fewer papers like this one" in rejected.text
    assert site.feedback.for_profiles([pid]) == {pid: Signals((), (HOSTILE.arxiv_id,))}
    undone = site.client.post(url, data={"action": "undo"})
    assert undone.status_code == 200
    assert "Undone" in undone.text
    assert _buttons(undone.text) == ["More like this", "Not interested"]
    assert site.feedback.for_profiles([pid]) == {}
    again = site.client.post(url, data={"action": "undo"})  # twice is harmless
    assert again.status_code == 200


@pytest.mark.parametrize("body", [{"action": "love"}, {}])
def test_an_unknown_action_changes_nothing(site: Site, body: dict[str, str]) -> None:
    key, pid = site.subscriber()
    answer = site.client.post(site.url(key, pid), data=body)
    assert answer.status_code == 400
    assert "Nothing changed" in answer.text
    assert site.feedback.for_profiles([pid]) == {}


@pytest.mark.parametrize("kind", ["forged", "cross-purpose", "garbage", "bad-detail"])
def test_bad_links_get_a_clear_page(site: Site, kind: str) -> None:
    key, pid = site.subscriber()
    token = {
        "forged": Tokens("another-secret-0123456789abcdef").for_subscriber(
            Purpose.FEEDBACK, key, f"{pid}:{HOSTILE.arxiv_id}"
        ),
        "cross-purpose": Tokens(SECRET).for_subscriber(
            Purpose.FEED, key, f"{pid}:{HOSTILE.arxiv_id}"
        ),
        "garbage": "not.a.token",
        "bad-detail": Tokens(SECRET).for_subscriber(Purpose.FEEDBACK, key, "vision"),
    }[kind]
    for answer in (
        site.client.get(f"/r/{token}"),
        site.client.post(f"/r/{token}", data={"action": "like"}),
    ):
        assert answer.status_code == 400
        assert "This link does not work" in answer.text
    assert site.feedback.for_profiles([pid]) == {}


def test_a_rotated_key_gives_410(site: Site) -> None:
    key, pid = site.subscriber()
    url = site.url(key, pid)
    site.w.people.set_status("reader@example.org", "unsubscribed", NOW)  # rotates the key
    for answer in (site.client.get(url), site.client.post(url, data={"action": "like"})):
        assert answer.status_code == 410
        assert "This link is no longer valid" in answer.text
    assert site.feedback.for_profiles([pid]) == {}


def test_another_subscribers_profile_is_not_reachable(site: Site) -> None:
    key, _ = site.subscriber()
    _, theirs = site.subscriber("other@example.org")
    answer = site.client.post(site.url(key, theirs), data={"action": "like"})
    assert answer.status_code == 404
    assert site.feedback.for_profiles([theirs]) == {}


def test_a_removed_profile_or_an_unknown_paper_gets_a_clear_page(site: Site) -> None:
    key, pid = site.subscriber()
    unknown = site.url(key, pid, "2401.00001")
    for answer in (site.client.get(unknown), site.client.post(unknown, data={"action": "like"})):
        assert answer.status_code == 404
        assert "This paper is not here any more" in answer.text
    url = site.url(key, pid)
    shown = site.client.get(url)
    assert shown.status_code == 200
    site.w.people.remove_profile("reader@example.org", "vision")
    for answer in (site.client.get(url), site.client.post(url, data={"action": "reject"})):
        assert answer.status_code == 404
        assert "This profile was removed" in answer.text
    assert site.feedback.for_profiles([pid]) == {}


def _manage(site: Site, email: str = "reader@example.org") -> tuple[str, str, str]:
    """The manage page's path, its HTML and its CSRF field (the client keeps the cookie)."""
    subscriber = site.w.people.require(email)
    url = f"/m/{site.w.link(site.tokens, Purpose.MANAGE, subscriber.id)}"
    page = site.client.get(url)
    assert page.status_code == 200
    return url, page.text, csrf_of(page.text)


def test_the_manage_page_lists_rated_papers_and_undoes_them(site: Site) -> None:
    key, pid = site.subscriber()
    other = site.w.papers.list_papers(PaperFilter())[0]
    site.client.post(site.url(key, pid), data={"action": "like"})
    site.client.post(site.url(key, pid, other.arxiv_id), data={"action": "reject"})
    url, html, csrf = _manage(site)
    listed = html[html.index("Papers you rated for “vision”") :]
    liked = listed.index("More like these")
    rejected = listed.index("Not interested in these")
    escaped = "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; Diffusion &amp; friends"
    assert liked < listed.index(escaped) < rejected < listed.index(str(escape(other.title)))
    assert "<script>alert" not in html
    undo = f"{pid} {HOSTILE.arxiv_id}"
    assert f'value="{undo}"' in html
    # Another subscriber's profile cannot be reached through this page.
    _, theirs = site.subscriber("other@example.org")
    site.feedback.record(theirs, other.arxiv_id, Signal.LIKE, NOW)
    site.client.post(f"{url}/feedback", data={"csrf": csrf, "undo": f"{theirs} {other.arxiv_id}"})
    assert site.feedback.for_profiles([theirs]) == {theirs: Signals((other.arxiv_id,), ())}
    refused = site.client.post(f"{url}/feedback", data={"csrf": "forged", "undo": undo})
    assert refused.status_code == 403
    done = site.client.post(
        f"{url}/feedback", data={"csrf": csrf, "undo": undo}, follow_redirects=True
    )
    assert done.status_code == 200  # the redirect back, followed
    assert "Done: that paper no longer counts either way." in done.text
    assert site.feedback.for_profiles([pid]) == {pid: Signals((), (other.arxiv_id,))}


def test_a_profile_started_from_example_papers(site: Site) -> None:
    site.subscriber()
    url, html, csrf = _manage(site)
    assert "Paste arXiv ids you liked" in html
    for ids, error in (
        ("llama", "&#39;llama&#39; is not an arXiv id"),
        ("", "paste at least one arXiv id"),
        (" ".join(f"2401.{i:05d}" for i in range(21)), "too many example papers"),
    ):
        refused = site.client.post(f"{url}/examples", data={"csrf": csrf, "name": "x", "ids": ids})
        assert refused.status_code == 400
        assert error in refused.text
    taken = site.client.post(
        f"{url}/examples", data={"csrf": csrf, "name": "vision", "ids": "2401.00001"}
    )
    assert taken.status_code == 400
    assert "already has a profile named" in taken.text
    assert [p.name for p in site.w.people.profiles(_id(site))] == ["vision"]
    pasted = "https://arxiv.org/abs/2401.00001v2\n2402.00002, 2401.00001"
    made = site.client.post(
        f"{url}/examples", data={"csrf": csrf, "name": "", "ids": pasted}, follow_redirects=True
    )
    assert made.status_code == 200
    assert "it starts from the papers you gave" in made.text
    queries = {p.name: p.query for p in site.w.people.profiles(_id(site))}
    assert queries == {"vision": queries["vision"], "examples": "like:2401.00001,2402.00002"}


def _id(site: Site, email: str = "reader@example.org") -> int:
    return site.w.people.require(email).id


@pytest.mark.parametrize(
    ("query", "examples", "stored"),
    [
        ("", "arXiv:2401.00001v3 https://arxiv.org/abs/2402.00002", "like:2401.00001,2402.00002"),
        ("diffusion", "2401.00001", "(diffusion) OR like:2401.00001"),
        ("diffusion", "", "diffusion"),
    ],
)
def test_sign_up_may_start_from_example_papers(
    database_url: str, query: str, examples: str, stored: str
) -> None:
    with pages.site(database_url) as s, httpx.Client(base_url=s.base, event_hooks=s.hooks) as c:
        form = c.get("/signup").text
        assert "paste arXiv ids you liked" in form
        answer = sign_up(c, "new@example.org", query, examples=examples)
        assert answer.status_code == 200, answer.text
        pending = s.world.people.require("new@example.org")
        assert [p.query for p in s.world.people.profiles(pending.id)] == [stored]


def test_sign_up_refuses_bad_example_papers(database_url: str) -> None:
    with pages.site(database_url) as s, httpx.Client(base_url=s.base, event_hooks=s.hooks) as c:
        for query, examples, error in (
            ("", "llama <b>", "&#39;llama&#39; is not an arXiv id"),
            ("diffusion", " ".join(f"2401.{i:05d}" for i in range(21)), "too many example papers"),
            ("", "", "the query is empty"),  # neither words nor papers
        ):
            answer = sign_up(c, "new@example.org", query, examples=examples)
            assert answer.status_code == 400
            assert error in answer.text
            assert "<b>" not in answer.text
        assert s.world.people.get("new@example.org") is None


def test_more_like_this_in_a_browser_then_on_the_manage_page(browser: Any, sqlite_url: str) -> None:
    """Chromium, no JavaScript: the digest's link, the button, then the manage page's list."""
    ARTIFACTS.mkdir(exist_ok=True)
    with world(sqlite_url) as w:
        w.ingest((HOSTILE,), NOW - timedelta(hours=1))
        tokens = Tokens(SECRET, fixed_clock(NOW))
        links = LinkBuilder(tokens, "")
        sid = w.subscribe("reader@example.org")
        subscriber = w.people.by_id(sid)
        assert subscriber is not None
        (profile,) = w.people.profiles(sid)
        app = create_app(WebContext(w.engine, tokens, fixed_clock(NOW)))
        with serving(app) as base:
            page = browser.new_page(
                viewport={"width": 390, "height": 844}, java_script_enabled=False
            )
            page.goto(base + links.feedback(subscriber.link_key, profile.id, HOSTILE.arxiv_id))
            assert page.inner_text("h1") == "More papers like this one?"
            assert HOSTILE.title in page.inner_text("a.title")  # shown as text, never run
            page.screenshot(path=str(ARTIFACTS / "feedback-phone.png"), full_page=True)
            page.click("button:has-text('More like this')")
            assert "Noted: more papers like this one" in page.inner_text("[role=status]")
            assert page.locator("button:has-text('Undo')").count() == 1
            page.goto(base + links.manage(subscriber.link_key))
            rated = page.locator("form.said")
            assert "More like these" in rated.inner_text()
            assert HOSTILE.title in rated.locator(".paper.like").inner_text()
            page.screenshot(path=str(ARTIFACTS / "manage-rated-phone.png"), full_page=True)
            rated.locator("button:has-text('Undo')").click()
            assert (
                page.inner_text("[role=status]") == "Done: that paper no longer counts either way."
            )
            assert page.locator("form.said").count() == 0
            page.close()
