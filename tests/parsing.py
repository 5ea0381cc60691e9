"""Helpers for the capture tests: which parser reads a file, and papers as plain JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from scraper.models import ParsedPage, ParsePath, ScrapedPaper
from scraper.parse_html import parse_page
from scraper.parse_json import parse_entries
from scraper.parse_rss import parse_feed


def parse_capture(path: Path) -> ParsedPage:
    body = path.read_bytes()
    if path.suffix == ".html":
        return parse_page(body, path.name)
    if path.suffix == ".xml":
        return parse_feed(body, path.name)
    return ParsedPage(papers=parse_entries(json.loads(body), path.name), path=ParsePath.API)


def paper_json(paper: ScrapedPaper) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in asdict(paper).items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def page_json(page: ParsedPage) -> dict[str, Any]:
    return {
        "path": page.path.value,
        "period": page.period,
        "count": len(page.papers),
        "papers": [paper_json(p) for p in page.papers],
    }
