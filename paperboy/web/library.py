"""The recent papers kept in memory for the pages: read once per change, analysed once.

The recent-papers page, the search box and the profile preview read the same shelf: the papers
first seen in the last ``SEARCH_DAYS`` days (at most ``SEARCH_PAPERS``, the newest), oldest
first, so any time window is a range of positions. The shelf is read again when a fetch has been
recorded since (store.freshness_probe: one primary-key lookup per request) or after
``MAX_AGE`` seconds whatever happens. Its papers are analysed and indexed (paperboy.profiles) the
first time a query needs it, and a paper is analysed again only when it changed.
"""

from __future__ import annotations

import threading
import time
import weakref
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from paperboy.profiles.document import Document, analyse
from paperboy.profiles.index import PaperIndex
from paperboy.profiles.matcher import PreparedBatch
from store.freshness_probe import FreshnessProbe
from store.repository import SqlStore
from store.types import Paper

SEARCH_DAYS = 90
SEARCH_PAPERS = 3_000
MAX_AGE = 300.0  # seconds; a PostgreSQL fetch id can commit after a higher one
PROBE_INTERVAL = 0.5  # seconds between two looks at the newest fetch id (read at each call)
# The index keeps every distinct term it was asked about; a fresh one (from the kept analyses)
# after this many queries bounds that memory whatever strangers type.
QUERIES_PER_INDEX = 2_000
_END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Shelf:
    """The papers first seen since ``since``, oldest first, as read at ``version``."""

    papers: tuple[Paper, ...]
    seen: tuple[datetime, ...]  # each paper's first_seen_at
    since: datetime  # every paper first seen after this is on the shelf
    version: int
    key: object = field(default_factory=object, compare=False)  # identity for render caches

    def between(self, start: datetime, end: datetime) -> range:
        """The positions of the papers first seen in (start, end]."""
        return range(bisect_right(self.seen, start), bisect_right(self.seen, end))

    def covers(self, start: datetime) -> bool:
        return start >= self.since


class Index:
    """The shelf's papers analysed and indexed, ready for the Matcher; the index is renewed
    every ``QUERIES_PER_INDEX`` uses (see above)."""

    def __init__(self, shelf: Shelf, docs: list[Document]) -> None:
        self.shelf = shelf
        self._docs = docs
        self._batch = self._prepared()
        self._uses = 0
        self._lock = threading.Lock()

    def _prepared(self) -> PreparedBatch:
        return PreparedBatch(self.shelf.papers, PaperIndex(self._docs))

    def use(self) -> PreparedBatch:
        """The shelf as a batch the Matcher matches (Matcher.match_prepared)."""
        with self._lock:
            self._uses += 1
            if self._uses > QUERIES_PER_INDEX:
                self._batch, self._uses = self._prepared(), 1
            return self._batch


class Library:
    """One per store: hands out the current shelf and its index."""

    def __init__(
        self,
        store: SqlStore,
        probe: FreshnessProbe,
        *,
        days: int = SEARCH_DAYS,
        cap: int = SEARCH_PAPERS,
        max_age: float = MAX_AGE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store, self._probe = store, probe
        self._days, self._cap, self._max_age, self._monotonic = days, cap, max_age, monotonic
        self._lock = threading.Lock()
        self._shelf: Shelf | None = None
        self._read_at = 0.0
        self._version = -1
        self._probed_at = float("-inf")
        self._index: Index | None = None
        self._analysed: dict[str, Document] = {}

    def known(self, now: datetime) -> Shelf | None:
        """The shelf if it is known to be current without asking the database, else None."""
        shelf = self._shelf
        if shelf is None or self._monotonic() - self._probed_at >= PROBE_INTERVAL:
            return None
        return shelf if self._fits(shelf, self._version, now) else None

    def shelf(self, now: datetime) -> Shelf:
        """The shelf as the store has it now (read again only if it may have changed)."""
        if self._monotonic() - self._probed_at >= PROBE_INTERVAL:
            self._version = self._probe.papers_version()
            self._probed_at = self._monotonic()
        version, shelf = self._version, self._shelf
        if shelf is not None and self._fits(shelf, version, now):
            return shelf
        with self._lock:
            if self._shelf is shelf:  # nobody read it again while this thread waited
                start = now - timedelta(days=self._days)
                self._shelf, self._read_at = self._read(version, start), self._monotonic()
            current = self._shelf
        assert current is not None
        return current

    def _fits(self, shelf: Shelf, version: int, now: datetime) -> bool:
        return (
            shelf.version == version
            and shelf.covers(now - timedelta(days=self._days))
            and self._monotonic() - self._read_at < self._max_age
        )

    def index(self, shelf: Shelf) -> Index:
        """The shelf's index, built the first time a query asks."""
        found = self._index
        if found is not None and found.shelf is shelf:
            return found
        with self._lock:
            found = self._index
            if found is None or found.shelf is not shelf:
                found = self._index = Index(shelf, self._documents(shelf.papers))
            return found

    def _read(self, version: int, start: datetime) -> Shelf:
        papers = self._store.papers_seen_between(start, _END_OF_TIME)
        since = start
        if len(papers) > self._cap:
            papers = papers[-self._cap :]
            since = papers[0].first_seen_at  # older ones were left off: not covered
        return Shelf(tuple(papers), tuple(p.first_seen_at for p in papers), since, version)

    def _documents(self, papers: tuple[Paper, ...]) -> list[Document]:
        """Analyses of the papers, reusing the ones of papers that did not change."""
        docs = []
        kept: dict[str, Document] = {}
        for paper in papers:
            doc = self._analysed.get(paper.arxiv_id)
            if doc is None or doc.paper != paper:
                doc = analyse(paper)
            kept[paper.arxiv_id] = doc
            docs.append(doc)
        self._analysed = kept
        return docs


_LIBRARIES: weakref.WeakKeyDictionary[SqlStore, Library] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def library_for(store: SqlStore) -> Library:
    """The library of this store object (the app's pages share one)."""
    with _REGISTRY_LOCK:
        found = _LIBRARIES.get(store)
        if found is None:
            found = _LIBRARIES[store] = Library(store, FreshnessProbe(store._engine))
        return found


__all__ = ["Index", "Library", "Shelf", "library_for"]
