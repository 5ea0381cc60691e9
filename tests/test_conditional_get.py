"""Conditional GET on every list: the latest day and trending too, stored under the request URL.

The period of "the latest daily list" and of trending is only known from the answer, so their
validators are kept and found by the URL that was asked for; a 304 for them is `not_modified`,
stores no paper and moves no state.
"""

from __future__ import annotations

from datetime import date

import httpx
import respx

from paperboy.clock import fixed_clock
from paperboy.ingest import Ingestor
from scraper import sources
from scraper.models import Verdict
from store.repository import SqlStore
from tests.conftest import PINNED, capture
from tests.replay import replaying_fetcher

JULY_31 = capture("hf-api-daily-papers-2026-07-31.json")
MAY_8 = capture("hf-api-daily-papers-2026-05-08.json")


def _sent(route: respx.Route) -> list[str | None]:
    return [call.request.headers.get("if-none-match") for call in route.calls]


def test_the_latest_daily_list_is_asked_conditionally_and_a_304_moves_nothing(
    store: SqlStore,
) -> None:
    with replaying_fetcher() as (fetcher, router, _):
        api = router.get("/api/daily_papers").mock(
            side_effect=[
                httpx.Response(200, content=JULY_31, headers={"ETag": '"latest-v1"'}),
                httpx.Response(304, headers={"ETag": '"latest-v1"'}),
            ]
        )
        ingestor = Ingestor(fetcher, store, fixed_clock(PINNED))
        first = ingestor.run(sources.day())
        papers, observations = store.count_papers(), store.count_observations()
        before = store.papers_by_id([p.arxiv_id for p in first.outcome.papers])
        again = ingestor.run(sources.day())
    assert first.verdict is Verdict.OK
    assert first.outcome.period == "2026-07-31"
    assert _sent(api) == [None, '"latest-v1"']
    assert again.verdict is Verdict.NOT_MODIFIED
    assert again.outcome.papers == ()
    assert again.result.new_papers == 0
    assert again.outcome.period == "2026-07-31"  # the list the 304 says is unchanged
    assert (store.count_papers(), store.count_observations()) == (papers, observations)
    assert store.papers_by_id([p.arxiv_id for p in first.outcome.papers]) == before
    good = store.last_fetch(verdicts=("ok", "empty"), source="day")
    assert good is not None
    assert good.id == first.result.fetch_id
    rows = store.list_fetches()
    assert [(f.verdict, f.period, f.paper_count) for f in rows] == [
        ("not_modified", "2026-07-31", 0),
        ("ok", "2026-07-31", len(first.outcome.papers)),
    ]


def test_trending_is_asked_conditionally_and_a_304_is_not_modified(store: SqlStore) -> None:
    with replaying_fetcher() as (fetcher, router, _):
        api = router.get("/api/daily_papers", params={"sort": "trending"}).mock(
            side_effect=[
                httpx.Response(200, content=MAY_8, headers={"Last-Modified": "Thu, 02 Jul 2026"}),
                httpx.Response(304),
            ]
        )
        ingestor = Ingestor(fetcher, store, fixed_clock(PINNED))
        first = ingestor.run(sources.trending())
        observations = store.count_observations()
        again = ingestor.run(sources.trending())
    assert first.verdict is Verdict.OK
    assert [c.request.headers.get("if-modified-since") for c in api.calls] == [
        None,
        "Thu, 02 Jul 2026",
    ]
    assert again.verdict is Verdict.NOT_MODIFIED
    assert again.outcome.papers == ()
    assert store.count_observations() == observations


def test_validators_of_one_url_are_never_sent_to_another(store: SqlStore) -> None:
    """The dated list, the latest list and trending are different answers: their own ETags."""
    with replaying_fetcher() as (fetcher, router, _):
        dated = router.get("/api/daily_papers", params={"date": "2026-07-31"}).respond(
            200, content=JULY_31, headers={"ETag": '"dated"'}
        )
        trending = router.get("/api/daily_papers", params={"sort": "trending"}).respond(
            200, content=MAY_8, headers={"ETag": '"trending"'}
        )
        latest = router.get("/api/daily_papers").respond(
            200, content=JULY_31, headers={"ETag": '"latest"'}
        )
        ingestor = Ingestor(fetcher, store, fixed_clock(PINNED))
        ingestor.run(sources.day(date(2026, 7, 31)))
        ingestor.run(sources.trending())
        ingestor.run(sources.day())  # filed under 2026-07-31 too, but asked at another URL
        ingestor.run(sources.day())
        ingestor.run(sources.day(date(2026, 7, 31)))
        ingestor.run(sources.trending())
    assert _sent(latest) == [None, '"latest"']
    assert _sent(dated) == [None, '"dated"']
    assert _sent(trending) == [None, '"trending"']


def test_a_latest_list_taken_from_the_page_sends_no_validators_next_time(
    store: SqlStore,
) -> None:
    """Only an API answer's validators are kept: the page's would be replayed to the API."""
    with replaying_fetcher() as (fetcher, router, _):
        api = router.get("/api/daily_papers").respond(404, headers={"ETag": '"err"'})
        router.get("/papers").respond(
            200, content=capture("hf-daily-2026-07-02.html"), headers={"ETag": '"page"'}
        )
        ingestor = Ingestor(fetcher, store, fixed_clock(PINNED))
        first = ingestor.run(sources.day())
        ingestor.run(sources.day())
    assert first.verdict is Verdict.OK
    assert _sent(api) == [None, None]


def test_a_broken_latest_fetch_does_not_replace_the_good_validators(store: SqlStore) -> None:
    with replaying_fetcher() as (fetcher, router, _):
        api = router.get("/api/daily_papers").mock(
            side_effect=[
                httpx.Response(200, content=JULY_31, headers={"ETag": '"good"'}),
                httpx.Response(200, text="<html>not json</html>", headers={"ETag": '"bad"'}),
                httpx.Response(304),
            ]
        )
        router.get("/papers").respond(500)
        ingestor = Ingestor(fetcher, store, fixed_clock(PINNED))
        reports = [ingestor.run(sources.day()) for _ in range(3)]
    assert [r.verdict for r in reports] == [Verdict.OK, Verdict.BROKEN, Verdict.NOT_MODIFIED]
    assert _sent(api) == [None, '"good"', '"good"']
