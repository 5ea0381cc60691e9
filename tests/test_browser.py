"""The pages in a real browser: Playwright driving Debian's Chromium (launched by path), on a
phone-sized and a desktop-sized window; screenshots are kept in test-artifacts/ to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperboy.clock import fixed_clock
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
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
        engine = w.papers._engine
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
    page.goto(f"{base}/u/{tokens.make(Purpose.UNSUBSCRIBE, sid)}")
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
    digest = w.ledger.latest_digest(sid)
    assert digest is not None
    for size, (width, height) in SIZES.items():
        page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
        page.goto(f"{base}/d/{tokens.make(Purpose.ARCHIVE, f'{sid}:{digest.period}')}")
        titles = page.locator("a.title")
        assert titles.count() == digest.shown
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
        page.screenshot(path=str(ARTIFACTS / f"digest-{size}.png"))
        page.close()
