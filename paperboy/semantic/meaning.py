"""Closeness by meaning over an Embedder: the ``Meaning`` the matcher asks about topics.

A want's vector is its ``about:`` text embedded (or the mean of its ``like:`` examples), moved by
the profile's feedback (Rocchio). Its cut-off is calibrated once per vector against a fixed
background sample of papers (paperboy.semantic.score), never against the batch, so a paper's
verdict is the same in a batch of 50 and in a preview of 500. All wants of a batch are scored
with one matrix product.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar, overload

import numpy as np

from paperboy.profiles.ast import About, Like
from paperboy.profiles.document import PaperLike
from paperboy.semantic import score
from paperboy.semantic.closeness import Closeness, Want
from paperboy.semantic.embedder import Embedder, Vectors

# Papers looked up by arXiv id (the examples of like:, the papers of feedback); unknown ids
# are left out.
PaperLookup = Callable[[Sequence[str]], Sequence[PaperLike]]

K = TypeVar("K")
V = TypeVar("V")

WHY_CHARS = 200
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


class PaperVectors(Protocol):
    """Where paper vectors come from (the store keeps them; it embeds the missing ones)."""

    def vectors(self, papers: Sequence[PaperLike]) -> Vectors:
        """Row i is the unit vector of papers[i] (``paper_text``, by the same embedder)."""
        ...


def paper_text(paper: PaperLike) -> str:
    """What is embedded for a paper: its title and abstract (the model reads 256 tokens)."""
    return f"{paper.title}. {paper.summary or paper.ai_summary or ''}".strip()


def sentences(text: str) -> list[str]:
    """The sentences of an abstract, on full stops followed by a capital or a digit."""
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]


class InMemoryVectors:
    """PaperVectors kept in a dict by arXiv id: for tests, the bench and one-off runs."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._known: dict[str, Vectors] = {}

    def prime(self, ids: Sequence[str], rows: Vectors) -> None:
        """Vectors known already (row i for ids[i]), e.g. read from a file."""
        self._known.update(zip(ids, rows.astype(np.float32), strict=True))

    def vectors(self, papers: Sequence[PaperLike]) -> Vectors:
        missing = {p.arxiv_id: p for p in papers if p.arxiv_id not in self._known}
        if missing:
            rows = self._embedder.embed([paper_text(p) for p in missing.values()])
            self._known.update(zip(missing, rows, strict=True))
        if not papers:
            return np.zeros((0, self._embedder.dim), dtype=np.float32)
        return np.stack([self._known[p.arxiv_id] for p in papers])


class _Row(Sequence[float]):
    """One want's scores over the batch, read from the shared matrix (no copy per want)."""

    __slots__ = ("_row",)

    def __init__(self, row: Vectors) -> None:
        self._row = row

    def __len__(self) -> int:
        return len(self._row)

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[float]: ...
    def __getitem__(self, index: int | slice) -> float | Sequence[float]:
        if isinstance(index, slice):
            return [float(x) for x in self._row[index]]
        return float(self._row[index])

    def __iter__(self) -> Iterator[float]:
        return iter(self._row.tolist())


class VectorMeaning:
    """``Meaning`` over an Embedder, stored paper vectors and a fixed background sample."""

    def __init__(
        self,
        embedder: Embedder,
        vectors: PaperVectors,
        background: Vectors,
        papers_by_id: PaperLookup,
        settings: score.Settings = score.DEFAULT,
        cache_size: int = 65536,
    ) -> None:
        self._embedder = embedder
        self._vectors = vectors
        self._background = background.astype(np.float32)
        self._lookup = papers_by_id
        self.settings = settings
        self._cache_size = cache_size
        self._texts: OrderedDict[str, Vectors] = OrderedDict()
        self._wants: OrderedDict[Want, tuple[Vectors, float, float]] = OrderedDict()
        self._sentences: OrderedDict[str, tuple[list[str], Vectors]] = OrderedDict()

    @property
    def model_id(self) -> str:
        return self._embedder.model_id

    def close(self, wants: Sequence[Want], papers: Sequence[PaperLike]) -> list[Closeness]:
        if not wants:
            return []
        if not papers:
            return [Closeness(0, ()) for _ in wants]
        found = self._calibrated(wants)
        queries = np.stack([f[0] for f in found])
        cal = score.Calibration(
            np.array([f[1] for f in found], dtype=np.float32),
            np.array([f[2] for f in found], dtype=np.float32),
        )
        cosines = queries @ self._vectors.vectors(papers).T
        z = score.zscores(cosines, cal)
        cuts = np.array(
            [score.cutoff(w.step, bool(w.liked), self.settings) for w in wants], dtype=np.float32
        )
        masks = score.close_mask(cosines, z, cuts, self.settings)
        return [
            Closeness(bits, _Row(zrow)) for bits, zrow in zip(score.bitsets(masks), z, strict=True)
        ]

    def held_back(self, rejected: tuple[str, ...], papers: Sequence[PaperLike]) -> int:
        examples = self._example_vectors(rejected)
        if not len(examples) or not papers:
            return 0
        near = score.near_any(examples, self._vectors.vectors(papers), self.settings)
        return score.bitset(near)

    def why(self, want: Want, paper: PaperLike) -> str:
        if isinstance(want.atom, Like):
            return self._why_like(want.atom, paper)
        text, vectors = self._sentence_vectors(paper)
        if not text:
            return _clip(paper.title)
        query = self._calibrated([want])[0][0]
        return _clip(text[int(np.argmax(vectors @ query))])

    def vector(self, want: Want) -> Vectors:
        """The want's vector after feedback (what its closeness is measured from)."""
        return self._calibrated([want])[0][0]

    def _why_like(self, atom: Like, paper: PaperLike) -> str:
        examples = list(self._lookup(atom.arxiv_ids))
        if not examples:
            return "close to " + ", ".join(atom.arxiv_ids)
        sims = self._vectors.vectors(examples) @ self._vectors.vectors([paper])[0]
        return _clip("close to " + examples[int(np.argmax(sims))].title)

    def _calibrated(self, wants: Sequence[Want]) -> list[tuple[Vectors, float, float]]:
        """Each want's vector and background statistics, computed once per distinct want."""
        new = [w for w in dict.fromkeys(wants) if w not in self._wants]
        if new:
            queries = np.stack(self._queries(new))
            cal = score.calibrate(queries, self._background, self.settings)
            for i, want in enumerate(new):
                self._remember(
                    self._wants, want, (queries[i], float(cal.mean[i]), float(cal.std[i]))
                )
        return [self._wants[w] for w in wants]

    def _queries(self, wants: Sequence[Want]) -> list[Vectors]:
        texts = [w.atom.text for w in wants if isinstance(w.atom, About)]
        self._embed_texts(texts)
        out = []
        for want in wants:
            if isinstance(want.atom, About):
                base = self._texts[want.atom.text]
            else:
                base = score.unit(self._example_vectors(want.atom.arxiv_ids).mean(axis=0)[None])[0]
            if want.liked or want.rejected:
                liked = self._example_vectors(want.liked)
                rejected = self._example_vectors(want.rejected)
                base = score.rocchio(base, liked, rejected, self.settings)
            out.append(base)
        return out

    def _embed_texts(self, texts: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if missing:
            for text, row in zip(missing, self._embedder.embed(missing), strict=True):
                self._remember(self._texts, text, row)

    def _example_vectors(self, ids: Sequence[str]) -> Vectors:
        found = list(self._lookup(ids)) if ids else []
        if not found:
            return np.zeros((0, self._embedder.dim), dtype=np.float32)
        return self._vectors.vectors(found)

    def _sentence_vectors(self, paper: PaperLike) -> tuple[list[str], Vectors]:
        cached = self._sentences.get(paper.arxiv_id)
        if cached is None:
            parts = sentences(paper.summary or paper.ai_summary or "")
            rows = self._embedder.embed(parts) if parts else np.zeros((0, self._embedder.dim))
            cached = (parts, rows.astype(np.float32))
            self._remember(self._sentences, paper.arxiv_id, cached)
        return cached

    def _remember(self, cache: OrderedDict[K, V], key: K, value: V) -> None:
        cache[key] = value
        if len(cache) > self._cache_size:
            cache.popitem(last=False)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= WHY_CHARS else text[: WHY_CHARS - 1].rstrip() + "…"
