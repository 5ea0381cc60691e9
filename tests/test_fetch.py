"""Fetching one source: API first, then the page; the health verdict of each outcome."""

from __future__ import annotations

import json
from datetime import date

import httpx

from scraper import sources
from scraper.models import ParsePath, Validators, Verdict, View
from tests.conftest import capture
from tests.replay import replaying_fetcher

DAY_0508 = capture("hf-api-daily-papers-2026-05-08.json")
PAGE_0702 = capture("hf-daily-2026-07-02.html")
NOT_FOUND = capture("hf-api-error-404-body.json")


def test_api_day_is_ok_via_the_api() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        api = router.get("/api/daily_papers", params={"date": "2026-05-08"}).respond(
            200, content=DAY_0508
        )
        outcome = fetcher.fetch(sources.day(date(2026, 5, 8)))
    assert outcome.verdict is Verdict.OK
    assert outcome.path is ParsePath.API
    assert len(outcome.papers) == 37
    assert outcome.period == "2026-05-08"
    assert api.calls[0].request.url.params["limit"] == "100"


def test_api_404_falls_back_to_the_page_data_props() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(404, content=NOT_FOUND)
        router.get("/papers/date/2026-07-02").respond(200, content=PAGE_0702)
        outcome = fetcher.fetch(sources.day(date(2026, 7, 2)))
    assert outcome.verdict is Verdict.OK
    assert outcome.path is ParsePath.PROPS
    assert len(outcome.papers) == 31
    assert "API: HTTP 404 (Sorry, we can't find the page you are looking for.)" in (
        outcome.error or ""
    )


def test_api_with_a_changed_shape_falls_back_to_the_page() -> None:
    flat = [{"id": "2409.00001", "title": "T", "thumbnailUrl": "https://x/y.png"}]
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(200, json=flat)
        router.get("/papers").respond(200, content=PAGE_0702)
        outcome = fetcher.fetch(sources.day())
    assert outcome.verdict is Verdict.OK
    assert outcome.path is ParsePath.PROPS
    assert outcome.period == "2026-07-02"  # the page says which day "latest" was
    assert "missing required key 'paper'" in (outcome.error or "")


def test_latest_day_period_comes_from_the_papers() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(
            200, content=capture("hf-api-daily-papers-2026-07-31.json")
        )
        outcome = fetcher.fetch(sources.day())
    assert outcome.period == "2026-07-31"
    assert outcome.verdict is Verdict.OK


def test_markup_changed_everywhere_is_broken() -> None:
    changed = PAGE_0702.replace(b'data-target="DailyPapers"', b'data-target="Grid"').replace(
        b'href="/papers/', b'href="/p/'
    )
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(200, text="<html>not json</html>")
        router.get("/papers/date/2026-07-02").respond(200, content=changed)
        outcome = fetcher.fetch(sources.day(date(2026, 7, 2)))
    assert outcome.verdict is Verdict.BROKEN
    assert outcome.papers == ()
    assert outcome.error_kind == "parse"
    assert "API:" in (outcome.error or "")
    assert "31 cards" in (outcome.error or "")


def test_an_empty_day_is_empty_not_broken() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(200, json=[])
        outcome = fetcher.fetch(sources.day(date(2026, 7, 3)))
    assert outcome.verdict is Verdict.EMPTY
    assert outcome.papers == ()


def test_304_is_not_modified() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        route = router.get("/api/daily_papers").respond(304)
        outcome = fetcher.fetch(sources.day(date(2026, 5, 8)), Validators(etag='"e1"'))
    assert outcome.verdict is Verdict.NOT_MODIFIED
    assert route.calls[0].request.headers["if-none-match"] == '"e1"'


def test_unreachable_site_is_broken_without_trying_the_page() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/robots.txt").mock(side_effect=httpx.ConnectError("no route to host"))
        page = router.get("/papers").respond(200, content=PAGE_0702)
        outcome = fetcher.fetch(sources.day())
    assert outcome.verdict is Verdict.BROKEN
    assert outcome.error_kind == "network"
    assert (outcome.error or "").startswith("cannot reach huggingface.co (is the network up?)")
    assert page.call_count == 0


def test_robots_5xx_skips_the_run() -> None:
    with replaying_fetcher(robots_status=503) as (fetcher, router, _):
        api = router.get("/api/daily_papers").respond(200, content=DAY_0508)
        outcome = fetcher.fetch(sources.day(date(2026, 5, 8)))
    assert outcome.verdict is Verdict.BROKEN
    assert outcome.error_kind == "robots"
    assert "robots.txt answered HTTP 503" in (outcome.error or "") or "robots.txt unavailable" in (
        outcome.error or ""
    )
    assert api.call_count == 0


def test_robots_disallow_is_respected() -> None:
    robots = "User-agent: *\nDisallow: /api/\nDisallow: /papers\n"
    with replaying_fetcher(robots=robots) as (fetcher, router, _):
        api = router.get("/api/daily_papers").respond(200, content=DAY_0508)
        outcome = fetcher.fetch(sources.day(date(2026, 5, 8)))
    assert outcome.verdict is Verdict.BROKEN
    assert "robots.txt disallows" in (outcome.error or "")
    assert api.call_count == 0


def test_robots_allowing_others_lets_us_through() -> None:
    robots = "User-agent: BadBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    with replaying_fetcher(robots=robots) as (fetcher, router, _):
        router.get("/api/daily_papers").respond(200, content=DAY_0508)
        outcome = fetcher.fetch(sources.day(date(2026, 5, 8)))
    assert outcome.verdict is Verdict.OK


def test_rate_limited_api_is_broken_and_not_retried_on_the_page() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(429, headers={"Retry-After": "86400"})
        page = router.get("/papers/date/2026-05-08").respond(200, content=PAGE_0702)
        outcome = fetcher.fetch(sources.day(date(2026, 5, 8)))
    assert outcome.verdict is Verdict.BROKEN
    assert outcome.error_kind == "rate_limited"
    assert page.call_count == 0


def test_weekly_list_is_paginated_until_a_short_page() -> None:
    entries = json.loads(DAY_0508)
    synthetic = []
    for i in range(105):  # a week holds up to ~105 papers; a page holds 100
        entry = json.loads(json.dumps(entries[i % len(entries)]))
        entry["paper"]["id"] = f"2605.{10000 + i}"
        synthetic.append(entry)
    with replaying_fetcher() as (fetcher, router, clock):
        first = router.get("/api/daily_papers", params={"week": "2026-W19", "p": "1"}).respond(
            200, json=synthetic[100:]
        )
        router.get("/api/daily_papers", params={"week": "2026-W19"}).respond(
            200, json=synthetic[:100]
        )
        outcome = fetcher.fetch(sources.week("2026-W19"))
        made = len(router.calls)
    assert first.call_count == 1
    assert outcome.view is View.WEEK
    assert len(outcome.papers) == 105
    assert outcome.requests == 3 == made  # robots.txt and both pages
    assert clock.sleeps == [1.0, 1.0]  # robots, page 0, page 1: spaced a second apart


def test_search_uses_the_search_api() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        route = router.get("/api/papers/search").respond(
            200, content=capture("hf-api-papers-search-llama-3-herd-2025-05.reserialized.json")
        )
        outcome = fetcher.fetch(sources.search("Llama 3  Herd"))
    assert route.calls[0].request.url.params["q"] == "Llama 3 Herd"
    assert outcome.period == "llama 3 herd"
    assert outcome.papers[0].title == "The Llama 3 Herd of Models"
    assert len(outcome.papers) == 11


def test_trending_asks_for_trending_order() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        route = router.get("/api/daily_papers").respond(200, content=DAY_0508)
        outcome = fetcher.fetch(sources.trending())
    assert route.calls[0].request.url.params["sort"] == "trending"
    assert outcome.view is View.TRENDING
    assert outcome.period == "2026-07-02"  # the (pinned) day it was trending


# -- fetches.requests: every HTTP request, counted at the client ------------------------------


def test_requests_count_robots_every_retry_and_the_page_fallback() -> None:
    """robots.txt, the API failing twice (one retry), then the page: 4 requests, not 2."""
    with replaying_fetcher() as (fetcher, router, _):
        api = router.get("/api/daily_papers").respond(500)
        router.get("/papers/date/2026-07-02").respond(200, content=PAGE_0702)
        outcome = fetcher.fetch(sources.day(date(2026, 7, 2)))
        made = len(router.calls)
    assert outcome.verdict is Verdict.OK
    assert api.call_count == 2
    assert outcome.requests == 4 == made


def test_requests_count_every_attempt_of_an_unreachable_site() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/robots.txt").mock(side_effect=httpx.ConnectError("no route to host"))
        outcome = fetcher.fetch(sources.day())
        made = len(router.calls)
    assert outcome.verdict is Verdict.BROKEN
    assert outcome.requests == 2 == made  # the attempt and its one retry


def test_requests_count_a_rate_limited_answer_and_robots() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "5"}),
                httpx.Response(429, headers={"Retry-After": "86400"}),
            ]
        )
        outcome = fetcher.fetch(sources.day(date(2026, 5, 8)))
        made = len(router.calls)
    assert outcome.error_kind == "rate_limited"
    assert outcome.requests == 3 == made


def test_requests_count_the_redirects_followed() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(404)
        router.get("/papers").respond(301, headers={"Location": "/papers/date/2026-07-02"})
        router.get("/papers/date/2026-07-02").respond(200, content=PAGE_0702)
        outcome = fetcher.fetch(sources.day())
        made = len(router.calls)
    assert outcome.verdict is Verdict.OK
    assert outcome.requests == 4 == made


def test_requests_of_a_304_and_of_a_later_fetch_without_robots() -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(304)
        first = fetcher.fetch(sources.day(date(2026, 5, 8)), Validators(etag='"e1"'))
        second = fetcher.fetch(sources.trending(), Validators(etag='"e2"'))
        made = len(router.calls)
    assert (first.requests, second.requests) == (2, 1)  # robots.txt is asked once per run
    assert made == 3
