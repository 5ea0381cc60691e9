"""Issue 17's last parts of the pages, over HTTP against the real app and store: the manage
page's past digests, next send time, last-profile warning, "delete my data" and the feedback
links of its preview; the unsubscribe page's undo for a week (the old links stay dead); an
expired confirmation link and a failed cookie check that keep the sign-up form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from paperboy.clock import fixed_clock
from paperboy.tokens import Purpose, Tokens
from store.feedback import FeedbackStore, Signal
from store.types import PaperFilter
from tests.digests import latest_digest
from tests.pages import Site, csrf_of, site
from tests.world import SECRET


@pytest.fixture
def web(database_url: str) -> Iterator[tuple[Site, httpx.Client]]:
    with site(database_url) as s, httpx.Client(base_url=s.base, event_hooks=s.hooks) as client:
        yield s, client


def manage(s: Site, client: httpx.Client, sid: int) -> tuple[str, str]:
    url = f"/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"
    page = client.get(url)
    assert page.status_code == 200
    return url, csrf_of(page.text)


def test_past_digests_link_to_their_pages_and_the_next_send_time(
    web: tuple[Site, httpx.Client],
) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    url, _ = manage(s, client, sid)
    assert "No digest has been sent to you yet" in client.get(url).text
    assert s.world.dispatcher(now=s.clock.now).compose().composed == 1
    page = client.get(url).text
    listed = re.search(r'<ul class="past" id="past-digests">(.*?)</ul>', page, re.S)
    assert listed is not None
    links = re.findall(r'href="(/d/[^"]+)"', listed.group(1))
    assert len(links) == 1
    archive = client.get(links[0])
    assert archive.status_code == 200
    assert "reader@example.org" not in archive.text  # the archive page never names them
    # Today's digest is composed: the next one is tomorrow's, at their hour, in their zone.
    assert "Next digest: Friday 3 July at 08:00 (Europe/London time)." in page


def test_saving_the_settings_says_when_the_next_digest_comes(
    web: tuple[Site, httpx.Client],
) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    url, csrf = manage(s, client, sid)
    assert 'class="weekly-only"' in client.get(url).text
    settings = {
        "csrf": csrf,
        "time": "18:45",
        "zone": "Asia/Tokyo",
        "frequency": "weekly",
        "weekday": "fri",
        "max_papers": "7",
    }
    saved = client.post(f"{url}/settings", data=settings, follow_redirects=True)
    assert saved.status_code == 200
    flash = re.search(r'<p class="flash" role="status">([^<]*)</p>', saved.text)
    assert flash is not None
    assert flash.group(1) == (
        "Delivery settings saved. Next digest: Friday 3 July at 18:45 (Asia/Tokyo time)."
    )
    client.post(f"{url}/status", data={"csrf": csrf, "action": "pause"})
    paused = client.get(url).text
    assert "Next digest:" not in paused
    assert "No digest is coming while they are paused" in paused


def test_removing_the_last_profile_warns(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org", profiles={"a": "diffusion", "b": "agents"})
    url, csrf = manage(s, client, sid)
    remove = {"csrf": csrf, "query": "", "action": "remove"}
    one = client.post(f"{url}/profiles", data=remove | {"original": "a"}, follow_redirects=True)
    assert "Profile removed." in one.text
    assert 'id="no-profiles"' not in one.text
    last = client.post(f"{url}/profiles", data=remove | {"original": "b"}, follow_redirects=True)
    assert 'id="no-profiles"' in last.text
    assert "no digest will come until you add one" in last.text
    assert "Next digest:" not in last.text


def test_delete_my_data_erases_everything_after_a_confirmation(
    web: tuple[Site, httpx.Client],
) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    other = s.world.subscribe("other@example.org")
    s.world.dispatcher(now=s.clock.now).compose()
    assert latest_digest(s.world.ledger, sid) is not None
    url, _ = manage(s, client, sid)
    page = client.get(url).text
    found = re.search(r'href="([^"]+)" id="delete-data"', page)
    assert found is not None
    assert found.group(1) == f"{url}/delete"
    asked = client.get(f"{url}/delete")  # shows the button, erases nothing
    assert asked.status_code == 200
    assert "Delete my data" in asked.text
    assert s.world.people.by_id(sid) is not None
    with httpx.Client(base_url=s.base) as stranger:  # no cookie: refused
        assert stranger.post(f"{url}/delete", data={}).status_code == 403
    assert s.world.people.by_id(sid) is not None

    done = client.post(f"{url}/delete", data={"csrf": csrf_of(asked.text)})
    assert done.status_code == 200
    assert "Your data is deleted" in done.text
    assert s.world.people.get("reader@example.org") is None
    assert s.world.people.profiles(sid) == []
    assert latest_digest(s.world.ledger, sid) is None
    assert s.world.people.by_id(other) is not None  # only theirs
    assert latest_digest(s.world.ledger, other) is not None
    assert client.get(url).status_code == 410  # the link names nobody now


def test_unsubscribing_can_be_undone_for_a_week(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    old = f"/u/{s.world.link(s.tokens, Purpose.UNSUBSCRIBE, sid)}"
    manage_url = f"/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"
    with httpx.Client(base_url=s.base) as mail_client:  # RFC 8058: no cookie, no redirect
        done = mail_client.post(old, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "set-cookie" not in done.headers
    assert "You are unsubscribed" in done.text
    assert s.world.people.require("reader@example.org").status == "unsubscribed"
    found = re.search(r'<form method="get" action="(/u/[^"]+/undo)"', done.text)
    assert found is not None
    undo = found.group(1)
    assert not undo.startswith(old)  # a fresh link, for the new key
    assert client.get(old).status_code == 410  # the old links stay dead (issue 13)
    assert client.get(manage_url).status_code == 410

    shown = client.get(undo)  # a GET changes nothing
    assert shown.status_code == 200
    assert s.world.people.require("reader@example.org").status == "unsubscribed"
    with httpx.Client(base_url=s.base) as stranger:
        assert stranger.post(undo, data={}).status_code == 403
    back = client.post(undo, data={"csrf": csrf_of(shown.text)})
    assert back.status_code == 200
    assert "You are subscribed again" in back.text
    assert s.world.people.require("reader@example.org").status == "active"
    assert client.get(old).status_code == 410  # still dead after the undo
    again = client.post(undo, data={"csrf": csrf_of(shown.text)})
    assert "You are still subscribed" in again.text


def test_the_undo_ends_after_a_week(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    url, csrf = manage(s, client, sid)
    done = client.post(f"{url}/status", data={"csrf": csrf, "action": "unsubscribe"})
    found = re.search(r'action="(/u/[^"]+/undo)"', done.text)
    assert found is not None
    fresh = found.group(1).removesuffix("/undo")
    s.clock.advance(days=6, hours=23)
    assert 'action="/u/' in client.get(fresh).text  # the page still offers it
    s.clock.advance(hours=2)
    late = client.get(found.group(1))
    assert late.status_code == 410
    assert "too late to undo" in late.text
    assert "/signup" in late.text
    page = client.get(fresh)
    assert page.status_code == 200
    assert "You are unsubscribed" in page.text
    assert "/undo" not in page.text
    assert s.world.people.require("reader@example.org").status == "unsubscribed"


def test_the_preview_links_each_paper_to_its_feedback_page(
    web: tuple[Site, httpx.Client],
) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
    url, csrf = manage(s, client, sid)
    form = {"csrf": csrf, "original": "vision", "name": "vision", "query": "diffusion"}
    shown = client.post(f"{url}/profiles", data=form | {"action": "preview"})
    assert shown.status_code == 200
    rates = re.findall(r'<p class="muted rate"><a href="(/r/[^"]+)">', shown.text)
    assert rates
    page = client.get(rates[0])
    assert page.status_code == 200
    assert "More like this" in page.text
    assert "Not interested" in page.text
    assert "“vision”" in page.text


def test_an_expired_confirmation_link_offers_the_sign_up_form(
    web: tuple[Site, httpx.Client],
) -> None:
    s, client = web
    csrf = csrf_of(client.get("/signup").text)
    client.post("/signup", data={"csrf": csrf, "email": "slow@example.org", "query": "agents"})
    (mail,) = s.mails_to("slow@example.org")
    link = s.link_in(mail, "/c/")
    s.clock.advance(days=3, minutes=1)
    shown = client.get(link)
    for expired in (shown, client.post(link, data={"csrf": csrf_of(shown.text)})):
        assert expired.status_code == 400
        assert "This confirmation link has expired" in expired.text
        assert '<form method="post" action="/signup"' in expired.text
    assert s.world.people.require("slow@example.org").status == "pending"


def test_a_failed_cookie_check_keeps_what_was_typed(web: tuple[Site, httpx.Client]) -> None:
    s, _client = web
    typed = {"email": "new@example.org", "query": 'diffusion -"<survey>"', "zone": "Asia/Tokyo"}
    with httpx.Client(base_url=s.base, event_hooks=s.hooks) as fresh:  # no cookie yet
        refused = fresh.post("/signup", data=typed | {"csrf": "stale"})
        assert refused.status_code == 403
        assert "The form could not be accepted" in refused.text
        assert 'value="new@example.org"' in refused.text
        assert "diffusion -&#34;&lt;survey&gt;&#34;</textarea>" in refused.text
        assert '<option value="Asia/Tokyo" selected' in refused.text
        assert refused.text.index('role="alert"') < refused.text.index("<form")
        assert s.world.people.count() == 0
        # The answer set the cookie: sending the same form again works.
        sent = fresh.post("/signup", data=typed | {"csrf": csrf_of(refused.text)})
        assert sent.status_code == 200
        assert "Check your inbox" in sent.text
        link = fresh.post("/link", data={"csrf": "stale", "email": "me@example.org"})
    assert link.status_code == 403
    assert 'value="me@example.org"' in link.text
    assert s.world.people.get("new@example.org") is not None


HOSTILE_QUERY = 'diffusion -"<survey>" "<b>"'
REFUSED = re.compile(r'<p class="error" role="alert" id="refused">The form could not be accepted')


def _kept(answer: httpx.Response, *shown: str) -> None:
    """A refused post's page: 403, the reason above every form, each of ``shown`` in it."""
    assert answer.status_code == 403
    found = REFUSED.search(answer.text)
    assert found is not None, answer.text[:3000]
    assert found.start() < answer.text.index("<form")
    assert "send it again" in answer.text[found.start() :].split("</p>")[0]
    for text in shown:
        assert text in answer.text, text
    assert "<survey>" not in answer.text
    assert "<papers>" not in answer.text


@pytest.mark.parametrize("cookie", ["none", "stale"])
def test_a_failed_cookie_check_keeps_every_manage_form(
    web: tuple[Site, httpx.Client], cookie: str
) -> None:
    """Each form of the manage page (profiles, a new profile, examples, delivery, pause, the
    feedback undo) and the delete and undo pages: a post refused by the cookie check changes
    nothing and shows the page again with what was sent, escaped; sending it again works."""
    s, client = web
    sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
    (profile,) = s.world.people.profiles(sid)
    paper = s.world.papers.list_papers(PaperFilter())[0].arxiv_id
    feedback = FeedbackStore(s.world.engine)
    feedback.record(profile.id, paper, Signal.LIKE, s.clock.now)
    url, _ = manage(s, client, sid)
    edited = {"original": "vision", "name": "vision 2", "query": HOSTILE_QUERY}
    added = {"original": "", "name": "agents", "query": "agent* -<survey>"}
    settings = {
        "time": "18:45",
        "zone": "Asia/Tokyo",
        "frequency": "weekly",
        "weekday": "fri",
        "max_papers": "7",
        "send_empty": "1",
    }
    posts: list[tuple[str, dict[str, str], tuple[str, ...]]] = [
        (
            "profiles",
            edited | {"action": "save"},
            (
                'value="vision 2"',
                "diffusion -&#34;&lt;survey&gt;&#34; &#34;&lt;b&gt;&#34;</textarea>",
                'name="original" value="vision"',  # the stored name it edits
            ),
        ),
        (
            "profiles",
            added | {"action": "preview"},
            ('value="agents"', "agent* -&lt;survey&gt;</textarea>"),
        ),
        (
            "examples",
            {"name": "from <papers>", "ids": "2401.00001, <2402.00002>"},
            ('value="from &lt;papers&gt;"', "2401.00001, &lt;2402.00002&gt;</textarea>"),
        ),
        (
            "settings",
            settings,
            (
                'value="18:45"',
                '<option value="Asia/Tokyo" selected',
                '<option value="weekly" selected',
                '<option value="fri" selected',
                'value="7"',
                'name="send_empty" value="1" checked',
            ),
        ),
        ("status", {"action": "pause"}, ("Not done yet: you asked to pause digests",)),
        ("feedback", {"undo": f"{profile.id} {paper}"}, ("Not done yet: press Undo again.",)),
    ]
    for form, data, shown in posts:
        before = s.world.people.require("reader@example.org")
        profiles = s.world.people.profiles(sid)
        rated = feedback.entries(profiles[0].id)
        with httpx.Client(base_url=s.base, event_hooks=s.hooks) as other:
            if cookie == "stale":  # a cookie of its own, and a form from another session
                manage(s, other, sid)
            refused = other.post(f"{url}/{form}", data=data | {"csrf": "stale"})
            _kept(refused, *shown)
            if cookie == "none":
                assert "allow cookies for this site" in refused.text
            assert s.world.people.require("reader@example.org") == before
            assert s.world.people.profiles(sid) == profiles
            assert feedback.entries(profiles[0].id) == rated
            # The answer set the cookie and the page's fields: sending it again works.
            again = other.post(f"{url}/{form}", data=data | {"csrf": csrf_of(refused.text)})
            assert again.status_code != 403, (form, again.text)
    now = s.world.people.require("reader@example.org")
    assert (now.status, now.time_zone, now.send_hour, now.max_papers) == (
        "paused",
        "Asia/Tokyo",
        18,
        7,
    )
    assert [(p.name, p.query) for p in s.world.people.profiles(sid)] == [
        ("vision 2", 'diffusion -"<survey>" "<b>"')
    ]
    assert feedback.entries(profile.id) == []

    delete = f"{url}/delete"
    with httpx.Client(base_url=s.base, event_hooks=s.hooks) as other:
        refused = other.post(delete, data={"csrf": "stale"})
        _kept(refused, "Delete your data?", f'action="{url}/delete"')
        assert s.world.people.get("reader@example.org") is not None
        assert other.post(delete, data={"csrf": csrf_of(refused.text)}).status_code == 200
    assert s.world.people.get("reader@example.org") is None

    gone = s.world.subscribe("gone@example.org")
    one_click = f"/u/{s.world.link(s.tokens, Purpose.UNSUBSCRIBE, gone)}"
    left = client.post(one_click, content="List-Unsubscribe=One-Click")
    found = re.search(r'action="(/u/[^"]+/undo)"', left.text)
    assert found is not None
    with httpx.Client(base_url=s.base, event_hooks=s.hooks) as other:
        refused = other.post(found.group(1), data={"csrf": "stale"})
        _kept(refused, "Subscribe again?")
        assert s.world.people.require("gone@example.org").status == "unsubscribed"
        assert other.post(found.group(1), data={"csrf": csrf_of(refused.text)}).status_code == 200
    assert s.world.people.require("gone@example.org").status == "active"


def test_a_refused_post_for_a_dead_link_shows_only_the_link_page(
    web: tuple[Site, httpx.Client],
) -> None:
    """What was sent comes back only to the link's owner: a forged manage link whose form
    fails the cookie check gets the bad-link page, not the manage page."""
    s, _ = web
    with httpx.Client(base_url=s.base, event_hooks=s.hooks) as other:
        refused = other.post(
            "/m/forged.token.here/settings", data={"csrf": "stale", "zone": "Asia/Tokyo"}
        )
    assert refused.status_code == 400
    assert "This link does not work" in refused.text
    assert "Asia/Tokyo" not in refused.text


def test_an_expired_confirmation_link_fills_in_the_address(
    web: tuple[Site, httpx.Client],
) -> None:
    """The sign-up form an expired link offers has the address it was mailed to (escaped);
    a forged or cross-purpose token, or one whose sign-up is gone, fills in nothing."""
    s, client = web
    address = "tom&jerry@example.org"
    filled = 'value="tom&amp;jerry@example.org"'
    csrf = csrf_of(client.get("/signup").text)
    client.post("/signup", data={"csrf": csrf, "email": address, "query": "agents"})
    (mail,) = s.mails_to(address)
    link = s.link_in(mail, "/c/")
    token = link.rsplit("/", 1)[1]
    assert filled not in client.get(link).text  # still valid: the confirm page, not the form
    s.clock.advance(days=3, minutes=1)
    shown = client.get(link)
    for expired in (shown, client.post(link, data={"csrf": csrf_of(shown.text)})):
        assert expired.status_code == 400
        assert "This confirmation link has expired" in expired.text
        assert filled in expired.text
        assert "tom&jerry" not in expired.text
    key = s.world.people.require(address).link_key
    then = s.clock.now - timedelta(days=4)
    strangers = Tokens("another-secret-key-0123456789abcdef", fixed_clock(then))
    ours = Tokens(SECRET, fixed_clock(then))
    for wrong in (
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),  # the signature
        strangers.for_subscriber(Purpose.CONFIRM, key),  # signed with another secret
        ours.for_subscriber(Purpose.MANAGE, key),  # another purpose's token
    ):
        answer = client.get(f"/c/{wrong}")
        assert answer.status_code == 400
        assert "This link does not work" in answer.text
        assert "jerry" not in answer.text
    # Its sign-up erased (or signed up again: the key rotated), the link names nobody.
    s.world.people.forget(address)
    gone = client.get(link)
    assert "This confirmation link has expired" in gone.text
    assert "jerry" not in gone.text
