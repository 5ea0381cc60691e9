"""The demo: replays the bundled Hugging Face captures through the real fetch-parse-store path."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import Engine

from paperboy.errors import PaperboyError
from paperboy.semantic import background
from paperboy.semantic.runtime import Semantics
from paperboy.semantic.vectors import paper_text, text_hash
from scraper import sources
from store.repository import SqlStore
from store.vectors import NewVector, VectorStore, decode, encode

# Who the demo subscribes, once, and what they read: words, and a topic matched by meaning (the
# model, or lexical similarity when it cannot be loaded), so the quick start shows both.
DEMO_READER = "demo@example.org"
DEMO_PROFILES = (
    ("keywords", '"variational inference" OR bayesian* OR high-fidelity'),
    ("video", 'diffusion OR "video generation"'),
    ("reasoning", 'about:"reinforcement learning to improve the reasoning of language models"'),
)

# The captures live with the tests (tests/data/hf, provenance in its README.md).
DEFAULT_PAGES = Path(__file__).resolve().parents[1] / "tests" / "data" / "hf"
NOT_FOUND = "hf-api-error-404-body.json"


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    params: Mapping[str, str]
    file: str
    content_type: str = "application/json"


# What the replayed "site" knows. 2026-07-02 has only its HTML page: its API route answers the
# saved 404 body, so the demo also walks the fallback from the API to the page's data-props.
ROUTES = (
    Route("/api/daily_papers", {"date": "2024-03-21"}, "hf-api-daily-papers-2024-03-21.json"),
    Route(
        "/api/daily_papers",
        {"date": "2024-06-13"},
        "hf-api-daily-papers-2024-06-13.reserialized.json",
    ),
    Route(
        "/api/daily_papers",
        {"date": "2025-03-04"},
        "hf-api-daily-papers-2025-03-04.reserialized.json",
    ),
    Route("/api/daily_papers", {"date": "2026-05-08"}, "hf-api-daily-papers-2026-05-08.json"),
    Route("/papers/date/2026-07-02", {}, "hf-daily-2026-07-02.html", "text/html; charset=utf-8"),
    Route("/api/daily_papers", {}, "hf-api-daily-papers-2026-07-31.json"),
    Route(
        "/api/papers/search",
        {"q": "llama 3 herd"},
        "hf-api-papers-search-llama-3-herd-2025-05.reserialized.json",
    ),
)

DEMO_SOURCES = (
    sources.day(date(2024, 3, 21)),
    sources.day(date(2024, 6, 13)),
    sources.day(date(2025, 3, 4)),
    sources.day(date(2026, 5, 8)),
    sources.day(date(2026, 7, 2)),
    sources.day(),  # "latest": the 2026-07-31 capture
    sources.search("llama 3 herd"),
)


def replay_transport(pages: Path) -> httpx.MockTransport:
    """An httpx transport answering from saved files; anything unknown gets the saved 404 body."""
    missing = [r.file for r in ROUTES if not (pages / r.file).is_file()] + [
        name for name in (NOT_FOUND,) if not (pages / name).is_file()
    ]
    if missing:
        raise PaperboyError(
            f"the demo's saved pages are missing from {pages}: {', '.join(missing)}",
            hint="run the demo from a clone of the repository, or pass --pages DIR",
        )
    bodies = {r.file: (pages / r.file).read_bytes() for r in ROUTES}
    not_found = (pages / NOT_FOUND).read_bytes()

    def answer(request: httpx.Request) -> httpx.Response:
        params = {k: v for k, v in request.url.params.items() if k not in ("limit", "p")}
        for route in ROUTES:
            if request.url.path == route.path and params == dict(route.params):
                if request.url.params.get("p", "0") != "0":
                    return httpx.Response(200, json=[])
                return httpx.Response(
                    200, content=bodies[route.file], headers={"content-type": route.content_type}
                )
        return httpx.Response(404, content=not_found, headers={"content-type": "application/json"})

    return httpx.MockTransport(answer)


def prime_vectors(semantics: Semantics, engine: Engine, now: datetime) -> int:
    """Store the vectors the package already holds for the demo's papers: they are the shipped
    background sample (paperboy.semantic.background), embedded by the same model from the same
    text (whitespace aside, which the model does not see), so the quick start need not embed
    ~150 papers (~20 s) before its first digest. A paper whose stored text differs is left to
    be embedded as usual. Returns how many were stored."""
    stored = semantics.stored_vectors()  # None: the lexical fallback, which stores nothing
    if stored is None:
        return 0
    data = resources.files("paperboy.semantic").joinpath(background.FILE).read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        if str(npz["model_id"]) != stored.model_id:
            return 0
        shipped = {
            str(i): (" ".join(str(t).split()), row)
            for i, t, row in zip(npz["ids"], npz["texts"], npz["vectors"], strict=True)
        }
    fresh = []
    for paper in SqlStore(engine).papers_by_id(list(shipped)):
        text, row = shipped[paper.arxiv_id]
        if paper_text(paper) == text:
            vector = decode(encode(row.astype(np.float32)))
            fresh.append(NewVector(paper.arxiv_id, stored.model_id, text_hash(text), vector))
    return VectorStore(engine).put_many(fresh, now) if fresh else 0
