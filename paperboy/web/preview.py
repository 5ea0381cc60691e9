"""What a profile would have matched lately (the manage and sign-up pages' live preview), and
the search box of the recent-papers page: both over the shelf kept in memory
(paperboy.web.library), so a keystroke costs a few integer operations, not a week of papers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from mailer.types import DigestEntry
from paperboy.digest import paper_entry
from paperboy.errors import ProfileSyntaxError
from paperboy.profiles import explain
from paperboy.profiles.ast import Node, semantic_atoms
from paperboy.profiles.parser import parse
from paperboy.semantic.closeness import Meaning
from paperboy.web.library import library_for
from paperboy.web.lookup import Found, find, matches
from store.repository import SqlStore

if TYPE_CHECKING:
    from paperboy.semantic.runtime import Semantics

PREVIEW_DAYS = 7
PREVIEW_SHOWN = 10
SEARCH_SHOWN = 30
QUERY_CHARS = 2_000
EXAMPLE = 'diffusion OR "video generation"'


@dataclass(frozen=True, slots=True)
class Preview:
    query: str
    entries: tuple[DigestEntry, ...] = ()
    total: int = 0  # how many matched (more than shown, perhaps)
    considered: int = 0  # papers first seen in the window
    days: int = PREVIEW_DAYS
    error: str | None = None  # the syntax error, naming the column
    column: int | None = None  # where the error is (1 = the first character)
    since: datetime | None = None  # searches: the papers first seen since then were searched
    understood: str | None = None  # the query with every group in parentheses
    warnings: tuple[str, ...] = ()  # e.g. an exclusion beside an OR without parentheses

    @property
    def pointed(self) -> tuple[str, str, str] | None:
        """The query cut around the error's column: before, at, after (for marking it)."""
        if self.column is None or not self.query:
            return None
        at = min(max(self.column, 1), len(self.query) + 1) - 1
        return self.query[:at], self.query[at : at + 1] or " ", self.query[at + 1 :]


def checked(query: str) -> Node | Preview:
    """The query parsed, or the answer that shows its error (with the column)."""
    cleaned = _clean(query)
    if not cleaned:
        return Preview(query="", error=f"write a query first, for example: {EXAMPLE}")
    try:
        return parse(cleaned, "query")
    except ProfileSyntaxError as e:
        return Preview(cleaned, error=f"{e.problem} at column {e.column}", column=e.column)


def preview(
    store: SqlStore,
    query: str,
    now: datetime,
    *,
    shown: int = PREVIEW_SHOWN,
    semantics: Semantics | None = None,
    closeness: int = 0,
) -> Preview:
    """The papers of the last week that ``query`` matches, best first, matched terms marked;
    about: and like: are asked of ``semantics`` at the ``closeness`` step (without it they
    match nothing)."""
    node = checked(query)
    if isinstance(node, Preview):
        return node
    cleaned = _clean(query)
    library = library_for(store)
    start = now - timedelta(days=PREVIEW_DAYS)
    shelf = library.shelf(now)
    meaning = _meaning(node, semantics)
    if not shelf.covers(start):  # more papers in a week than the shelf keeps: read them
        recent = store.papers_seen_between(start, now)
        found = Found.of(matches(cleaned, recent, meaning, closeness), shown)
        considered = len(recent)
    else:
        # The shelf is indexed once, its vectors kept (paperboy.semantic.runtime.KeptVectors).
        window = shelf.between(start, now)
        index = library.index(shelf)
        found = find(cleaned, index, window, shown, meaning=meaning, closeness=closeness)
        considered = len(window)
    return Preview(
        query=cleaned,
        entries=tuple(paper_entry(p, hits) for p, hits in found.best),
        total=found.total,
        considered=considered,
        understood=explain.grouped(node),
        warnings=tuple(explain.warnings(node, cleaned)),
    )


def search(
    store: SqlStore,
    query: str,
    now: datetime,
    *,
    shown: int = SEARCH_SHOWN,
    semantics: Semantics | None = None,
) -> Preview:
    """Every paper on the shelf (up to now) that ``query`` matches: the best ``shown``; about:
    and like: are asked of ``semantics`` (without it they match nothing)."""
    node = checked(query)
    if isinstance(node, Preview):
        return node
    cleaned = _clean(query)
    library = library_for(store)
    shelf = library.shelf(now)
    everything = shelf.between(shelf.since, now)
    meaning = _meaning(node, semantics)
    found = find(cleaned, library.index(shelf), everything, shown, meaning=meaning)
    return Preview(
        query=cleaned,
        entries=tuple(paper_entry(p, hits) for p, hits in found.best),
        total=found.total,
        considered=len(everything),
        since=shelf.since,
        understood=explain.grouped(node),
        warnings=tuple(explain.warnings(node, cleaned)),
    )


def _meaning(node: Node, semantics: Semantics | None) -> Meaning | None:
    """The Meaning, loaded only for a query that needs it."""
    return semantics.meaning() if semantics is not None and semantic_atoms(node) else None


def _clean(query: str) -> str:
    return " ".join(query[:QUERY_CHARS].split())


__all__ = ["Preview", "matches", "preview", "search"]
