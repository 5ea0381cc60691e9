"""Issue 17's finish of the digest mail: preheader, labelled AI summary, thumbnails, tap targets,
wrapped plain text, the footer's next send time, each paper's feedback link and its reasons;
the HTML measured in Chromium on a phone and a desktop, light and dark."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from mailer.render import DigestRenderer
from mailer.types import DigestContent
from paperboy import digest as digests
from paperboy.clock import fixed_clock
from paperboy.links import FeedbackLink, LinkBuilder
from paperboy.profiles.matcher import Match, Matcher, ProfileSpec
from paperboy.schedule import Timing
from paperboy.tokens import Purpose, TokenError, Tokens
from paperboy.upcoming import next_send
from paperboy.web.app import WebContext, create_app
from tests.digests import latest_digest
from tests.papers import saved_papers
from tests.web_server import serving
from tests.world import NOW as WORLD_NOW
from tests.world import world

NOW = datetime(2026, 7, 2, 9, 30, tzinfo=UTC)  # a Thursday; 10:30 in London
KEY = "finish-link-key-000001"
LONDON = Timing("Europe/London", 8, "daily")
SECRET = "test-secret-key-0123456789abcdef"
ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}


def builder() -> LinkBuilder:
    return LinkBuilder(Tokens(SECRET, lambda: NOW), "https://paperboy.example.org")


def matches(limit: int = 10) -> digests.Selection:
    specs = [
        ProfileSpec(1, 1, "vision", 'diffusion OR "video generation"'),
        ProfileSpec(2, 1, "agents", "agent*"),
    ]
    return digests.select(Matcher(specs).match(saved_papers()).for_subscriber(1), limit)


def rendered(selection: digests.Selection, **options: Any) -> tuple[DigestContent, str, str]:
    links = builder().digest_links(KEY, "2026-07-02")
    content = digests.content(
        "reader@example.org", "2026-07-02", selection, links, {}, timing=LONDON, now=NOW, **options
    )
    html, text = DigestRenderer().render(content)
    return content, html, text


# -- preheader, labels, thumbnails ---------------------------------------------------------------


def test_the_preheader_says_what_is_inside_and_comes_first() -> None:
    content, html, _ = rendered(matches())
    counts = {s.profile: s.papers for s in content.sections}
    assert set(counts) == {"vision", "agents"}
    assert re.match(r"\d+ for vision, \d+ for agents\. Also inside: \S", content.preheader)
    assert len(content.preheader) <= digests.PREHEADER_LIMIT
    body = LexborHTMLParser(html).body
    assert body is not None
    first = body.css_first("div")
    assert first is not None
    assert first.attributes.get("class") == "preheader"  # what a mail app reads first
    assert "display: none" in (first.attributes.get("style") or "")
    assert first.text().startswith(content.preheader)


def test_a_nothing_note_says_when_the_next_digest_comes() -> None:
    empty = digests.select([], 10)
    content, _, text = rendered(empty)
    assert content.preheader == (
        "No new paper matched your profiles this time. "
        "The next digest comes on Friday 3 July at 08:00."
    )
    assert "Change that or" not in text


def test_the_ai_summary_is_labelled_as_a_machine_summary() -> None:
    papers = saved_papers()
    ai = next(p for p in papers if p.ai_summary)
    summarised = digests.paper_entry(ai)
    assert summarised.blurb_label == digests.AI_SUMMARY
    abstract = digests.paper_entry(dataclasses.replace(ai, ai_summary=None))
    assert abstract.blurb_label == "Abstract"
    assert f"{digests.AI_SUMMARY}: " in summarised.text


def test_thumbnails_small_beside_the_title_or_none() -> None:
    selection = matches()
    _, html, _ = rendered(selection)
    thumbs = LexborHTMLParser(html).css("img.thumb")
    assert thumbs, "the saved papers carry thumbnails"
    for img in thumbs:
        assert img.attributes.get("width") == "88"
        assert "float: right" in (img.attributes.get("style") or "")
    _, html, _ = rendered(selection, thumbnails=False)
    assert LexborHTMLParser(html).css("img") == []


# -- plain text ----------------------------------------------------------------------------------


def test_the_plain_text_is_wrapped_and_urls_stay_whole() -> None:
    _, _, text = rendered(matches())
    for line in text.splitlines():
        words = line.split()
        if any(w.startswith("https://") for w in words):
            assert re.fullmatch(r"[^:]{0,40}:? ?https://\S+", line.strip()), line
        else:
            assert len(line) <= 76, line
    assert "More or fewer like this:\n  https://paperboy.example.org/r/" in text


def test_the_footer_says_why_when_and_how_to_stop() -> None:
    content, html, text = rendered(matches())
    said = " ".join(content.why_text.split())
    assert said == (
        "You get this because reader@example.org subscribed to Paperboy, a digest every day at "
        "08:00 (Europe/London time). The next one comes on Friday 3 July at 08:00."
    )
    footer = LexborHTMLParser(html).css_first("div.footer")
    assert footer is not None
    assert said in " ".join(footer.text().split())
    hrefs = [a.attributes.get("href") or "" for a in footer.css("a")]
    assert [h.split("/")[3] for h in hrefs] == ["m", "u"]
    assert text.split("\n--\n", 1)[1].startswith(content.why_text)


@pytest.mark.parametrize(
    ("timing", "period", "now", "expected"),
    [
        (LONDON, "2026-07-02", NOW, "2026-07-03T08:00:00+01:00"),
        # composed before the hour (a preview): the period is today's, so the next is tomorrow
        (LONDON, "2026-07-02", datetime(2026, 7, 2, 5, tzinfo=UTC), "2026-07-03T08:00:00+01:00"),
        (Timing("UTC", 7, "weekdays"), "2026-07-03", datetime(2026, 7, 3, 8, tzinfo=UTC),
         "2026-07-06T07:00:00+00:00"),  # Friday -> Monday
        (Timing("Asia/Tokyo", 6, "weekly", weekday=3, send_minute=15), "2026-W27", NOW,
         "2026-07-09T06:15:00+09:00"),
        # 02:30 does not exist on 8 March 2026 in New York: due when the clocks jump to 03:00
        (Timing("America/New_York", 2, "daily", send_minute=30), "2026-03-07",
         datetime(2026, 3, 7, 12, tzinfo=UTC), "2026-03-08T03:00:00-04:00"),
        # 01:30 comes twice on 1 November 2026: the first time
        (Timing("America/New_York", 1, "daily", send_minute=30), "2026-10-31",
         datetime(2026, 10, 31, 12, tzinfo=UTC), "2026-11-01T01:30:00-04:00"),
    ],
)  # fmt: skip
def test_the_next_send_time(timing: Timing, period: str, now: datetime, expected: str) -> None:
    assert next_send(timing, period, now).isoformat() == expected


# -- feedback links and reasons -----------------------------------------------------------------


def test_each_paper_links_to_its_feedback_page_for_its_profile() -> None:
    content, html, text = rendered(matches())
    links = builder()
    for section in content.sections:
        for shown in section.papers:
            assert shown.rate_url is not None
            read = links.read(FeedbackLink, shown.rate_url.rsplit("/", 1)[1])
            assert read.arxiv_id == shown.entry.arxiv_id
            assert read.profile_id == {"vision": 1, "agents": 2}[section.profile]
            assert read.ref.link_key == KEY
            assert shown.rate_url in text
    tree = LexborHTMLParser(html)
    rates = [a.text() for a in tree.css("a.rate")]
    assert rates == ["More like this", "Not interested"] * content.shown


def test_minted_tokens_are_the_tokens_for_subscriber_makes() -> None:
    tokens = Tokens(SECRET, lambda: NOW)
    mint = tokens.subscriber_minter(Purpose.FEEDBACK)
    for key, detail in [(KEY, "1:2406.06523"), ("Zx3-q_9VbLm0aT7wYe2KpQ", "99:hep-th/9901001")]:
        assert mint(key, detail) == tokens.for_subscriber(Purpose.FEEDBACK, key, detail)
    # a payload zlib can shrink is left uncompressed: another token, read back the same
    repetitive = "k" * 22
    made = mint(repetitive, "3:x")
    assert made != tokens.for_subscriber(Purpose.FEEDBACK, repetitive, "3:x")
    read = tokens.read_subscriber(Purpose.FEEDBACK, made)
    assert (read.link_key, read.detail) == (repetitive, "3:x")
    with pytest.raises(TokenError):  # signed for feedback: refused for anything else
        tokens.read_subscriber(Purpose.UNSUBSCRIBE, made)


@dataclasses.dataclass(frozen=True)
class ReasonedMatch:
    """What ``shown`` reads of a Match found by meaning (the real one needs a model)."""

    paper: Any
    profile_id: int
    reasons: tuple[str, ...]


def test_a_paper_found_by_meaning_says_why() -> None:
    paper = saved_papers()[0]
    match: Any = ReasonedMatch(paper, 4, ("We propose a video editing framework.", "close to X"))
    entry = digests.paper_entry(paper)
    shown = digests.shown(match, entry, builder().paper_feedback(KEY))
    assert shown.reasons == ("“We propose a video editing framework.”", "close to X")
    assert shown.reasons_text == (
        "  Why: “We propose a video editing framework.”\n  Why: close to X"
    )
    assert isinstance(Match.reasons, property)  # the attribute the digest reads exists


# -- in a browser --------------------------------------------------------------------------------

sync_api = pytest.importorskip("playwright.sync_api")
PNG = bytes.fromhex(  # a 16x9 thumbnail, served for every image the mail asks for
    "89504e470d0a1a0a0000000d4948445200000010000000090802000000b4483b65000000194944415478"
    "9c636460f8cf401c30d1ac2a0ac38e2a8c5400006d4901127e9b066a0000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed here")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


TAPS = """() => [...document.querySelectorAll('.sheet a')].map(a => {
  const r = a.getBoundingClientRect(); return [a.textContent, r.width, r.height]; })"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", SIZES)
def test_the_mail_in_a_browser(browser: Any, size: str, scheme: str) -> None:
    width, height = SIZES[size]
    _, html, _ = rendered(matches())
    page = browser.new_page(
        viewport={"width": width, "height": height}, color_scheme=scheme, java_script_enabled=False
    )
    page.route("**/*.png", lambda route: route.fulfill(body=PNG, content_type="image/png"))
    page.set_content(html)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    for text, w, h in page.evaluate(TAPS):
        assert h >= 44, f"{text!r} is a {w:.0f}x{h:.0f} px tap target"
        assert w >= 44, f"{text!r} is a {w:.0f}x{h:.0f} px tap target"
    one_line = page.evaluate(
        "[...document.querySelectorAll('.votes')].every(s => s.getClientRects().length === 1)"
    )
    assert one_line  # '▲ 12' never splits
    background = page.evaluate("getComputedStyle(document.querySelector('.sheet')).background")
    assert ("rgb(22, 27, 38)" in background) == (scheme == "dark")
    tall = page.evaluate("document.documentElement.scrollHeight")
    if size == "phone":
        assert tall < 4_400, "10 papers on a phone: 5,291 px with full-width thumbnails"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"email-{size}-{scheme}.png"), full_page=True)
    page.close()


# -- the archive page ----------------------------------------------------------------------------


def test_the_archive_page_has_the_same_feedback_links(sqlite_url: str) -> None:
    with world(sqlite_url) as w:
        tokens = Tokens(SECRET, fixed_clock(WORLD_NOW))
        app = create_app(WebContext(w.engine, tokens, fixed_clock(WORLD_NOW)))
        sid = w.subscribe("reader@example.org")
        w.dispatcher().compose()
        digest = latest_digest(w.ledger, sid)
        assert digest is not None
        with serving(app) as base, httpx.Client(base_url=base) as client:
            page = client.get(f"/d/{w.link(tokens, Purpose.ARCHIVE, sid, digest.period)}")
            assert page.status_code == 200
            papers = LexborHTMLParser(page.text).css("section.profile .paper")
            rates = LexborHTMLParser(page.text).css("section.profile .rate")
            assert len(rates) == len(papers) == len(digest.paper_ids)
            for rate in rates:
                assert [a.text() for a in rate.css("a")] == ["More like this", "Not interested"]
                href = rate.css("a")[0].attributes.get("href") or ""
                assert client.get(href).status_code == 200  # the feedback page opens
