"""The third-party feed as a second source: the saved RSS capture replayed at its own host."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx

from base.clock import fixed_clock
from base.errors import ConfigError
from paperboy import freshness
from paperboy.settings import load_settings
from paperboy.wiring import build_ingestor
from scraper import sources
from scraper.feed import FeedFetcher, Sources
from scraper.http import ClientConfig, PoliteHttp, Politeness, build_client
from scraper.models import ParsePath, Validators, Verdict, View
from store.repository import SqlStore
from store.types import Fetch
from tests.conftest import PINNED, capture
from tests.fakes import FakeTime
from tests.replay_server import FEED_PATH, replay_server
from tests.test_cli import rows, run

FEED_HOST = "https://feeds.example.org"
FEED_URL = f"{FEED_HOST}/hf/feed_weekly.xml?lang=en"
RSS = capture("thirdparty-rss-hf-weekly-2026-08-03.xml")


def _fetcher(router: respx.MockRouter, *, robots: str | None = None) -> FeedFetcher:
    clock = FakeTime()
    if robots is None:
        router.get(f"{FEED_HOST}/robots.txt").respond(404)
    else:
        router.get(f"{FEED_HOST}/robots.txt").respond(200, text=robots)

    @contextmanager
    def connect(origin: str) -> Iterator[PoliteHttp]:
        with build_client(ClientConfig(base_url=origin, user_agent="Paperboy-test")) as client:
            yield PoliteHttp(
                client,
                Politeness(delay=1.0, max_retries=1),
                sleep=clock.sleep,
                monotonic=clock.monotonic,
                jitter=lambda: 0.5,
            )

    return FeedFetcher(FEED_URL, connect, fixed_clock(PINNED))


def test_the_feed_is_fetched_from_its_own_host_and_filed_under_the_day_it_was_seen() -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.get(FEED_URL).respond(
            200, content=RSS, headers={"ETag": '"w32"', "Content-Type": "application/rss+xml"}
        )
        outcome = _fetcher(router).fetch(sources.feed())
    assert route.called
    assert route.calls[0].request.url.params["lang"] == "en"
    assert "rss" in route.calls[0].request.headers["accept"]
    assert outcome.verdict is Verdict.OK
    assert outcome.view is View.FEED
    assert outcome.period == PINNED.date().isoformat()
    assert outcome.path is ParsePath.FEED
    assert len(outcome.papers) == 6
    assert all(p.arxiv_id for p in outcome.papers)
    assert outcome.validators.etag == '"w32"'
    assert outcome.requests == 2  # robots.txt and the feed


def test_a_304_keeps_the_validators_and_changes_nothing() -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.get(FEED_URL).respond(304, headers={"ETag": '"w32"'})
        outcome = _fetcher(router).fetch(sources.feed(), Validators(etag='"w32"'))
    assert route.calls[0].request.headers["if-none-match"] == '"w32"'
    assert outcome.verdict is Verdict.NOT_MODIFIED
    assert outcome.papers == ()


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        (httpx.Response(404, text="gone"), "http", "HTTP 404"),
        (httpx.Response(200, text="<html>not a feed</html>"), "parse", "<rss>"),
        (httpx.Response(200, text="<!DOCTYPE x [<!ENTITY a 'b'>]><rss/>"), "parse", "RSS"),
    ],
)
def test_a_bad_answer_is_a_broken_fetch_that_says_why(
    answer: httpx.Response, kind: str, words: str
) -> None:
    with respx.mock(assert_all_called=False) as router:
        router.get(FEED_URL).mock(return_value=answer)
        outcome = _fetcher(router).fetch(sources.feed())
    assert outcome.verdict is Verdict.BROKEN
    assert outcome.view is View.FEED
    assert outcome.error_kind == kind
    assert outcome.error is not None
    assert words in outcome.error
    assert outcome.papers == ()


def test_robots_txt_of_the_feeds_host_is_respected() -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.get(FEED_URL).respond(200, content=RSS)
        outcome = _fetcher(router, robots="User-agent: *\nDisallow: /hf/\n").fetch(sources.feed())
    assert not route.called
    assert outcome.verdict is Verdict.BROKEN
    assert outcome.error_kind == "robots"


def test_the_feed_never_goes_to_hugging_face_and_hugging_face_never_to_the_feed() -> None:
    class Named:
        def __init__(self, name: str) -> None:
            self.name, self.asked = name, []

        def fetch(self, source: sources.Source, validators: Validators | None = None) -> object:
            self.asked.append(source.view)
            return self.name

        def api_url(self, source: sources.Source) -> str:
            return self.name

    hf, feed = Named("hf"), Named("feed")
    both = Sources(hf, feed)  # type: ignore[arg-type]
    assert both.fetch(sources.feed()) == "feed"
    assert both.api_url(sources.feed()) == "feed"
    assert both.fetch(sources.trending()) == "hf"
    assert both.api_url(sources.day()) == "hf"
    assert hf.asked == [View.TRENDING]
    assert feed.asked == [View.FEED]


@pytest.mark.parametrize(
    "value",
    ["ftp://feeds.example.org/x.xml", "https://user:pw@feeds.example.org/x", "feeds.example.org"],
)
def test_a_bad_feed_url_is_a_config_error_naming_the_setting(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_FEED_URL", value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert "PAPERBOY_FEED_URL" in str(caught.value) or caught.value.setting == "feed_url"


def test_the_feeds_papers_reach_the_store_beside_hugging_faces(
    store: SqlStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_FEED_URL", FEED_URL)
    monkeypatch.setenv("PAPERBOY_SEMANTIC", "off")
    settings = load_settings(_env_file=None, database_url=database_url)
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{FEED_HOST}/robots.txt").respond(404)
        router.get(FEED_URL).respond(200, content=RSS, headers={"ETag": '"w32"'})
        ingestor, client = build_ingestor(settings, store, clock=fixed_clock(PINNED), delay=0)
        with client:
            first = ingestor.run(sources.feed())
            second_route = router.get(FEED_URL).respond(304)
            second = ingestor.run(sources.feed())
    assert first.outcome.verdict is Verdict.OK
    assert second.outcome.verdict is Verdict.NOT_MODIFIED
    assert second_route.calls.last.request.headers["if-none-match"] == '"w32"'
    fetches = store.list_fetches(source=View.FEED)
    assert [f.verdict for f in fetches] == ["not_modified", "ok"]
    assert fetches[1].url == FEED_URL
    assert fetches[1].path == "feed"
    for paper in first.outcome.papers:
        stored = store.get_paper(paper.arxiv_id)
        assert stored is not None
        assert stored.title == paper.title


def _row(view: View, verdict: Verdict, hours_ago: float) -> Fetch:
    at = PINNED - timedelta(hours=hours_ago)
    return Fetch(
        id=1, source=view, period=at.date().isoformat(), url=FEED_URL, verdict=verdict,
        started_at=at, finished_at=at, duration_ms=1, path="feed", status_code=200,
        paper_count=6, new_papers=6, error=None, error_kind=None, requests=2,
    )  # fmt: skip


def test_a_good_fetch_of_the_feed_keeps_fetching_fresh_like_trending() -> None:
    assert freshness.counts(_row(View.FEED, Verdict.OK, 2))
    assert (View.FEED, None) in freshness.wanted(PINNED)
    assert freshness.stale([_row(View.FEED, Verdict.OK, 2)], PINNED) is None
    assert freshness.stale([_row(View.FEED, Verdict.OK, 40)], PINNED) is not None
    assert freshness.stale([_row(View.FEED, Verdict.BROKEN, 2)], PINNED) is not None


def test_fetch_feed_from_the_cli_stores_its_papers(tmp_path: Path) -> None:
    with replay_server() as (base, seen):
        env = {"PAPERBOY_HF_BASE_URL": base, "PAPERBOY_REQUEST_DELAY": "0"}
        fetched = run(tmp_path, "fetch", "--feed", PAPERBOY_FEED_URL=base + FEED_PATH, **env)
        unset = run(tmp_path, "fetch", "--feed", **env)
        both = run(tmp_path, "fetch", "--feed", "--trending", **env)
    assert fetched.returncode == 0, fetched.stderr
    assert "6 new papers stored." in " ".join(fetched.stdout.split())
    assert seen == ["/robots.txt", FEED_PATH]
    assert rows(tmp_path, "select source, path, verdict, paper_count from fetches") == [
        ("feed", "feed", "ok", 6)
    ]
    assert rows(tmp_path, "select count(*) from papers") == [(6,)]
    assert unset.returncode == 2
    assert "PAPERBOY_FEED_URL" in unset.stderr
    assert "Traceback" not in unset.stderr
    assert both.returncode == 2
    assert "choose one of" in both.stderr


def test_run_once_fetches_the_feed_only_when_one_is_set(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with replay_server() as (base, seen):
        env = {"PAPERBOY_HF_BASE_URL": base, "PAPERBOY_REQUEST_DELAY": "0"}
        without = run(tmp_path / "a", "run-once", **env)
        asked_without = list(seen)
        with_feed = run(tmp_path / "b", "run-once", PAPERBOY_FEED_URL=base + FEED_PATH, **env)
    assert without.returncode == 0, without.stderr
    assert with_feed.returncode == 0, with_feed.stderr
    assert FEED_PATH not in asked_without
    assert seen.count(FEED_PATH) == 1
    sources_b = [s for (s,) in rows(tmp_path / "b", "select source from fetches order by id")]
    assert sources_b[:3] == ["day", "trending", "feed"]


def test_the_doctor_looks_at_the_feed_only_when_one_is_set(tmp_path: Path) -> None:
    with replay_server() as (base, _):
        env = {"PAPERBOY_HF_BASE_URL": base, "PAPERBOY_REQUEST_DELAY": "0"}
        feed = {"PAPERBOY_FEED_URL": base + FEED_PATH}
        assert run(tmp_path, "db", "upgrade").returncode == 0
        before = run(tmp_path, "doctor", **feed, **env)
        assert run(tmp_path, "fetch", "--feed", **feed, **env).returncode == 0
        after = run(tmp_path, "doctor", **feed, **env)
        without = run(tmp_path, "doctor", **env)
    line = [x for x in before.stdout.splitlines() if "fetch feed" in x]
    assert len(line) == 1
    assert "never fetched" in line[0]
    line = [x for x in after.stdout.splitlines() if "fetch feed" in x]
    assert len(line) == 1
    assert "last success" in line[0]
    assert "fetch feed" not in without.stdout
