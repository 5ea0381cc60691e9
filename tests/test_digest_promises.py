"""What a subscriber must get (issue 15, items 1-5), on the real store and the injected clock:
every matched paper reachable, every profile its share of the cap, an old date never stopping
today's mail, preview / dry run / send agreeing, and the window after a week, a weekend, a pause.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from paperboy.clock import fixed_clock
from paperboy.ingest import plan_batch
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
from scraper.models import ScrapedPaper, Verdict, View
from tests import cli
from tests.builders import outcome
from tests.digests import latest_digest
from tests.web_server import serving
from tests.world import NOW, SECRET, World, mail_parts, world

PROFILES = {"agents": "agents", "turkic": "kazakh OR turkic"}


def paper(n: int, title: str, upvotes: int = 10, summary: str = "") -> ScrapedPaper:
    return ScrapedPaper(
        arxiv_id=f"2607.{n:05d}",
        title=title,
        upvotes=upvotes,
        summary=summary or f"A study numbered {n}.",
        authors=("A. Author",),
    )


def agents(count: int, start: int = 100) -> tuple[ScrapedPaper, ...]:
    """Broad-profile papers, all with more upvotes than any of ``kazakh``'s."""
    return tuple(paper(start + i, f"Agents that plan, part {i}", 500 - i) for i in range(count))


def kazakh(count: int, start: int = 200) -> tuple[ScrapedPaper, ...]:
    return tuple(paper(start + i, f"A Kazakh speech corpus, part {i}", 3) for i in range(count))


def fetched(
    w: World,
    at: datetime,
    *,
    view: View = View.DAY,
    period: str | None = None,
    papers: tuple[ScrapedPaper, ...] = (),
    broken: bool = False,
    latest: bool = False,
) -> None:
    """One fetch row (and its papers) as the fetcher would have stored it at ``at``; ``latest``:
    a fetch of the latest daily list (no date asked for), filed under the day it answered."""
    done = outcome(
        papers,
        view=view,
        period=period or at.date().isoformat(),
        at=at,
        verdict=Verdict.BROKEN if broken else None,
        error="HTTP 500" if broken else None,
    )
    if latest:
        done = dataclasses.replace(done, url="https://huggingface.co/api/daily_papers?limit=100")
    w.papers.ingest(plan_batch(done))


def shown_sections(w: World, sid: int) -> dict[str, list[str]]:
    """The digest's sections as the mail shows them: profile -> arXiv ids, from the text part."""
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    sections: dict[str, list[str]] = {}
    current = ""
    for line in mail_parts(digest)[0].splitlines():
        if line.startswith("== ") and line.endswith(" =="):
            current = line[3:-3]
            sections[current] = []
        elif line.strip().startswith("https://huggingface.co/papers/"):
            sections[current].append(line.strip().rsplit("/", 1)[1])
    return sections


# -- 3. An old date never stops today's mail ---------------------------------------------------


def test_a_broken_backfill_of_an_old_date_does_not_stop_todays_mail(database_url: str) -> None:
    with world(database_url) as w:
        sid = w.subscribe("reader@example.org")
        fetched(w, NOW - timedelta(hours=1), period="2025-10-03", broken=True)  # fetch --date
        fetched(w, NOW - timedelta(minutes=50), view=View.WEEK, period="2025-W40", broken=True)
        fetched(w, NOW - timedelta(minutes=40), view=View.MONTH, period="2025-10", broken=True)
        report = w.dispatcher().compose()
        assert report.skipped_reason is None
        assert report.composed == 1
        assert latest_digest(w.ledger, sid) is not None


def test_a_broken_latest_daily_list_still_stops_the_mail(database_url: str) -> None:
    with world(database_url) as w:
        w.subscribe("reader@example.org")
        fetched(w, NOW - timedelta(hours=1), broken=True)  # today's list, after a good fetch
        report = w.dispatcher().compose()
        assert report.composed == 0
        assert report.skipped_reason is not None
        assert "the last fetch of the daily list is broken" in report.skipped_reason


def test_a_good_latest_list_after_a_broken_one_lets_the_mail_go(database_url: str) -> None:
    with world(database_url) as w:
        w.subscribe("reader@example.org")
        fetched(w, NOW - timedelta(hours=1), broken=True)
        # Hugging Face has not published today's list yet: the latest list is yesterday's.
        yesterday = (NOW - timedelta(days=1)).date().isoformat()
        fetched(w, NOW - timedelta(minutes=30), period=yesterday, papers=agents(1))
        report = w.dispatcher().compose()
        assert (report.skipped_reason, report.composed) == (None, 1)


def test_a_latest_list_of_an_old_day_after_broken_ones_lets_the_mail_go(database_url: str) -> None:
    """The site still lists an old day: a good fetch of the latest list counts, whatever day it
    is filed under, and outranks the broken ones before it (filed under the day they ran)."""
    with world(database_url) as w:
        w.subscribe("reader@example.org")
        fetched(w, NOW - timedelta(hours=2), broken=True, latest=True)
        fetched(w, NOW - timedelta(hours=1), broken=True, latest=True)
        fetched(w, NOW - timedelta(minutes=30), period="2026-05-08", papers=agents(1), latest=True)
        report = w.dispatcher().compose()
        assert (report.skipped_reason, report.composed) == (None, 1)
        fetched(w, NOW - timedelta(minutes=10), broken=True, latest=True)  # and breaks again
        again = w.dispatcher(now=NOW + timedelta(days=1)).compose()
        assert again.skipped_reason is not None
        assert "the last fetch of the daily list is broken" in again.skipped_reason


def test_a_broken_backfill_of_yesterday_after_todays_list_does_not_stop_the_mail(
    database_url: str,
) -> None:
    with world(database_url) as w:  # today's list was fetched fine two hours ago
        w.subscribe("reader@example.org")
        yesterday = (NOW - timedelta(days=1)).date().isoformat()
        fetched(w, NOW - timedelta(hours=1), period=yesterday, broken=True)
        report = w.dispatcher().compose()
        assert (report.skipped_reason, report.composed) == (None, 1)


def test_on_monday_a_broken_latest_list_of_friday_still_counts(database_url: str) -> None:
    monday = datetime.fromisoformat("2026-07-06T09:30:00+00:00")
    with world(database_url) as w:
        w.subscribe("reader@example.org")
        fetched(w, monday - timedelta(hours=3), view=View.TRENDING, papers=agents(1))
        fetched(w, monday - timedelta(hours=2), period="2026-07-03", papers=agents(1, 150))
        fetched(w, monday - timedelta(hours=1), period="2026-07-03", broken=True)
        report = w.dispatcher(monday).compose()
        assert report.skipped_reason is not None
        assert "the last fetch of the daily list is broken" in report.skipped_reason


def test_a_good_backfill_is_no_sign_that_todays_lists_were_fetched(database_url: str) -> None:
    with world(database_url) as w:
        w.subscribe("reader@example.org")
        later = NOW + timedelta(days=3)  # the world's own fetch is now 3 days old
        fetched(w, later - timedelta(hours=1), period="2025-10-03", papers=kazakh(2))
        report = w.dispatcher(later).compose()
        assert report.composed == 0
        assert report.skipped_reason is not None
        assert "no successful fetch in the last 36 hours" in report.skipped_reason


def test_every_list_the_schedule_fetches_counts_for_freshness(database_url: str) -> None:
    with world(database_url) as w:
        w.subscribe("reader@example.org")
        later = NOW + timedelta(days=3)
        fetched(w, later - timedelta(hours=2), view=View.TRENDING, papers=agents(1))
        report = w.dispatcher(later).compose()
        assert report.skipped_reason is None
        assert report.composed + report.empty == 1


# -- 2. Every profile gets its share -----------------------------------------------------------


def test_a_broad_profile_leaves_a_narrow_one_its_share(database_url: str) -> None:
    with world(database_url, papers=agents(12) + kazakh(9)) as w:
        sid = w.subscribe("reader@example.org", limit=8, profiles=PROFILES)
        w.dispatcher().compose()
        sections = shown_sections(w, sid)
        assert {name: len(ids) for name, ids in sections.items()} == {"agents": 4, "turkic": 4}
        assert sections["agents"] == [p.arxiv_id for p in agents(4)]  # each ranked
        digest = latest_digest(w.ledger, sid)
        assert digest is not None
        assert (len(digest.paper_ids), digest.shown) == (21, 8)
        assert "And 13 more" in mail_parts(digest)[0]


def test_slots_a_profile_cannot_use_go_to_the_others(database_url: str) -> None:
    with world(database_url, papers=agents(12) + kazakh(2)) as w:
        sid = w.subscribe("reader@example.org", limit=8, profiles=PROFILES)
        w.dispatcher().compose()
        sizes = {name: len(ids) for name, ids in shown_sections(w, sid).items()}
        assert sizes == {"agents": 6, "turkic": 2}


def test_an_odd_cap_is_shared_and_filled(database_url: str) -> None:
    three = {**PROFILES, "speech": "speech"}
    papers = agents(6) + kazakh(6) + (paper(300, "Speech models", 1), paper(301, "Speech", 1))
    with world(database_url, papers=papers) as w:
        sid = w.subscribe("reader@example.org", limit=7, profiles=three)
        w.dispatcher().compose()
        sizes = {name: len(ids) for name, ids in shown_sections(w, sid).items()}
        # The Kazakh *speech* papers sit in their best profile; every profile gets 2, and the
        # slot left over goes to the profile whose best paper ranks first.
        assert sum(sizes.values()) == 7
        assert min(sizes.values()) >= 2
        assert set(sizes) == {"agents", "turkic", "speech"}


def test_a_paper_both_profiles_match_appears_once(database_url: str) -> None:
    both = paper(400, "Agents for Kazakh", 1000)
    with world(database_url, papers=(both, *agents(3), *kazakh(3))) as w:
        sid = w.subscribe("reader@example.org", limit=20, profiles=PROFILES)
        w.dispatcher().compose()
        shown = [i for ids in shown_sections(w, sid).values() for i in ids]
        assert shown.count(both.arxiv_id) == 1
        assert len(shown) == len(set(shown)) == 7


def test_size_trimming_keeps_every_profile(database_url: str) -> None:
    long = "word " * 80
    papers = tuple(
        paper(500 + i, f"Agents that plan, part {i}", 500 - i, long) for i in range(12)
    ) + tuple(paper(600 + i, f"A Kazakh corpus, part {i}", 3, long) for i in range(9))
    with world(database_url, papers=papers) as w:
        sid = w.subscribe("reader@example.org", limit=20, profiles=PROFILES)
        w.dispatcher(max_bytes=14_000).compose()
        sections = shown_sections(w, sid)
        digest = latest_digest(w.ledger, sid)
        assert digest is not None
        assert digest.shown < 20
        assert set(sections) == {"agents", "turkic"}
        assert abs(len(sections["agents"]) - len(sections["turkic"])) <= 1


# -- 1. "And N more" leads to the N more -------------------------------------------------------


@pytest.fixture
def site(database_url: str) -> Iterator[tuple[httpx.Client, World, Tokens]]:
    with world(database_url, papers=agents(12) + kazakh(9)) as w:
        tokens = Tokens(SECRET, fixed_clock(NOW))
        app = create_app(WebContext(w.engine, tokens, fixed_clock(NOW)))
        with serving(app) as base, httpx.Client(base_url=base) as client:
            yield client, w, tokens


def archive_page(client: httpx.Client, w: World, tokens: Tokens, sid: int) -> dict[str, list[str]]:
    """The archive page of the subscriber's digest: section title -> its papers' links."""
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    page = client.get(f"/d/{w.link(tokens, Purpose.ARCHIVE, sid, digest.period)}")
    assert page.status_code == 200
    sections: dict[str, list[str]] = {}
    for section in LexborHTMLParser(page.text).css("section.profile"):
        heading = section.css_first("h2")
        assert heading is not None
        name = heading.text(deep=False).strip()
        sections[name] = [
            str(a.attributes["href"]).rsplit("/", 1)[1] for a in section.css("a.title")
        ]
    return sections


def test_and_n_more_leads_to_every_paper_grouped_and_ranked(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    client, w, tokens = site
    sid = w.subscribe("reader@example.org", limit=8, profiles=PROFILES)
    w.dispatcher().compose()
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    text = mail_parts(digest)[0]
    archive = re.search(r"And 13 more: (\S+)", text)
    assert archive is not None
    assert f"View in a browser: {archive.group(1)}" in text  # the same page
    assert archive.group(1) == f"https://paperboy.example.org/d/{archive.group(1).split('/d/')[1]}"
    sections = archive_page(client, w, tokens, sid)
    assert sections == {
        "agents": [p.arxiv_id for p in agents(12)],  # ranked: most upvoted first
        "turkic": [p.arxiv_id for p in kazakh(9)],
    }
    assert sorted(i for ids in sections.values() for i in ids) == sorted(digest.paper_ids)


def test_the_archive_marks_the_words_that_matched(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    client, w, tokens = site
    sid = w.subscribe("reader@example.org", limit=8, profiles=PROFILES)
    w.dispatcher().compose()
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    page = client.get(f"/d/{w.link(tokens, Purpose.ARCHIVE, sid, digest.period)}").text
    tree = LexborHTMLParser(page)
    marked = {m.text() for m in tree.css("a.title mark")}
    assert marked == {"Agents", "Kazakh"}
    assert len(tree.css("a.title mark")) == 21  # every title, past the mail's 8 too
    assert "Matched: kazakh" in page


def test_papers_no_current_profile_matches_are_listed_last(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    client, w, tokens = site
    sid = w.subscribe("reader@example.org", limit=8, profiles=PROFILES)
    w.dispatcher().compose()
    w.people.remove_profile("reader@example.org", "turkic")  # after the digest went out
    sections = archive_page(client, w, tokens, sid)
    assert list(sections) == ["agents", "Other papers of this digest"]
    assert sections["Other papers of this digest"] == [p.arxiv_id for p in kazakh(9)]


# -- 4. Preview, dry run and send agree -------------------------------------------------------

NO_MATCH = {"rare": '"no paper says this"'}


def test_dry_run_counts_what_send_would_send(database_url: str) -> None:
    with world(database_url) as w:
        w.subscribe("quiet@example.org", profiles=NO_MATCH)  # send when empty: off
        w.subscribe("reader@example.org")
        dry = w.dispatcher().compose(dry_run=True)
        assert latest_digest(w.ledger, w.people.require("quiet@example.org").id) is None
        real = w.dispatcher().compose()
        assert (dry.due, dry.composed, dry.empty, dry.matched) == (
            real.due,
            real.composed,
            real.empty,
            real.matched,
        )
        assert (real.composed, real.empty) == (1, 1)
        assert [email for email, _, _ in dry.previews] == ["reader@example.org"]  # mails only


def test_preview_of_a_mail_send_would_not_send_says_so(database_url: str) -> None:
    with world(database_url) as w:
        w.subscribe("quiet@example.org", profiles=NO_MATCH)
        quiet = w.people.require("quiet@example.org")
        assert w.dispatcher().preview(quiet).kind == "skipped"
        w.dispatcher().compose()
        digest = latest_digest(w.ledger, quiet.id)
        assert digest is not None
        assert digest.kind == "skipped"
        assert w.ledger.deliveries() == []


def test_preview_knows_when_send_would_compose_nothing(database_url: str) -> None:
    with world(database_url) as w:
        w.subscribe("reader@example.org")
        fetched(w, NOW - timedelta(hours=1), broken=True)
        dispatcher = w.dispatcher()
        reason = dispatcher.stale_reason()
        assert reason is not None
        assert reason == dispatcher.compose().skipped_reason


def test_the_preview_links_to_a_page_of_every_paper(database_url: str) -> None:
    with world(database_url, papers=agents(12) + kazakh(9)) as w:
        w.subscribe("reader@example.org", limit=8, profiles=PROFILES)
        reader = w.people.require("reader@example.org")
        record = w.dispatcher().preview(reader, archive_url="file:///tmp/all-papers.html")
        assert "And 13 more: file:///tmp/all-papers.html" in record.text
        assert "View in a browser: file:///tmp/all-papers.html" in record.text
        assert 'href="file:///tmp/all-papers.html"' in record.html
        assert "/d/" not in record.html


def paperboy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI on tmp_path's database, mail through the null transport (in this process:
    tests/cli.py; nothing here is about the process itself)."""
    return cli.run(tmp_path, *args, PAPERBOY_MAIL_TRANSPORT="null")


def test_the_commands_agree_on_a_subscriber_nothing_matched(tmp_path: Path) -> None:
    assert paperboy(tmp_path, "demo").returncode == 0  # the demo reader got today's digest
    added = paperboy(
        tmp_path, "subscriber", "add", "quiet@example.org", "--hour", "0", "--zone", "UTC",
        "--profile", 'rare="no paper says this"',
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    folder = tmp_path / "preview"
    preview = paperboy(tmp_path, "digest", "preview", "quiet@example.org", "-o", str(folder))
    assert preview.returncode == 0, preview.stderr
    assert "no mail" in preview.stdout
    assert list(folder.iterdir()) == []  # no "you asked to hear from us anyway" mail
    dry = paperboy(tmp_path, "send", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    said = " ".join(dry.stdout.split())
    assert "1 digest due (dry run: nothing sent): 0 would be sent, 1 with nothing to send" in said
    assert "quiet@example.org" not in said
    sent = paperboy(tmp_path, "send")
    assert sent.returncode == 0, sent.stderr
    assert "1 due, 0 composed, 1 with nothing to send; 0 sent" in " ".join(sent.stdout.split())


def test_the_preview_files_link_to_every_paper(tmp_path: Path) -> None:
    assert paperboy(tmp_path, "demo").returncode == 0
    added = paperboy(
        tmp_path, "subscriber", "add", "eve@example.org", "--hour", "0", "--zone", "UTC",
        "--max-papers", "1", "--profile", 'llm=title:llama OR "language models"',
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    folder = tmp_path / "preview"
    preview = paperboy(tmp_path, "digest", "preview", "eve@example.org", "-o", str(folder))
    assert preview.returncode == 0, preview.stderr
    (mail,) = folder.glob("digest-eve_at_example.org-2*.html")
    full = folder / "digest-eve_at_example.org-all-papers.html"
    tree = LexborHTMLParser(mail.read_text())
    links = {
        a.attributes["href"] for a in tree.css("a") if "more" in a.text() or "browser" in a.text()
    }
    assert links == {full.resolve().as_uri()}  # "view in browser" and "and N more", no 404
    page = LexborHTMLParser(full.read_text())
    total = int(preview.stdout.split(" matching papers")[0].split()[-1])
    assert total > 1
    assert len(page.css("a.title")) == total
    assert "a preview: not sent" in page.text()


# -- 5. A digest covers everything new since the previous one ---------------------------------


def digest_ids(w: World, sid: int) -> list[str]:
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    return sorted(digest.paper_ids)


def ids(*papers: tuple[ScrapedPaper, ...]) -> list[str]:
    return sorted(p.arxiv_id for group in papers for p in group)


def test_a_weekly_digest_covers_the_week(database_url: str) -> None:
    before, week = agents(2, 700), (agents(1, 710), agents(1, 720), agents(1, 730))
    with world(database_url, papers=()) as w:
        sid = w.subscribe("weekly@example.org", every="weekly", day="thu", profiles=PROFILES)
        last_week = NOW - timedelta(days=7)
        fetched(w, last_week - timedelta(hours=1), papers=before)
        assert w.dispatcher(last_week).compose().composed == 1
        for days, found in zip((6, 3, 0), week, strict=True):
            fetched(w, NOW - timedelta(days=days, hours=1), papers=found)
        for days in (6, 3, 1):  # not due on the other days of the week
            assert w.dispatcher(NOW - timedelta(days=days)).compose().due == 0
        assert w.dispatcher().compose().composed == 1
        assert digest_ids(w, sid) == ids(*week)
        digest = latest_digest(w.ledger, sid)
        assert digest is not None
        assert digest.period == "2026-W27"
        assert digest.window_start == last_week


def test_a_weekdays_digest_on_monday_covers_the_weekend(database_url: str) -> None:
    friday = datetime.fromisoformat("2026-07-03T09:30:00+00:00")
    monday = friday + timedelta(days=3)
    with world(database_url, papers=()) as w:
        sid = w.subscribe("weekdays@example.org", every="weekdays", profiles=PROFILES)
        fetched(w, friday - timedelta(hours=1), papers=agents(1, 800))
        assert w.dispatcher(friday).compose().composed == 1
        weekend = (agents(1, 810), kazakh(1, 820), agents(1, 830))
        for days, found in zip((1, 2, 3), weekend, strict=True):
            fetched(w, friday + timedelta(days=days, hours=-2), papers=found)
        for days in (1, 2):  # Saturday and Sunday: nothing due
            assert w.dispatcher(friday + timedelta(days=days)).compose().due == 0
        assert w.dispatcher(monday).compose().composed == 1
        assert digest_ids(w, sid) == ids(*weekend)


def test_a_digest_after_a_pause_covers_everything_since_the_last_one_shared(
    database_url: str,
) -> None:
    with world(database_url, papers=()) as w:
        sid = w.subscribe("paused@example.org", limit=4, profiles=PROFILES)
        fetched(w, NOW - timedelta(hours=1), papers=agents(1, 900))
        assert w.dispatcher().compose().composed == 1
        w.people.set_status("paused@example.org", "paused", NOW)
        news = tuple(agents(2, 910 + 10 * d) + kazakh(1, 990 + d) for d in range(1, 6))
        for day, found in enumerate(news, start=1):
            fetched(w, NOW + timedelta(days=day, hours=-1), papers=found)
            if day < 5:
                assert w.dispatcher(NOW + timedelta(days=day)).compose().due == 0
        w.people.set_status("paused@example.org", "active", NOW + timedelta(days=5))
        assert w.dispatcher(NOW + timedelta(days=5)).compose().composed == 1
        assert digest_ids(w, sid) == ids(*news)  # 15 papers, all reachable
        assert {n: len(i) for n, i in shown_sections(w, sid).items()} == {"agents": 2, "turkic": 2}


def test_a_digest_after_an_outage_covers_everything_since_the_last_one(
    database_url: str,
) -> None:
    with world(database_url, papers=()) as w:
        sid = w.subscribe("reader@example.org", profiles=PROFILES)
        fetched(w, NOW - timedelta(hours=1), papers=agents(1, 1000))
        assert w.dispatcher().compose().composed == 1
        early = agents(1, 1010)
        fetched(w, NOW + timedelta(days=1, hours=-3), papers=early)  # then fetching broke
        for day in (1, 2):
            fetched(w, NOW + timedelta(days=day, hours=-1), broken=True)
            report = w.dispatcher(NOW + timedelta(days=day)).compose()
            assert (report.due, report.composed) == (1, 0)
            assert report.skipped_reason is not None
        late = kazakh(2, 1020)
        fetched(w, NOW + timedelta(days=3, hours=-1), papers=late)  # fixed
        assert w.dispatcher(NOW + timedelta(days=3)).compose().composed == 1
        assert digest_ids(w, sid) == ids(early, late)


def test_a_first_weekly_digest_covers_the_past_week(database_url: str) -> None:
    with world(database_url, papers=()) as w:
        sid = w.subscribe("weekly@example.org", every="weekly", day="thu", profiles=PROFILES)
        old, week = agents(1, 1100), agents(1, 1110)
        fetched(w, NOW - timedelta(days=8), papers=old)
        fetched(w, NOW - timedelta(days=6), papers=week)
        fetched(w, NOW - timedelta(hours=1))  # today's list, nothing new
        assert w.dispatcher().compose().composed == 1
        assert digest_ids(w, sid) == ids(week)
