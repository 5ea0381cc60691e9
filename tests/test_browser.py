"""The pages in a real browser: Playwright driving Debian's Chromium (launched by path), on a
phone-sized and a desktop-sized window; screenshots are kept in test-artifacts/ to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperboy.clock import fixed_clock
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
from tests.digests import latest_digest
from tests.pages import site as web_site
from tests.test_web_pages import confirm_link
from tests.web_server import serving
from tests.world import NOW, SECRET, World, world

ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed here")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(sqlite_url: str) -> Iterator[tuple[str, World, Tokens]]:
    with world(sqlite_url) as w:
        tokens = Tokens(SECRET, fixed_clock(NOW))
        engine = w.engine
        with serving(create_app(WebContext(engine, tokens, fixed_clock(NOW)))) as base:
            yield base, w, tokens


@pytest.mark.parametrize("size", SIZES)
def test_unsubscribe_with_one_click_in_a_browser(
    browser: object, site: tuple[str, World, Tokens], size: str
) -> None:
    base, w, tokens = site
    sid = w.subscribe("reader@example.org")
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height}, java_script_enabled=False)  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{base}/u/{w.link(tokens, Purpose.UNSUBSCRIBE, sid)}")
    assert page.inner_text("h1") == "Unsubscribe?"
    page.screenshot(path=str(ARTIFACTS / f"unsubscribe-{size}.png"), full_page=True)
    assert w.people.require("reader@example.org").status == "active"
    page.click("button")  # a plain form POST: no JavaScript needed
    assert page.inner_text("h1") == "You are unsubscribed"
    page.screenshot(path=str(ARTIFACTS / f"unsubscribed-{size}.png"), full_page=True)
    assert w.people.require("reader@example.org").status == "unsubscribed"
    page.close()


def test_the_archived_digest_in_a_browser(browser: object, site: tuple[str, World, Tokens]) -> None:
    base, w, tokens = site
    sid = w.subscribe("reader@example.org", hour=8)
    w.dispatcher().compose()
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    for size, (width, height) in SIZES.items():
        page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
        page.goto(f"{base}/d/{w.link(tokens, Purpose.ARCHIVE, sid, digest.period)}")
        titles = page.locator("a.title")
        assert titles.count() == len(digest.paper_ids)  # every paper, not only those mailed
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
        page.screenshot(path=str(ARTIFACTS / f"digest-{size}.png"))
        page.close()


def _fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "sideways scroll"


@pytest.mark.parametrize("size", SIZES)
def test_sign_up_confirm_edit_and_unsubscribe_in_a_browser(
    browser: Any, sqlite_url: str, size: str
) -> None:
    width, height = SIZES[size]
    address = f"{size}.reader@example.org"
    ARTIFACTS.mkdir(exist_ok=True)
    with web_site(sqlite_url) as s:
        context = browser.new_context(
            viewport={"width": width, "height": height}, timezone_id="Asia/Tokyo"
        )
        page = context.new_page()

        def shot(name: str) -> None:
            _fits(page, width)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)

        page.goto(f"{s.base}/signup")
        assert page.input_value("#zone") == "Asia/Tokyo"  # pages.js: the browser's own zone
        page.fill("#email", address)
        page.fill("#query", "diffusion")
        page.wait_for_selector("[data-preview-target] mark")  # the live preview
        shot("signup")
        page.click("form button[type=submit]")
        assert page.inner_text("h1") == "Check your inbox"
        shot("check-inbox")

        page.goto(confirm_link(s, address))  # the mail arrived in the in-process SMTP server
        assert s.world.people.require(address).status == "pending"
        shot("confirm")
        page.click("form button")
        assert page.inner_text("h1") == "You are subscribed"
        subscriber = s.world.people.require(address)
        assert (subscriber.status, subscriber.time_zone) == ("active", "Asia/Tokyo")

        assert page.locator("a[href*='/m/']").count() == 0  # a confirmation only confirms
        page.goto(
            f"{s.base}/m/{s.world.link(s.tokens, Purpose.MANAGE, subscriber.id)}"
        )  # a digest's link
        assert page.inner_text("h1") == "Your Paperboy digest"
        before = page.inner_text("#profile-1 [data-preview-target]")
        page.fill("#query-1", '"video generation"')
        page.wait_for_function(
            "before => document.querySelector('#profile-1 [data-preview-target]').innerText"
            " !== before",
            arg=before,
        )
        assert (
            "video generation" in page.inner_text("#profile-1 [data-preview-target] mark").lower()
        )
        shot("manage-preview")
        page.click("#profile-1 button[value=save]")
        assert "Profile saved." in page.inner_text(".flash")
        assert [p.query for p in s.world.people.profiles(subscriber.id)] == ['"video generation"']

        page.fill("#query-1", "video AND (")
        page.click("#profile-1 button[value=save]")
        assert "at column" in page.inner_text("#profile-1 .error")  # shown inline, nothing saved
        assert [p.query for p in s.world.people.profiles(subscriber.id)] == ['"video generation"']
        shot("manage-error")

        page.goto(f"{s.base}/u/{s.world.link(s.tokens, Purpose.UNSUBSCRIBE, subscriber.id)}")
        page.click("form button")
        assert page.inner_text("h1") == "You are unsubscribed"
        assert s.world.people.require(address).status == "unsubscribed"
        shot("unsubscribed-after-flow")
        context.close()


def test_the_pages_work_without_javascript(browser: Any, sqlite_url: str) -> None:
    with web_site(sqlite_url) as s:
        sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
        page = browser.new_page(java_script_enabled=False)
        page.goto(f"{s.base}/signup")
        assert page.input_value("#zone") == "UTC"  # no script: a plain default
        page.goto(f"{s.base}/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}")
        page.fill("#query-1", "agent*")
        page.click("#profile-1 button[value=preview]")  # a plain form post renders the preview
        assert page.locator("#profile-1 [data-preview-target] mark").count() > 0
        assert [p.query for p in s.world.people.profiles(sid)] == ["diffusion"]
        page.click("#profile-1 button[value=save]")
        assert [p.query for p in s.world.people.profiles(sid)] == ["agent*"]
        page.close()


SCHEMES = ("light", "dark")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("size", SIZES)
def test_search_sign_up_and_errors_on_phone_and_desktop_light_and_dark(
    browser: Any, sqlite_url: str, size: str, scheme: str
) -> None:
    """Issue 17's screens: the search box on /, the sign-up's preview and error under the
    query box, 'Weekly on' for weekly digests only, an error page; in both colour schemes."""
    width, height = SIZES[size]
    ARTIFACTS.mkdir(exist_ok=True)
    with web_site(sqlite_url) as s:
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme
        )
        page = context.new_page()

        def shot(name: str) -> None:
            _fits(page, width)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{size}-{scheme}.png"), full_page=True)

        background = page.goto(f"{s.base}/") and page.evaluate(
            "getComputedStyle(document.body).backgroundColor"
        )
        assert (background == "rgb(11, 17, 32)") == (scheme == "dark")
        shot("recent")
        page.fill("#q", 'diffusion OR "video generation"')
        page.click("form.search button")
        assert "papers match" in page.inner_text("h1")
        assert page.locator(".paper mark").count() > 0
        assert page.input_value("#q") == 'diffusion OR "video generation"'
        shot("search")
        page.fill("#q", "diffusion AND (video")
        page.click("form.search button")
        assert "at column" in page.inner_text("#q-error")
        assert page.locator("#q-error mark.at").count() == 1
        shot("search-error")

        page.goto(f"{s.base}/signup")
        assert not page.is_visible("#weekday")  # daily by default
        page.select_option("#frequency", "weekly")
        assert page.is_visible("#weekday")
        page.select_option("#frequency", "daily")
        page.fill("#query", "diffusion AND (")
        page.wait_for_selector("[data-preview-target] .error")
        box = page.locator("#query").bounding_box()
        error = page.locator("[data-preview-target] .error").bounding_box()
        button = page.locator("form button[type=submit]").bounding_box()
        assert box
        assert error
        assert button
        assert 0 <= error["y"] - (box["y"] + box["height"]) < 40  # right under the box
        assert error["y"] + error["height"] <= height  # on screen without scrolling
        assert error["y"] < button["y"]
        shot("signup-error")
        page.fill("#query", "diffusion")
        page.wait_for_selector("[data-preview-target] mark")
        found = page.locator("[data-preview-target]").bounding_box()
        assert found
        assert found["y"] < button["y"]
        shot("signup-preview")

        answer = page.goto(f"{s.base}/no/such/page")
        assert answer is not None
        assert answer.status == 404
        assert page.inner_text("h1") == "Not found"
        assert page.locator("a[href='/']").count() >= 1
        shot("not-found")
        context.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("size", SIZES)
def test_manage_delete_and_undo_on_phone_and_desktop_light_and_dark(
    browser: Any, sqlite_url: str, size: str, scheme: str
) -> None:
    """Issue 17's manage page: past digests, the next send time, 'Weekly on' for weekly only,
    the preview's feedback links, the last-profile warning, 'delete my data' and the undo of an
    unsubscription; and the sign-up form an expired confirmation link shows."""
    width, height = SIZES[size]
    ARTIFACTS.mkdir(exist_ok=True)
    with web_site(sqlite_url) as s:
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme
        )
        page = context.new_page()

        def shot(name: str) -> None:
            _fits(page, width)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{size}-{scheme}.png"), full_page=True)

        sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
        s.world.dispatcher(now=s.clock.now).compose()
        manage = f"{s.base}/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"
        page.goto(manage)
        assert page.locator("#past-digests a").count() == 1
        assert "Next digest: Friday 3 July at 08:00" in page.inner_text("#next-digest")
        assert not page.is_visible("#weekday")
        page.select_option("#frequency", "weekly")
        assert page.is_visible("#weekday")
        page.select_option("#weekday", "fri")
        page.click("form[action$='/settings'] button[type=submit]")
        assert "Next digest: Friday 3 July at 08:00" in page.inner_text(".flash")
        shot("manage-saved")
        page.click("#profile-1 button[value=preview]")
        rate = page.locator("#profile-1 .rate a").first
        assert rate.is_visible()
        shot("manage-preview")
        page.locator("#past-digests a").first.click()
        assert page.locator("a.title").count() > 0
        page.goto(manage)
        page.click("#profile-1 button[value=remove]")
        assert page.is_visible("#no-profiles")
        shot("manage-no-profiles")

        page.click("#delete-data")
        assert page.inner_text("h1") == "Delete your data?"
        shot("delete-confirm")
        page.click("button.danger")
        assert page.inner_text("h1") == "Your data is deleted"
        assert s.world.people.get("reader@example.org") is None
        shot("deleted")

        other = s.world.subscribe("other@example.org")
        page.goto(f"{s.base}/u/{s.world.link(s.tokens, Purpose.UNSUBSCRIBE, other)}")
        page.click("button")
        assert page.inner_text("h1") == "You are unsubscribed"
        shot("unsubscribed-undo")
        page.click("#undo button")
        assert page.inner_text("h1") == "Subscribe again?"
        shot("undo-confirm")
        page.click("button[type=submit]")
        assert page.inner_text("h1") == "You are subscribed again"
        assert s.world.people.require("other@example.org").status == "active"

        page.goto(f"{s.base}/signup")
        page.fill("#email", "slow@example.org")
        page.fill("#query", "diffusion")
        page.click("form button[type=submit]")
        link = confirm_link(s, "slow@example.org")
        s.clock.advance(days=4)
        page.goto(link)
        assert "This confirmation link has expired" in page.inner_text("[role=alert]")
        assert page.input_value("#email") == "slow@example.org"  # the address it was mailed to
        shot("confirm-expired")
        context.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("size", SIZES)
def test_a_refused_manage_form_keeps_what_was_typed_in_a_browser(
    browser: Any, sqlite_url: str, size: str, scheme: str
) -> None:
    """The cookie lost between showing the manage page and sending a form (cleared, expired):
    the page comes back with the reason at its top and the typing in its fields, and sending
    it again saves it."""
    width, height = SIZES[size]
    ARTIFACTS.mkdir(exist_ok=True)
    with web_site(sqlite_url) as s:
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme
        )
        page = context.new_page()
        sid = s.world.subscribe("reader@example.org", profiles={"vision": "diffusion"})
        page.goto(f"{s.base}/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}")
        page.fill("#query-2", 'agent* -"<survey>"')
        page.fill("#name-2", "agents")
        context.clear_cookies()
        page.click("#profile-2 button[value=save]")
        refused = page.locator("#refused")
        assert "allow cookies for this site and send it again" in refused.inner_text()
        box = refused.bounding_box()
        assert box
        assert box["y"] + box["height"] <= height  # on screen without scrolling
        assert page.input_value("#name-2") == "agents"
        assert page.input_value("#query-2") == 'agent* -"<survey>"'
        assert "Not done yet" in page.inner_text("#profile-2 .error")
        _fits(page, width)
        page.screenshot(path=str(ARTIFACTS / f"manage-refused-{size}-{scheme}.png"), full_page=True)
        assert [p.name for p in s.world.people.profiles(sid)] == ["vision"]
        page.click("#profile-2 button[value=save]")
        assert page.inner_text(".flash") == "Profile saved."
        assert sorted(p.name for p in s.world.people.profiles(sid)) == ["agents", "vision"]

        page.click("#delete-data")  # a button-only form: the same page, its reason on top
        context.clear_cookies()
        page.click("button.danger")
        assert page.inner_text("h1") == "Delete your data?"
        assert "send it again" in page.inner_text("#refused")
        _fits(page, width)
        page.screenshot(path=str(ARTIFACTS / f"delete-refused-{size}-{scheme}.png"), full_page=True)
        assert s.world.people.get("reader@example.org") is not None
        page.click("button.danger")
        assert page.inner_text("h1") == "Your data is deleted"
        context.close()
