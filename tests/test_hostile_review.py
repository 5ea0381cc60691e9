"""A hostile review of the pages added for matching by meaning and feedback, through the real
app: the search box's about:/like: (model time per request), cache headers on the signed pages,
huge bodies on the feedback page."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import message_from_bytes
from typing import cast

import httpx
import pytest

from mailer.message import build
from mailer.render import DigestRenderer
from mailer.types import OutgoingEmail
from paperboy import digest as digests
from paperboy.clock import fixed_clock
from paperboy.links import LinkBuilder
from paperboy.profiles.matcher import Matcher, ProfileSpec
from paperboy.semantic.runtime import Semantics
from paperboy.tokens import Tokens
from paperboy.web.app import WebContext, create_app
from paperboy.web.manage import MAX_PROFILES
from paperboy.web.security import DEFAULT_LIMITS, Limit
from scraper.models import ScrapedPaper
from store.feedback import FeedbackStore
from tests.pages import csrf_of
from tests.papers import saved_papers
from tests.test_semantic_query import FakeMeaning
from tests.web_server import serving
from tests.world import NOW, SECRET, World, world

HOSTILE = ScrapedPaper(
    arxiv_id="2607.99998",
    title='<script>alert("t")</script> Diffusion <b>bold</b> & friends',
    upvotes=3,
    summary="<img src=x onerror=alert(1)> a diffusion model",
)


class CountingSemantics:
    """The app's Semantics with a fake Meaning that counts what it is asked."""

    model_id = "fake-model"

    def __init__(self) -> None:
        self.fake = FakeMeaning()

    def meaning(self) -> FakeMeaning:
        return self.fake


@contextmanager
def served(
    database_url: str, limits: dict[str, Limit] | None = None
) -> Iterator[tuple[httpx.Client, World, LinkBuilder, CountingSemantics]]:
    with world(database_url) as w:
        w.ingest((HOSTILE,), NOW - timedelta(hours=1))
        tokens = Tokens(SECRET, fixed_clock(NOW))
        semantics = CountingSemantics()
        context = WebContext(
            w.engine,
            tokens,
            fixed_clock(NOW),
            limits=limits or dict(DEFAULT_LIMITS),
            semantics=cast(Semantics, semantics),
        )
        with serving(create_app(context)) as base, httpx.Client(base_url=base) as client:
            yield client, w, LinkBuilder(tokens, ""), semantics


def test_topic_searches_on_the_public_page_are_rate_limited(sqlite_url: str) -> None:
    """Each new about: text costs model time (and a stored vector): an anonymous visitor must
    not get it without limit. The preview's per-network limit covers the search box too."""
    limits = {**DEFAULT_LIMITS, "preview": Limit(3, timedelta(minutes=1))}
    with served(sqlite_url, limits) as (client, _, _, semantics):
        for i in range(3):
            answer = client.get("/", params={"q": f'about:"topic number {i}"'})
            assert answer.status_code == 200
        asked = len(semantics.fake.asked)
        assert asked == 3
        refused = client.get("/", params={"q": 'about:"one topic more" OR like:2607.99998'})
        assert refused.status_code == 429
        assert "Too many searches" in refused.text
        assert len(semantics.fake.asked) == asked  # the model was not asked
        # a plain word search costs no model time: still answered
        assert client.get("/", params={"q": "diffusion"}).status_code == 200


def test_search_escapes_a_hostile_title_and_the_reflected_query(sqlite_url: str) -> None:
    with served(sqlite_url) as (client, _, _, _):
        answer = client.get("/", params={"q": 'diffusion OR "<script>x</script>"'})
        assert answer.status_code == 200
        assert "<script>alert" not in answer.text
        assert "<script>x" not in answer.text
        assert "<b>bold</b>" not in answer.text
        assert "<img src=x" not in answer.text


def test_signed_pages_are_not_kept_by_caches(sqlite_url: str) -> None:
    """A feedback or manage page is reached by a secret link and names a profile (the manage
    page the address): no shared or browser cache may keep it."""
    with served(sqlite_url) as (client, w, links, _):
        sid = w.subscribe("reader@example.org")
        subscriber = w.people.by_id(sid)
        assert subscriber is not None
        (profile,) = w.people.profiles(sid)
        for url in (
            links.feedback(subscriber.link_key, profile.id, HOSTILE.arxiv_id),
            links.manage(subscriber.link_key),
        ):
            answer = client.get(url)
            assert answer.status_code == 200, url
            assert "no-store" in answer.headers.get("cache-control", ""), url


def test_a_huge_feedback_post_is_refused_and_records_nothing(sqlite_url: str) -> None:
    with served(sqlite_url) as (client, w, links, _):
        sid = w.subscribe("reader@example.org")
        subscriber = w.people.by_id(sid)
        assert subscriber is not None
        (profile,) = w.people.profiles(sid)
        url = links.feedback(subscriber.link_key, profile.id, HOSTILE.arxiv_id)
        answer = client.post(url, data={"action": "like", "pad": "x" * 3_000_000})
        assert 400 <= answer.status_code < 500
        assert FeedbackStore(w.engine).for_profiles([profile.id]) == {}


@pytest.mark.parametrize("action", ["LIKE", "like ", "undo\r\nlike", "x" * 10_000])
def test_a_feedback_post_without_a_known_action_changes_nothing(
    sqlite_url: str, action: str
) -> None:
    with served(sqlite_url) as (client, w, links, _):
        sid = w.subscribe("reader@example.org")
        subscriber = w.people.by_id(sid)
        assert subscriber is not None
        (profile,) = w.people.profiles(sid)
        url = links.feedback(subscriber.link_key, profile.id, HOSTILE.arxiv_id)
        answer = client.post(url, data={"action": action})
        assert answer.status_code == 400
        assert "x" * 100 not in answer.text  # the action is not echoed
        assert FeedbackStore(w.engine).for_profiles([profile.id]) == {}


def _manage(client: httpx.Client, links: LinkBuilder, link_key: str) -> tuple[str, str]:
    url = links.manage(link_key)
    page = client.get(url)
    assert page.status_code == 200
    return url, csrf_of(page.text)


def test_the_manage_page_adds_no_profiles_without_end(sqlite_url: str) -> None:
    """Every profile is matched (the model asked) on every digest run: a link holder may not
    add thousands through the examples or the profile form."""
    with served(sqlite_url) as (client, w, links, _):
        sid = w.subscribe("reader@example.org")
        subscriber = w.people.by_id(sid)
        assert subscriber is not None
        url, csrf = _manage(client, links, subscriber.link_key)
        for i in range(MAX_PROFILES - 1):  # "vision" is the first
            added = client.post(
                f"{url}/examples", data={"csrf": csrf, "name": f"p{i}", "ids": HOSTILE.arxiv_id}
            )
            assert added.status_code == 303, added.text  # back to the page
        over = client.post(
            f"{url}/examples", data={"csrf": csrf, "name": "one more", "ids": HOSTILE.arxiv_id}
        )
        assert over.status_code == 400
        assert f"at most {MAX_PROFILES} profiles" in over.text
        typed = client.post(
            f"{url}/profiles", data={"csrf": csrf, "name": "two more", "query": 'about:"agents"'}
        )
        assert typed.status_code == 400
        assert f"at most {MAX_PROFILES} profiles" in typed.text
        assert len(w.people.profiles(sid)) == MAX_PROFILES
        edited = client.post(  # editing one is still allowed
            f"{url}/profiles",
            data={"csrf": csrf, "original": "p0", "name": "p0", "query": "diffusion"},
        )
        assert edited.status_code == 303
        assert [p.query for p in w.people.profiles(sid) if p.name == "p0"] == ["diffusion"]


def test_the_manage_pages_topic_previews_are_rate_limited(sqlite_url: str) -> None:
    limits = {**DEFAULT_LIMITS, "preview": Limit(2, timedelta(minutes=1))}
    with served(sqlite_url, limits) as (client, w, links, semantics):
        sid = w.subscribe("reader@example.org")
        subscriber = w.people.by_id(sid)
        assert subscriber is not None
        url, csrf = _manage(client, links, subscriber.link_key)
        for i in range(2):
            shown = client.post(
                f"{url}/profiles",
                data={
                    "csrf": csrf,
                    "name": "t",
                    "query": f'about:"topic {i}"',
                    "action": "preview",
                },
            )
            assert shown.status_code == 200
        asked = len(semantics.fake.asked)
        refused = client.post(
            f"{url}/profiles",
            data={"csrf": csrf, "name": "t", "query": 'about:"topic 9"', "action": "preview"},
        )
        assert refused.status_code == 429
        assert len(semantics.fake.asked) == asked
        plain = client.post(
            f"{url}/profiles",
            data={"csrf": csrf, "name": "t", "query": "diffusion", "action": "preview"},
        )
        assert plain.status_code == 200


def test_the_mails_why_and_preheader_escape_scraped_text() -> None:
    """A "Why:" sentence is quoted from a scraped abstract and the preheader lists scraped
    titles: markup in either is text in the HTML part, and no line of the text part can
    start a header."""
    hostile = '<img src=x onerror=alert(1)> "video generation" </p><script>x</script>\r\nBcc: a@b.c'
    papers = [dataclasses.replace(p, title=f"{hostile} {p.title}") for p in saved_papers()[:12]]
    specs = [ProfileSpec(1, 1, "vision", 'diffusion OR "video generation" OR agent*')]
    selection = digests.select(Matcher(specs).match(papers).for_subscriber(1), 10)
    links = LinkBuilder(Tokens(SECRET, fixed_clock(NOW)), "https://p.example.org")
    content = digests.content(
        "reader@example.org",
        "2026-07-02",
        selection,
        links.digest_links("k" * 32, "2026-07-02"),
        {},
        now=NOW,
    )
    assert "<img" in content.preheader  # the scraped title reached it
    first = content.sections[0]
    reasoned = dataclasses.replace(
        first.papers[0], reasons=(f"“{hostile}”",), reasons_text=f"  Why: “{hostile}”"
    )
    first = dataclasses.replace(first, papers=(reasoned, *first.papers[1:]))
    content = dataclasses.replace(content, sections=(first, *content.sections[1:]))
    html, text = DigestRenderer().render(content)
    assert "<img src=x" not in html
    assert "<script>x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # The subject names the top paper: its CR LF cannot start a header of the built message.
    mail = OutgoingEmail(
        "reader@example.org",
        digests.subject(selection, "2026-07-02"),
        text,
        html,
        "<m@p.org>",
        "https://p.example.org/u/x",
        "mailto:u@p.example.org",
    )
    built = build(mail, sender="p@p.example.org", list_id="p.example.org", date=NOW)
    parsed = message_from_bytes(built)
    assert parsed["Bcc"] is None
    assert "<img src=x" in text  # the text part shows the title as it is: no markup there
