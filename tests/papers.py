"""The real papers of the saved captures, for the query-language and matcher tests."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from paperboy.semantic.background import background_for
from paperboy.semantic.lexical import LexicalEmbedder
from paperboy.semantic.meaning import InMemoryVectors, VectorMeaning
from scraper.models import ScrapedPaper
from tests.builders import captured

FILES = (
    "hf-api-daily-papers-2024-03-21.json",
    "hf-api-daily-papers-2024-06-13.reserialized.json",
    "hf-api-daily-papers-2025-03-04.reserialized.json",
    "hf-api-daily-papers-2026-05-08.json",
    "hf-api-daily-papers-2026-07-31.json",
    "hf-api-papers-search-llama-3-herd-2025-05.reserialized.json",
)


@cache
def saved_papers() -> tuple[ScrapedPaper, ...]:
    unique: dict[str, ScrapedPaper] = {}
    for name in FILES:
        for paper in captured(name):
            unique.setdefault(paper.arxiv_id, paper)
    return tuple(unique.values())


def by_id(arxiv_id: str) -> ScrapedPaper:
    return next(p for p in saved_papers() if p.arxiv_id == arxiv_id)


def lexical_meaning(papers: Sequence[ScrapedPaper]) -> VectorMeaning:
    """The real VectorMeaning over the lexical fallback embedder (no model), looking ``papers``
    up by arXiv id, with the shipped background."""
    embedder = LexicalEmbedder()
    known = {p.arxiv_id: p for p in papers}
    return VectorMeaning(
        embedder,
        InMemoryVectors(embedder),
        background_for(embedder),
        lambda ids: [known[i] for i in ids if i in known],
    )
