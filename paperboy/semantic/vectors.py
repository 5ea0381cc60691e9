"""Paper vectors: the text a paper is embedded from, its hash, and vectors read from the store
or computed (in batches) and stored when missing or when the text changed since."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Protocol, TypeVar

import numpy as np

from paperboy.clock import Clock, system_clock
from paperboy.errors import ProfileSyntaxError
from paperboy.profiles.ast import About, And, Like, Node, Not, Or
from paperboy.profiles.document import PaperLike
from paperboy.profiles.parser import parse_stored
from paperboy.semantic.embedder import Embedder, Vectors
from store.vectors import FloatRow, NewVector, PaperText, StoredVector, decode, encode

log = logging.getLogger(__name__)

MAX_CHARS = 2000  # MiniLM reads 256 tokens (~1,200 characters of English); the rest is noise
HASH_CHARS = 16  # 64 bits of sha256: a changed text goes unnoticed once in 2**64
BATCH = 32  # papers per embedding call and per write transaction
TOPIC_QUERIES = 200  # queries read to decide whether meaning is needed (the first one decides)
_SEMANTIC = re.compile(r"(?<![\w:])(about|like):", re.IGNORECASE)

T = TypeVar("T")
Progress = Callable[[int, int], None]  # (papers done, papers to do)


class Texted(Protocol):
    """What a vector is computed from (a stored Paper, a ScrapedPaper, a store PaperText)."""

    @property
    def arxiv_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str | None: ...
    @property
    def ai_summary(self) -> str | None: ...


class VectorRepository(Protocol):
    """What StoredVectors needs of the store (store.vectors.VectorStore)."""

    def get(self, arxiv_ids: Sequence[str], model: str) -> dict[str, StoredVector]: ...

    def put_many(self, vectors: Sequence[NewVector], now: datetime) -> int: ...

    def pending(
        self, model: str, text_hash_of: Callable[[PaperText], str], *, page: int = ...
    ) -> Iterable[PaperText]: ...


class IngestRepository(Protocol):
    """What the ingest hook reads (store.vectors.VectorStore)."""

    def texts(self, arxiv_ids: Sequence[str]) -> list[PaperText]: ...

    def topic_queries(self, limit: int = ...) -> list[str]: ...


def paper_text(paper: Texted) -> str:
    """What a paper is embedded from: "title. abstract" (the AI summary when there is no
    abstract), whitespace collapsed, capped."""
    head = " ".join(paper.title.split())
    body = " ".join((paper.summary or paper.ai_summary or "").split())
    if not (head and body):
        return (head or body)[:MAX_CHARS]
    stop = "" if head[-1] in ".?!" else "."  # "Is attention enough?. We ..." reads badly
    return f"{head}{stop} {body}"[:MAX_CHARS]


def text_hash(text: str) -> str:
    """The short sha256 (hex) stored beside a vector: when it changes, so must the vector."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def hash_of(paper: Texted) -> str:
    return text_hash(paper_text(paper))


class StoredVectors:
    """Vectors of papers for one embedder: read from the store, computed when missing or stale.

    Satisfies paperboy.semantic.meaning.PaperVectors. A vector handed out is always the stored
    float16 value read back (a fresh one is rounded the same way), so a paper's closeness does
    not depend on whether it was computed a moment ago or last week.
    """

    def __init__(
        self,
        embedder: Embedder,
        store: VectorRepository,
        *,
        clock: Clock = system_clock,
        batch: int = BATCH,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._embedder, self._store, self._clock, self._batch = embedder, store, clock, batch

    @property
    def model_id(self) -> str:
        return self._embedder.model_id

    def vectors(self, papers: Sequence[PaperLike]) -> Vectors:
        """Row i is the unit vector of papers[i]; missing or stale ones are embedded (and
        stored, for papers the store holds) first."""
        found = self._current(papers)
        todo = {p.arxiv_id: p for p in papers if p.arxiv_id not in found}
        for chunk in _chunks(list(todo.values()), self._batch):
            found.update(self._embed(chunk))
        out = np.zeros((len(papers), self._embedder.dim), dtype=np.float32)
        for i, paper in enumerate(papers):
            out[i] = found[paper.arxiv_id]
        return out

    def ensure(self, papers: Sequence[Texted]) -> int:
        """Embed and store the papers with no current vector; returns how many were embedded."""
        found = self._current(papers)
        todo = list({p.arxiv_id: p for p in papers if p.arxiv_id not in found}.values())
        for chunk in _chunks(todo, self._batch):
            self._embed(chunk)
        return len(todo)

    def fill(self, progress: Progress | None = None, *, limit: int | None = None) -> int:
        """The backfill: embed every stored paper with no current vector (at most ``limit``),
        a batch per write; ``progress(done, total)`` after each. Returns how many."""
        model = self.model_id
        total = sum(1 for _ in self._store.pending(model, hash_of))
        if limit is not None:
            total = min(total, limit)
        if progress is not None:
            progress(0, total)
        done = 0
        pending = islice(self._store.pending(model, hash_of), total)
        for chunk in _chunks(pending, self._batch):
            self._embed(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        return done

    def _current(self, papers: Sequence[Texted]) -> dict[str, FloatRow]:
        """The stored vectors whose text is still the paper's text."""
        stored = self._store.get([p.arxiv_id for p in papers], self.model_id)
        return {
            p.arxiv_id: stored[p.arxiv_id].vector
            for p in papers
            if p.arxiv_id in stored and stored[p.arxiv_id].text_hash == hash_of(p)
        }

    def _embed(self, papers: Sequence[Texted]) -> dict[str, FloatRow]:
        texts = [paper_text(p) for p in papers]
        computed = self._embedder.embed(texts)
        fresh = [
            NewVector(p.arxiv_id, self.model_id, text_hash(t), decode(encode(v)))
            for p, t, v in zip(papers, texts, computed, strict=True)
        ]
        self._store.put_many(fresh, self._clock())
        return {v.arxiv_id: v.vector for v in fresh}


class IngestVectors:
    """Ingest's hook (paperboy.ingest.PaperEmbedding): vectors for the papers a fetch stored,
    computed only while some active profile matches by meaning, so fetching for keyword
    profiles alone costs one small query per list, and never loads the model.

    ``load`` gives the StoredVectors of the model (called only when meaning is needed; cache
    in it what should be loaded once), or None when the model is not used: the lexical
    fallback needs no stored vectors.
    """

    def __init__(self, load: Callable[[], StoredVectors | None], store: IngestRepository) -> None:
        self._load, self._store = load, store

    def after_ingest(self, arxiv_ids: Sequence[str]) -> int:
        """Embed the new or changed papers among ``arxiv_ids``; returns how many."""
        if not arxiv_ids or not needs_meaning(self._store.topic_queries(TOPIC_QUERIES)):
            return 0
        vectors = self._load()
        if vectors is None:
            return 0
        # The stored text, not the fetched one: a list that lacks the abstract keeps the
        # abstract an earlier fetch stored, and the vector follows what is stored.
        return vectors.ensure(self._store.texts(arxiv_ids))


def needs_meaning(queries: Iterable[str]) -> bool:
    """Whether any of these profile queries has an ``about:`` or ``like:`` term."""
    return any(_uses_meaning(q) for q in queries)


def _uses_meaning(query: str) -> bool:
    try:
        return _has_semantic(parse_stored(query))
    except ProfileSyntaxError:  # a parser without about:/like: yet, or a broken query
        return _SEMANTIC.search(query) is not None


def _has_semantic(node: Node) -> bool:
    if isinstance(node, About | Like):
        return True
    if isinstance(node, Not):
        return _has_semantic(node.child)
    if isinstance(node, And | Or):
        return any(_has_semantic(c) for c in node.children)
    return False


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
