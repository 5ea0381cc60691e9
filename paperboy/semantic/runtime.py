"""Meaning in a running process: the one place settings, the store and a clock become the
``Meaning`` the matcher asks and the ``ProfileSpec`` s it matches with.

``Semantics`` loads the model the first time a profile needs it (never for keyword profiles
alone), or falls back to lexical similarity with the reason logged; paper vectors come from the
store (missing ones embedded and stored) and stay in memory once read, so the pages' preview of
a week does not read a week of vectors per keystroke. A meaning that fails while matching
answers from the lexical fallback for that batch: no digest is lost to the model.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine

from paperboy.clock import Clock, system_clock
from paperboy.feedback import specs as specs_of
from paperboy.profiles.document import PaperLike
from paperboy.profiles.matcher import Matcher, ProfileSpec
from paperboy.semantic.closeness import Closeness, Meaning, Want
from paperboy.semantic.embedder import Embedder, Vectors
from paperboy.semantic.load import ModelChoice, load_embedder, model_choice
from paperboy.semantic.vectors import StoredVectors, hash_of, needs_meaning, paper_text
from store.feedback import FeedbackStore
from store.types import Profile
from store.vectors import VectorStore

if TYPE_CHECKING:
    from paperboy.semantic.meaning import PaperVectors
    from paperboy.semantic.vectors import IngestVectors
    from paperboy.settings import Settings
    from store.topic_vectors import TopicVectorStore

log = logging.getLogger(__name__)

KEPT_PAPERS = 20_000  # vectors kept in memory: 20,000 x 384 float32 is ~31 MB
# Paper objects whose text hash is remembered by identity: the pages' shelf (at most
# paperboy.web.library.SEARCH_PAPERS) asks about the same objects at every preview.
KNOWN_OBJECTS = 4_096
STACKS = 4  # the last answers kept whole, by the papers asked about (a preview's week)


class KeptVectors:
    """PaperVectors kept in memory (by arXiv id and text hash, the newest ``cap``) in front of
    another source: a changed abstract is read again, an unchanged one never is. The text hash
    of the last ``known`` paper objects asked about is remembered by their identity (papers are
    frozen), so a preview asking about the shelf's papers again does not hash their texts; and
    the last ``STACKS`` answers are kept whole, by the identities of the papers asked about, so
    asking about the same papers again costs a copy."""

    def __init__(
        self, source: PaperVectors, dim: int, cap: int = KEPT_PAPERS, known: int = KNOWN_OBJECTS
    ) -> None:
        self._source, self._dim, self._cap, self._known_cap = source, dim, cap, known
        self._kept: OrderedDict[str, tuple[str, Vectors]] = OrderedDict()
        # id(paper) -> (the paper, kept so its id is not reused, and its text hash)
        self._known: OrderedDict[int, tuple[PaperLike, str]] = OrderedDict()
        # the ids of the papers asked about -> (those papers, kept so no id is reused; the rows)
        self._stacks: OrderedDict[tuple[int, ...], tuple[tuple[PaperLike, ...], Vectors]]
        self._stacks = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, papers: Sequence[PaperLike]) -> Vectors:
        if not papers:
            return np.zeros((0, self._dim), dtype=np.float32)
        key = tuple(map(id, papers))
        with self._lock:
            stacked = self._stacks.get(key)
            if stacked is not None:
                self._stacks.move_to_end(key)
                return stacked[1].copy()  # the caller's own array, as np.stack gives
        found = self._stack(papers)
        with self._lock:
            self._stacks[key] = (tuple(papers), found)
            while len(self._stacks) > STACKS:
                self._stacks.popitem(last=False)
        return found.copy()

    def _stack(self, papers: Sequence[PaperLike]) -> Vectors:
        hashes = self._hashes(papers)
        with self._lock:
            rows = [self._row(p.arxiv_id, h) for p, h in zip(papers, hashes, strict=True)]
        todo = [i for i, row in enumerate(rows) if row is None]
        if todo:
            fresh = self._source.vectors([papers[i] for i in todo])
            with self._lock:
                for i, row in zip(todo, fresh, strict=True):
                    rows[i] = self._keep(papers[i].arxiv_id, hashes[i], row)
        return np.stack(rows)  # type: ignore[arg-type]  # every None was filled above

    def _hashes(self, papers: Sequence[PaperLike]) -> list[str]:
        """Each paper's text hash: remembered for a paper object seen lately, else computed."""
        with self._lock:
            known = [self._known.get(id(p)) for p in papers]
        found = [
            k[1] if k is not None and k[0] is p else hash_of(p)
            for p, k in zip(papers, known, strict=True)
        ]
        with self._lock:
            for paper, text_hash in zip(papers, found, strict=True):
                self._known[id(paper)] = (paper, text_hash)
                self._known.move_to_end(id(paper))
            while len(self._known) > self._known_cap:
                self._known.popitem(last=False)
        return found

    def _row(self, arxiv_id: str, text_hash: str) -> Vectors | None:
        found = self._kept.get(arxiv_id)
        if found is None or found[0] != text_hash:
            return None
        self._kept.move_to_end(arxiv_id)
        return found[1]

    def _keep(self, arxiv_id: str, text_hash: str, row: Vectors) -> Vectors:
        kept = np.asarray(row, dtype=np.float32)
        self._kept[arxiv_id] = (text_hash, kept)
        self._kept.move_to_end(arxiv_id)
        while len(self._kept) > self._cap:
            self._kept.popitem(last=False)
        return kept


class Computed:
    """PaperVectors computed on demand and stored nowhere (the lexical fallback: cheap)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def vectors(self, papers: Sequence[PaperLike]) -> Vectors:
        if not papers:
            return np.zeros((0, self._embedder.dim), dtype=np.float32)
        return self._embedder.embed([paper_text(p) for p in papers])


class Fallback:
    """A Meaning that answers from ``lexical`` when ``primary`` fails (an onnxruntime error,
    a lost database): the batch is matched, not lost, and the failure is logged."""

    def __init__(self, primary: Meaning, lexical: Meaning) -> None:
        self.primary, self.lexical = primary, lexical

    @property
    def model_id(self) -> str:
        return self.primary.model_id

    def close(self, wants: Sequence[Want], papers: Sequence[PaperLike]) -> list[Closeness]:
        try:
            return self.primary.close(wants, papers)
        except Exception:
            log.exception("meaning failed; this batch uses lexical similarity")
            return self.lexical.close(wants, papers)

    def held_back(self, rejected: tuple[str, ...], papers: Sequence[PaperLike]) -> int:
        try:
            return self.primary.held_back(rejected, papers)
        except Exception:
            log.exception("meaning failed; this batch uses lexical similarity")
            return self.lexical.held_back(rejected, papers)

    def why(self, want: Want, paper: PaperLike) -> str:
        try:
            return self.primary.why(want, paper)
        except Exception:
            log.exception("meaning failed; this reason uses lexical similarity")
            return self.lexical.why(want, paper)


class Semantics:
    """Meaning for one process and one database: built on first need, then kept."""

    def __init__(self, choice: ModelChoice, engine: Engine, clock: Clock = system_clock) -> None:
        self.choice, self._engine, self._clock = choice, engine, clock
        self._lock = threading.Lock()
        self._meaning: Meaning | None = None
        self._saved: Meaning | None = None
        self._reason: str | None = None
        # Made by the first _build, shared by both meanings (previews' and saved profiles'):
        # the paper vectors kept in memory (read once for both) and the lexical fallback.
        self._vectors: KeptVectors | None = None
        self._fallback: Meaning | None = None

    @classmethod
    def of(cls, settings: Settings, engine: Engine, clock: Clock = system_clock) -> Semantics:
        return cls(model_choice(settings), engine, clock)

    def meaning(self) -> Meaning:
        """The Meaning (the model's, or lexical similarity when it cannot be used)."""
        with self._lock:
            if self._meaning is None:
                self._meaning, self._reason = self._build()
            return self._meaning

    @property
    def reason(self) -> str | None:
        """Why the model is not used (None: it is); loads it to know."""
        self.meaning()
        return self._reason

    @property
    def model_id(self) -> str:
        """The model closeness settings are stored for now."""
        return self.meaning().model_id

    def specs(self, profiles: Sequence[Profile]) -> list[ProfileSpec]:
        """The matcher's specs of stored profiles, with their feedback (one query)."""
        return specs_of(profiles, FeedbackStore(self._engine))

    def matcher(self, profiles: Sequence[Profile]) -> Matcher:
        """A matcher of these stored profiles; meaning is loaded only if one of them needs it.

        Their topic vectors are kept in ``topic_vectors`` (a cold run embeds only new topics);
        previews and searches use ``meaning()``, which keeps nothing, so a stranger's typing
        never grows the database."""
        wanted = needs_meaning(p.query for p in profiles)
        return Matcher(self.specs(profiles), self._saved_meaning() if wanted else None)

    def _saved_meaning(self) -> Meaning:
        meaning = self.meaning()
        with self._lock:
            if self._saved is None:
                self._saved = self._build(keep_topics=True)[0] if self._reason is None else meaning
            return self._saved

    def stored_vectors(self) -> StoredVectors | None:
        """The model's StoredVectors, or None when the lexical fallback is used (it stores
        nothing): the loader ingest's hook asks for."""
        embedder, reason = load_embedder(self.choice)
        if reason is not None:
            return None
        return StoredVectors(embedder, _vector_store(self._engine), clock=self._clock)

    def ingest_hook(self) -> IngestVectors:
        """Ingest's hook: the new papers embedded while some active profile needs meaning."""
        from paperboy.semantic.vectors import IngestVectors

        return IngestVectors(self.stored_vectors, _vector_store(self._engine))

    def _build(self, *, keep_topics: bool = False) -> tuple[Meaning, str | None]:
        embedder, reason = load_embedder(self.choice)
        if self._fallback is None:
            self._fallback = _lexical(self._engine)
        lexical = self._fallback
        if reason is not None:
            log.warning("about: and like: use lexical similarity: %s", reason)
            return lexical, reason
        if self._vectors is None:
            stored = StoredVectors(embedder, _vector_store(self._engine), clock=self._clock)
            self._vectors = KeptVectors(stored, embedder.dim)
        topics = _topic_store(self._engine) if keep_topics else None
        return Fallback(
            _vector_meaning(embedder, self._vectors, self._engine, topics), lexical
        ), None


def meaning_for(
    settings: Settings, engine: Engine, clock: Clock = system_clock
) -> tuple[Meaning, str | None]:
    """The Meaning a command uses, and why the model is not used (None when it is)."""
    semantics = Semantics.of(settings, engine, clock)
    return semantics.meaning(), semantics.reason


def _lexical(engine: Engine) -> Meaning:
    from paperboy.semantic.lexical import LexicalEmbedder

    embedder = LexicalEmbedder()
    return _vector_meaning(embedder, KeptVectors(Computed(embedder), embedder.dim), engine)


def _vector_meaning(
    embedder: Embedder,
    kept: KeptVectors,
    engine: Engine,
    topics: TopicVectorStore | None = None,
) -> Meaning:
    from paperboy.semantic.background import background_for
    from paperboy.semantic.meaning import VectorMeaning
    from store.repository import SqlStore

    lookup = SqlStore(engine).papers_by_id
    return VectorMeaning(embedder, kept, background_for(embedder), lookup, topics=topics)


def _topic_store(engine: Engine) -> TopicVectorStore:
    from store.topic_vectors import TopicVectorStore

    return TopicVectorStore(engine)


def _vector_store(engine: Engine) -> VectorStore:
    return VectorStore(engine)


_SHARED: weakref.WeakKeyDictionary[Engine, dict[ModelChoice, Semantics]] = (
    weakref.WeakKeyDictionary()
)
_SHARED_LOCK = threading.Lock()


def shared(settings: Settings, engine: Engine, clock: Clock = system_clock) -> Semantics:
    """The process's Semantics for this database and model choice: `serve`'s fetch, dispatch
    and pages share one, so the vectors they read are kept once."""
    choice = model_choice(settings)
    with _SHARED_LOCK:
        kept = _SHARED.setdefault(engine, {})
        if choice not in kept:
            kept[choice] = Semantics(choice, engine, clock)
        return kept[choice]
