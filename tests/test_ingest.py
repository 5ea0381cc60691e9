"""The whole inbound path: replayed HTTP, real client and parsers, real store (both databases)."""

from __future__ import annotations

from datetime import date

import httpx

from paperboy.clock import fixed_clock
from paperboy.ingest import Ingestor, plan_batch, rank
from scraper import sources
from scraper.models import Verdict, View
from store.repository import SqlStore
from tests.builders import captured, outcome
from tests.conftest import PINNED, capture
from tests.replay import replaying_fetcher

DAY_0508 = capture("hf-api-daily-papers-2026-05-08.json")


def test_rank_sorts_lists_by_upvotes_and_keeps_search_order() -> None:
    papers = captured("hf-api-daily-papers-2026-07-31.json")  # API order is not upvote order
    ranked = rank(View.DAY, papers)
    assert [p.upvotes for p in ranked] == sorted((p.upvotes for p in papers), reverse=True)
    assert ranked != list(papers)
    search = captured("hf-api-papers-search-llama-3-herd-2025-05.reserialized.json")
    assert rank(View.SEARCH, search) == list(search)


def test_rank_drops_duplicate_ids_keeping_the_first() -> None:
    papers = captured("hf-api-daily-papers-2026-05-08.json")
    assert len(rank(View.TRENDING, papers + papers[:3])) == 37


def test_plan_for_a_broken_fetch_writes_no_papers() -> None:
    broken = outcome(captured("hf-api-daily-papers-2026-05-08.json"), verdict=Verdict.BROKEN)
    planned = plan_batch(broken)
    assert planned.papers == ()
    assert planned.observations == ()
    assert planned.fetch.verdict == "broken"


def test_daily_then_weekly_then_a_304(store: SqlStore) -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers", params={"date": "2026-05-08"}).mock(
            side_effect=[
                httpx.Response(200, content=DAY_0508, headers={"ETag": '"day-v1"'}),
                httpx.Response(304),
            ]
        )
        router.get("/api/daily_papers", params={"week": "2026-W19"}).respond(200, content=DAY_0508)
        ingestor = Ingestor(fetcher, store, fixed_clock(PINNED))
        first = ingestor.run(sources.day(date(2026, 5, 8)))
        weekly = ingestor.run(sources.week("2026-W19"))
        again = ingestor.run(sources.day(date(2026, 5, 8)))
        sent = router.calls[-1].request.headers
    assert (first.verdict, weekly.verdict, again.verdict) == (
        Verdict.OK,
        Verdict.OK,
        Verdict.NOT_MODIFIED,
    )
    assert sent["if-none-match"] == '"day-v1"'
    assert (first.result.new_papers, weekly.result.new_papers) == (37, 0)
    assert store.count_papers() == 37
    assert store.count_observations() == 74
    verdicts = [f.verdict for f in store.list_fetches()]
    assert verdicts == ["not_modified", "ok", "ok"]


def test_unreachable_site_leaves_only_the_failed_fetch_row(store: SqlStore) -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/robots.txt").mock(side_effect=httpx.ConnectError("network is unreachable"))
        report = Ingestor(fetcher, store, fixed_clock(PINNED)).run(sources.day())
    assert report.verdict is Verdict.BROKEN
    assert store.count_papers() == 0
    (row,) = store.list_fetches()
    assert row.verdict == "broken"
    assert row.error_kind == "network"
    assert "cannot reach huggingface.co" in (row.error or "")


def test_page_fallback_is_recorded(store: SqlStore) -> None:
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(404, content=capture("hf-api-error-404-body.json"))
        router.get("/papers/date/2026-07-02").respond(
            200, content=capture("hf-daily-2026-07-02.html")
        )
        report = Ingestor(fetcher, store, fixed_clock(PINNED)).run(sources.day(date(2026, 7, 2)))
    assert report.result.new_papers == 31
    (row,) = store.list_fetches()
    assert (row.path, row.verdict, row.paper_count, row.status_code) == ("props", "ok", 31, 200)
    paper = store.get_paper("2606.28322")
    assert paper is not None
    assert paper.organization == "Johns Hopkins University"
    assert paper.summary
    assert paper.summary.startswith("We introduce PerceptionRubrics")


def test_changed_markup_is_broken_and_stores_nothing(store: SqlStore) -> None:
    changed = (
        capture("hf-daily-2026-07-02.html")
        .replace(b'data-target="DailyPapers"', b'data-target="PaperGrid"')
        .replace(b"<h3", b"<h4")
    )
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(503)
        router.get("/papers/date/2026-07-02").respond(200, content=changed)
        report = Ingestor(fetcher, store, fixed_clock(PINNED)).run(sources.day(date(2026, 7, 2)))
    assert report.verdict is Verdict.BROKEN
    assert store.count_papers() == 0
    assert store.count_observations() == 0
    (row,) = store.list_fetches()
    assert row.verdict == "broken"
    assert row.error is not None
    assert "API: Hugging Face answered HTTP 503" in row.error
    assert "31 cards on the page but no paper in them" in row.error


def test_the_fetch_row_stores_every_request_made(store: SqlStore) -> None:
    """robots.txt, the API's 503 and its retry, then the page: the row says 4, as respx saw."""
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(503)
        router.get("/papers/date/2026-07-02").respond(
            200, content=capture("hf-daily-2026-07-02.html")
        )
        report = Ingestor(fetcher, store, fixed_clock(PINNED)).run(sources.day(date(2026, 7, 2)))
        made = len(router.calls)
    assert report.verdict is Verdict.OK
    (row,) = store.list_fetches()
    assert row.requests == made == 4
