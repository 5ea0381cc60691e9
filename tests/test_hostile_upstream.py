"""Hostile upstream answers: each one ends as a fetch row with a reason, never a crash, and what
is stored fits the caps on both databases (issue 13, items 3, 4 and the text part of 10)."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from paperboy.clock import fixed_clock
from paperboy.errors import FetchError
from paperboy.ingest import Ingestor, IngestReport
from scraper import fields, sources
from scraper.fetch import HuggingFaceFetcher
from scraper.http import ClientConfig, Limits, PoliteHttp, Politeness, build_client
from scraper.models import Validators, Verdict
from scraper.parse_html import parse_page
from scraper.parse_json import parse_entries
from scraper.robots import RobotsGate
from scraper.sources import Source
from store.repository import SqlStore
from store.types import Fetch, FetchRecord, IngestBatch
from tests.builders import captured, outcome
from tests.conftest import PINNED, capture
from tests.fakes import FakeFetcher
from tests.hostile_server import Reply, answer, gzip_bomb, head, hostile_server, raw, trickle
from tests.replay import replaying_fetcher
from tests.test_cli import rows, run

DAY = date(2026, 5, 8)
DAY_0508 = capture("hf-api-daily-papers-2026-05-08.json")
PAGE_0702 = capture("hf-daily-2026-07-02.html")
DEEP = 100_000


def day_list(**paper: Any) -> list[dict[str, Any]]:
    """Three real entries; the first one's paper fields changed as given."""
    entries: list[dict[str, Any]] = copy.deepcopy(json.loads(DAY_0508)[:3])
    entries[0]["paper"].update(paper)
    return entries


def encoded(entries: object) -> bytes:
    return json.dumps(entries).encode()


def ingest(
    store: SqlStore,
    api: bytes,
    *,
    page: bytes | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    source: Source | None = None,
) -> tuple[IngestReport, Fetch]:
    """Fetch one day through the real client, parsers and store; only HTTP is replayed."""
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").mock(
            return_value=httpx.Response(200, content=api, headers=headers or [])
        )
        if page is None:
            router.get(url__regex=r"/papers").respond(404)
        else:
            router.get(url__regex=r"/papers").respond(200, content=page)
        report = Ingestor(fetcher, store, fixed_clock(PINNED)).run(source or sources.day(DAY))
    fetch = store.last_fetch()
    assert fetch is not None
    assert fetch.id == report.result.fetch_id
    return report, fetch


# -- text that is not text --------------------------------------------------------------------

HOSTILE_TITLE = "Lone\ud800 surrogate \ufffe\uffff and C1\x85\x9b controls\x00 \ufdd0end"


def test_clean_text_drops_what_xml_and_databases_refuse() -> None:
    assert fields.clean_text(HOSTILE_TITLE) == "Lone surrogate and C1 controls end"
    assert (
        fields.clean_text("caf\u00e9 \U0001f600 \u4e2d\u6587")
        == "caf\u00e9 \U0001f600 \u4e2d\u6587"
    )


def test_clean_text_drops_bidirectional_overrides_and_keeps_right_to_left_text() -> None:
    spoof = "Safe model \u202egnp.exe\u202c and \u2067isolated\u2069 text"
    assert fields.clean_text(spoof) == "Safe model gnp.exe and isolated text"
    hebrew = "\u05e9\u05dc\u05d5\u05dd \u200fworld"  # a right-to-left mark is harmless
    assert fields.clean_text(hebrew) == hebrew


def test_a_title_with_a_lone_surrogate_and_nonxml_characters_is_stored_cleaned(
    store: SqlStore,
) -> None:
    body = encoded(day_list(title=HOSTILE_TITLE, summary="Abstract\udfff \x9f text"))
    report, fetch = ingest(store, body)
    assert report.verdict is Verdict.OK, fetch.error
    paper = store.get_paper("2605.05242")
    assert paper is not None
    assert paper.title == "Lone surrogate and C1 controls end"
    assert paper.summary == "Abstract text"
    # The Atom feed carries the title as element text: it must serialise to parseable XML.
    element = ElementTree.Element("title")
    element.text = paper.title
    assert ElementTree.fromstring(ElementTree.tostring(element)).text == paper.title  # noqa: S314


def test_unicode_digits_are_not_an_arxiv_id() -> None:
    assert fields.arxiv_id("\u0662\u0660\u0662\u0664.\u0660\u0661\u0662\u0663\u0664") is None
    assert fields.arxiv_id("2605.05242") == "2605.05242"
    assert fields.arxiv_id("hep-th/9901001") == "hep-th/9901001"
    assert fields.arxiv_id("a" * 40 + "/9901001") is None  # over the 32 the store keeps


# -- JSON nested 100,000 levels ----------------------------------------------------------------

NESTED = b"[" * DEEP + b"]" * DEEP


def nested_field() -> bytes:
    body = encoded(day_list(title="PLACEHOLDER"))
    return body.replace(b'"PLACEHOLDER"', NESTED)


def nested_props() -> bytes:
    nested = "[" * DEEP + "]" * DEEP
    island = b'data-target="DailyPapers" data-props="{'
    assert island in PAGE_0702
    return PAGE_0702.replace(island, island + f"&quot;deep&quot;:{nested},".encode(), 1)


@pytest.mark.parametrize("api", [NESTED, nested_field()], ids=["whole-body", "one-field"])
def test_json_nested_100000_levels_is_a_broken_row_with_a_reason(
    store: SqlStore, api: bytes
) -> None:
    report, fetch = ingest(store, api)  # and the page is gone (404)
    assert report.verdict is Verdict.BROKEN
    assert fetch.verdict == "broken"
    assert "nested too deeply" in (fetch.error or "")
    assert store.count_papers() == 0


def test_nested_api_and_data_props_fall_back_to_the_cards(store: SqlStore) -> None:
    page = parse_page(nested_props(), "page")
    assert page.path.value == "dom"
    assert len(page.papers) == 31
    report, fetch = ingest(store, NESTED, page=nested_props())
    assert report.verdict is Verdict.OK
    assert "API: " in (fetch.error or "")
    assert "nested too deeply" in (fetch.error or "")


def test_nested_data_props_without_cards_is_a_parse_error() -> None:
    nested = "[" * DEEP + "]" * DEEP
    page = f'<div data-target="DailyPapers" data-props="{nested}"></div>'
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_page(page, "page")


# -- numbers and dates out of range -----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"upvotes": 10**30}, "upvotes"),
        ({"upvotes": -1}, "upvotes"),
        ({"githubStars": 2**31}, "githubStars"),
        ({"publishedAt": "0001-01-01T00:00:00+05:00"}, "publishedAt"),
        ({"publishedAt": "9999-12-31T23:00:00-05:00"}, "publishedAt"),
        ({"submittedOnDailyAt": "9999-12-31T23:59:59-14:00"}, "submittedOnDailyAt"),
    ],
)
def test_numbers_and_dates_out_of_range_are_parse_errors(
    changes: dict[str, Any], where: str
) -> None:
    with pytest.raises(ValueError, match=where) as info:
        parse_entries(day_list(**changes), "API")
    assert "out of range" in str(info.value)


def test_upvotes_of_ten_to_the_thirty_end_as_a_broken_row(store: SqlStore) -> None:
    report, fetch = ingest(store, encoded(day_list(upvotes=10**30)))
    assert report.verdict is Verdict.BROKEN
    assert "out of range" in (fetch.error or "")
    assert store.count_papers() == 0


def test_displayed_counts_out_of_range_are_zero() -> None:
    assert fields.count("9" * 400) == 0
    assert fields.count("9" * 40 + "m") == 0
    assert fields.count("1.54k") == 1540


# -- field caps, the same on both databases ---------------------------------------------------


def test_oversized_fields_are_capped_at_parse_time_and_stored_on_both_databases(
    store: SqlStore,
) -> None:
    author = {"_id": "x", "name": "N" * 300, "hidden": False}
    body = encoded(
        day_list(
            title="T " * 500_000,  # a 1 MB title
            summary="word " * 200_000,
            authors=[author] * 5_000,
            ai_keywords=["k" * 500] * 500,
            githubRepo="https://github.com/" + "a" * 5_000,
            organization={"name": "o" * 300, "fullname": "O" * 300},
        )
    )
    report, fetch = ingest(store, body)
    assert report.verdict is Verdict.OK, fetch.error
    paper = store.get_paper("2605.05242")
    assert paper is not None
    assert len(paper.title) <= fields.MAX_TITLE
    assert paper.title.endswith("\u2026")
    assert paper.summary is not None
    assert len(paper.summary) <= fields.MAX_ABSTRACT
    assert len(paper.authors) == fields.MAX_AUTHORS
    assert paper.author_count == 5_000
    assert all(len(a) <= fields.MAX_NAME for a in paper.authors)
    assert len(paper.ai_keywords) <= fields.MAX_KEYWORDS
    assert all(len(k) <= fields.MAX_KEYWORD for k in paper.ai_keywords)
    assert paper.github_repo is None  # a cut URL is a wrong URL: dropped
    assert paper.organization is not None
    assert len(paper.organization) <= fields.MAX_NAME
    assert paper.organization_slug is not None
    assert len(paper.organization_slug) <= 200


def test_an_arxiv_id_longer_than_the_store_keeps_is_refused_not_lost_on_postgres(
    store: SqlStore,
) -> None:
    report, fetch = ingest(store, encoded(day_list(id="a" * 40 + "/9901001")))
    assert report.verdict is Verdict.BROKEN
    assert "not an arXiv id" in (fetch.error or "")


def test_the_page_period_must_be_a_day(store: SqlStore) -> None:
    script = "<script>" + "alert(1);" * 48 + "</script>"
    page = PAGE_0702.replace(
        b"2026-07-02&quot;", script.encode().replace(b'"', b"&quot;") + b"&quot;", 1
    )
    assert parse_page(page, "page").period is None
    report, fetch = ingest(store, b"not json", page=page, source=sources.day())
    assert report.verdict is Verdict.OK, fetch.error
    assert fetch.period == "2026-07-02"  # from the papers' own dates, not the page's string


# -- validators that cannot be sent back ------------------------------------------------------


def test_a_non_ascii_etag_is_dropped_not_replayed(store: SqlStore) -> None:
    headers = [(b"ETag", '"caf\u00e9"'.encode()), (b"Last-Modified", b"x" * 100)]
    first, _fetch = ingest(store, DAY_0508, headers=headers)
    assert first.verdict is Verdict.OK
    assert first.outcome.validators == Validators()
    again, _ = ingest(store, DAY_0508)
    assert again.verdict is Verdict.OK


def test_stored_validators_that_cannot_be_sent_are_not_replayed(store: SqlStore) -> None:
    done = outcome(captured("hf-api-daily-papers-2026-05-08.json"))
    record = FetchRecord(
        source="day",
        period="2026-05-08",
        url=done.url,
        verdict="ok",
        started_at=PINNED,
        finished_at=PINNED,
        path="api",
        status_code=200,
        paper_count=0,
        error=None,
        error_kind=None,
        requests=1,
        etag='"caf\u00e9"',
        last_modified="Fri, 08 May 2026 10:00:00 GMT",
    )
    store.ingest(IngestBatch(fetch=record))
    with replaying_fetcher() as (fetcher, router, _):
        route = router.get("/api/daily_papers").respond(200, content=DAY_0508)
        report = Ingestor(fetcher, store, fixed_clock(PINNED)).run(sources.day(DAY))
    assert report.verdict is Verdict.OK
    sent = route.calls[0].request.headers
    assert "if-none-match" not in sent
    assert sent["if-modified-since"] == "Fri, 08 May 2026 10:00:00 GMT"


# -- any failure while storing is the source's broken row; the next source still runs ---------


def test_a_store_failure_is_the_sources_broken_row_and_the_next_source_runs(
    store: SqlStore,
) -> None:
    papers = captured("hf-api-daily-papers-2026-05-08.json")
    unstorable = (dataclasses.replace(papers[0], upvotes=10**30),)
    fetcher = FakeFetcher([outcome(unstorable + papers[1:]), outcome(papers, period="2026-05-09")])
    ingestor = Ingestor(fetcher, store, fixed_clock(PINNED))
    reports = ingestor.run_all([sources.day(DAY), sources.day(date(2026, 5, 9))])
    assert [r.verdict for r in reports] == [Verdict.BROKEN, Verdict.OK]
    rows = store.list_fetches()
    assert [(f.period, f.verdict) for f in reversed(rows)] == [
        ("2026-05-08", "broken"),
        ("2026-05-09", "ok"),
    ]
    assert rows[1].error_kind == "store"
    assert "could not be stored" in (rows[1].error or "")
    assert store.count_papers() == len(papers)  # the failed batch left nothing behind


# -- limits on what one answer may cost (a real server on 127.0.0.1) -------------------------


@contextmanager
def polite_http(
    base: str, *, cap: int = 1_000_000, deadline: float = 1.5, read_timeout: float = 5.0
) -> Iterator[PoliteHttp]:
    config = ClientConfig(base_url=base, user_agent="Paperboy-test", read_timeout=read_timeout)
    with build_client(config) as client:
        yield PoliteHttp(
            client,
            Politeness(delay=0.0, max_retries=2, backoff_base=0.01),
            limits=Limits(max_response_bytes=cap, deadline=deadline),
        )


def fails(http: PoliteHttp, path: str = "/api/daily_papers") -> tuple[FetchError, float]:
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        http.get(path)
    return info.value, time.monotonic() - started


def test_an_answer_announcing_more_than_the_cap_is_not_read() -> None:
    with (
        hostile_server({"/api/": answer(b"x" * 3_000_000)}) as (base, seen),
        polite_http(base) as http,
    ):
        error, _ = fails(http)
    assert error.kind == "limit"
    assert "announces 3,000,000 bytes, more than the 1,000,000-byte cap" in error.message
    assert "1,000,000-byte cap" in error.message
    assert len(seen) == 1  # not retried


def test_an_answer_without_a_length_is_stopped_at_the_cap() -> None:
    unannounced = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + b"[" * 3_000_000
    with hostile_server({"/api/": raw(unannounced)}) as (base, _), polite_http(base) as http:
        error, _ = fails(http)
    assert error.kind == "limit"
    assert "sent more than the 1,000,000-byte cap" in error.message


def test_a_gzip_bomb_is_stopped_at_the_cap_without_inflating_it() -> None:
    bomb = {"/api/": gzip_bomb(300_000_000)}
    with hostile_server(bomb) as (base, _), polite_http(base, cap=10_000_000, deadline=30) as http:
        tracemalloc.start()
        try:
            error, took = fails(http)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert error.kind == "limit"
    assert "inflates to more than the 10,000,000-byte cap" in error.message
    assert peak < 40_000_000  # the cap and a chunk, not 300 MB
    assert took < 10


def test_gzip_and_deflate_answers_are_decoded() -> None:
    body = json.dumps([{"n": i} for i in range(1000)]).encode()
    zlibbed = zlib.compress(body)
    routes = {
        "/api/gzip": answer(
            gzip.compress(body[:500]) + gzip.compress(body[500:]),
            headers=[("Content-Encoding", "gzip")],
        ),
        "/api/zlib": answer(zlibbed, headers=[("Content-Encoding", "deflate")]),
        "/api/raw": answer(zlibbed[2:-4], headers=[("Content-Encoding", "deflate")]),
        "/api/br": answer(b"x", headers=[("Content-Encoding", "br")]),
    }
    with hostile_server(routes) as (base, _), polite_http(base) as http:
        assert http.get("/api/gzip").body == body  # two gzip members
        assert http.get("/api/zlib").body == body
        assert http.get("/api/raw").body == body
        error, _ = fails(http, "/api/br")
    assert "Content-Encoding 'br'" in error.message


@pytest.mark.parametrize(
    "reply",
    [
        raw(head(length=100)),
        None,
    ],
    ids=["trickled-body", "trickled-head"],
)
def test_a_trickling_server_is_cut_off_at_the_deadline(reply: Reply | None) -> None:
    if reply is None:  # the status line and headers themselves, a byte every 0.3 s
        routes = {"/api/": trickle(head(length=2) + b"[]", every=0.3)}
    else:  # the headers at once, then the body a byte every 0.5 s (each read is quick)
        routes = {"/api/": _then(reply, trickle(b"[" * 100, every=0.5))}
    with hostile_server(routes) as (base, seen), polite_http(base, deadline=1.5) as http:
        error, took = fails(http)
    assert error.kind == "limit"
    assert "longer than the 1.5s deadline" in error.message
    assert 1.4 < took < 3.0  # not 50 s, not 5 s of read timeout per byte
    assert len(seen) == 1  # a deadline is not retried


def _then(first: Reply, second: Reply) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        first(handler)
        second(handler)

    return reply


def test_redirects_are_followed_only_within_the_site() -> None:
    with hostile_server({}) as (elsewhere, elsewhere_seen):
        away = elsewhere.replace("127.0.0.1", "localhost") + "/api/daily_papers"
        routes = {
            "/api/away": answer(b"", status=302, headers=[("Location", away)]),
            "/api/home": answer(b"", status=301, headers=[("Location", "/robots.txt")]),
        }
        with hostile_server(routes) as (base, _), polite_http(base) as http:
            assert http.get("/api/home").status_code == 200
            error, _ = fails(http, "/api/away")
    assert error.kind == "redirect"
    assert "redirected away from 127.0.0.1" in error.message
    assert elsewhere_seen == []


def test_a_trickling_api_is_a_broken_row_with_its_reason(store: SqlStore) -> None:
    routes = {"/api/daily_papers": _then(raw(head(length=100)), trickle(b"[" * 100, every=0.5))}
    with hostile_server(routes) as (base, seen), polite_http(base, deadline=1.0) as http:
        fetcher = HuggingFaceFetcher(http, RobotsGate(http, base), fixed_clock(PINNED))
        report = Ingestor(fetcher, store, fixed_clock(PINNED)).run(sources.day(DAY))
    fetch = store.last_fetch()
    assert report.verdict is Verdict.BROKEN
    assert fetch is not None
    assert fetch.verdict == "broken"
    assert fetch.error_kind == "limit"
    assert "longer than the 1s deadline" in (fetch.error or "")
    assert not any(path.startswith("/papers") for path in seen)  # the page is not tried


# -- run-once goes on with the other sources and still sends ----------------------------------


def test_run_once_records_a_hostile_list_as_broken_and_still_sends(tmp_path: Path) -> None:
    subscribed = run(
        tmp_path,
        "subscriber",
        "add",
        "reader@example.org",
        "--zone",
        "UTC",
        "--hour",
        "0",
        "--profile",
        'p=diffusion OR agent* OR "language model"',
    )
    assert subscribed.returncode == 0, subscribed.stderr
    routes = {
        # trending: nested 100,000 deep in the API, and in the page's data-props with no cards
        "=/api/daily_papers?limit=100&sort=trending": answer(NESTED),
        "=/papers/trending": answer(
            nested_props().replace(b"<article", b"<section"), content_type="text/html"
        ),
    }
    with hostile_server(routes) as (base, _):
        env = {"PAPERBOY_HF_BASE_URL": base, "PAPERBOY_REQUEST_DELAY": "0"}
        result = run(tmp_path, "run-once", **env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "internal error" not in result.stderr
    assert "error: trending latest: " in result.stderr
    assert "nested too deeply" in result.stderr
    assert "1 digest due, 1 composed; 1 sent" in " ".join(result.stdout.split())
    fetched = rows(tmp_path, "select source, verdict from fetches order by id")
    assert fetched[:4] == [("day", "ok"), ("trending", "broken"), ("week", "ok"), ("month", "ok")]
