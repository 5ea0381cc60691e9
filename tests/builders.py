"""Build fetch outcomes from saved captures (the parser's real output) for store tests."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import httpx

from paperboy.ingest import plan_batch
from scraper.models import FetchOutcome, ParsePath, ScrapedPaper, Verdict, View
from scraper.parse_json import parse_entries
from scraper.sources import Source
from store.types import IngestBatch
from tests.conftest import PINNED, capture


def captured(name: str) -> tuple[ScrapedPaper, ...]:
    return parse_entries(json.loads(capture(name)), name)


def api_url(view: View, period: str) -> str:
    """The URL the fetcher asks for this list: what its stored validators are looked up by."""
    path, params = Source(view, period, period if view is View.SEARCH else None).api_request()
    return str(httpx.URL(f"https://huggingface.co{path}", params=params))


def outcome(
    papers: tuple[ScrapedPaper, ...],
    *,
    view: View = View.DAY,
    period: str = "2026-05-08",
    at: datetime = PINNED,
    verdict: Verdict | None = None,
    error: str | None = None,
) -> FetchOutcome:
    return FetchOutcome(
        view=view,
        period=period,
        url=api_url(view, period),
        verdict=verdict or (Verdict.OK if papers else Verdict.EMPTY),
        started_at=at,
        finished_at=at + timedelta(milliseconds=120),
        papers=papers if verdict is not Verdict.BROKEN else (),
        path=ParsePath.API if verdict is not Verdict.BROKEN else None,
        status_code=200,
        error=error,
        error_kind="parse" if verdict is Verdict.BROKEN else None,
        requests=1,
    )


def batch(papers: tuple[ScrapedPaper, ...], **kw: object) -> IngestBatch:
    return plan_batch(outcome(papers, **kw))  # type: ignore[arg-type]


def with_upvotes(papers: tuple[ScrapedPaper, ...], extra: int) -> tuple[ScrapedPaper, ...]:
    return tuple(dataclasses.replace(p, upvotes=p.upvotes + extra) for p in papers)
