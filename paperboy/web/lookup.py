"""A query over the shelf's index: which papers match, how many, and the best few with the
terms they were found by (for highlighting).

The whole shelf is analysed and indexed once (paperboy.web.library); a query is the Matcher's
work on that prepared batch (Matcher.match_prepared): a few integer operations for its words,
and for ``about:``/``like:`` one question to meaning about the papers of the range alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from paperboy.profiles.matcher import Hit, Match, Matcher, ProfileSpec, ranked
from paperboy.semantic.closeness import Meaning
from paperboy.web.library import Index
from store.types import Paper


@dataclass(frozen=True, slots=True)
class Found:
    total: int  # how many papers of the range match
    best: tuple[tuple[Paper, tuple[Hit, ...]], ...]  # the best, in digest order, with hits

    @classmethod
    def of(cls, every: Sequence[Match], shown: int, total: int | None = None) -> Found:
        best = tuple((cast(Paper, m.paper), m.hits) for m in every[:shown])
        return cls(len(every) if total is None else total, best)


def matcher(query: str, meaning: Meaning | None = None, closeness: int = 0) -> Matcher:
    """The Matcher of one unsaved profile (a preview's or a search's query)."""
    return Matcher([ProfileSpec(0, 0, "preview", query, closeness=closeness)], meaning)


def matches(
    query: str, papers: Sequence[Paper], meaning: Meaning | None = None, closeness: int = 0
) -> list[Match]:
    """Every paper of ``papers`` that ``query`` matches, best first (the papers analysed and
    indexed for this call: for papers not on the shelf)."""
    return ranked(matcher(query, meaning, closeness).match(papers))


def find(
    query: str,
    index: Index,
    within: range,
    shown: int,
    *,
    meaning: Meaning | None = None,
    closeness: int = 0,
) -> Found:
    """The papers at positions ``within`` of the index's shelf that ``query`` matches (about:
    and like: asked of ``meaning`` at the ``closeness`` step; without it they match nothing):
    their number and the best ``shown``, in digest order."""
    found = matcher(query, meaning, closeness).match_prepared(index.use(), within)
    return Found.of(found.ranked(shown), shown, len(found))


__all__ = ["Found", "find", "matcher", "matches"]
