"""The lexical half of closeness: BM25 of a topic's own words against a paper (pure numpy).

An ``about:`` sentence names its topic's key words ("speculative decoding", "KV cache",
"Gaussian splatting"); MiniLM blurs them, BM25 does not. Document frequencies and the mean
length come from the fixed background sample, so a paper's score depends on the topic and the
paper only. Scores are square-rooted (BM25 is mostly zero with a long tail; the root keeps
one rare word from swamping the z-score). Terms: folded words and adjacent word pairs, stop
words out (as paperboy.semantic.lexical reads text).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from paperboy.semantic.lexical import features

Matrix = npt.NDArray[np.float32]
K1, B = 1.2, 0.75
CHUNK = 1024  # queries summed at a time


def terms(text: str) -> Counter[str]:
    """Content words and pairs of adjacent content words, counted (the lexical embedder's
    features: both read text the same way)."""
    return features(text)


@dataclass(frozen=True, slots=True)
class Corpus:
    """Document frequencies and mean length of the background (what IDF is measured on)."""

    size: int
    frequency: dict[str, int]
    mean_length: float

    @classmethod
    def of(cls, documents: Sequence[Counter[str]]) -> Corpus:
        frequency: Counter[str] = Counter()
        for doc in documents:
            frequency.update(doc.keys())
        lengths = [sum(d.values()) for d in documents]
        mean = float(np.mean(lengths)) if lengths else 1.0
        return cls(len(documents), dict(frequency), max(mean, 1.0))

    def idf(self, term: str) -> float:
        return self.idf_of(self.frequency.get(term, 0))

    def idf_of(self, df: int) -> float:
        """The IDF of a term found in ``df`` background papers."""
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))


def scores(queries: Sequence[Counter[str]], docs: Sequence[Counter[str]], corpus: Corpus) -> Matrix:
    """sqrt(BM25) of every query (rows) against every document (columns). Only the queries'
    terms that occur in the documents are weighed (a documents x terms matrix), and queries are
    summed in chunks, so 10,000 topics over 1,000 papers stay within tens of megabytes."""
    out = np.zeros((len(queries), len(docs)), dtype=np.float32)
    seen = {t for doc in docs for t in doc}
    vocab = {t: i for i, t in enumerate(dict.fromkeys(t for q in queries for t in q if t in seen))}
    if not vocab:
        return out
    weights = np.zeros((len(docs), len(vocab)), dtype=np.float32)
    for j, doc in enumerate(docs):
        norm = K1 * (1 - B + B * sum(doc.values()) / corpus.mean_length)
        for term, tf in doc.items():
            col = vocab.get(term)
            if col is not None:
                weights[j, col] = tf * (K1 + 1) / (tf + norm)
    weights *= np.array([corpus.idf(t) for t in vocab], dtype=np.float32)
    rows = [(i, [vocab[t] for t in q if t in vocab]) for i, q in enumerate(queries)]
    rows = [(i, cols) for i, cols in rows if cols]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        cols = [c for _, cs in chunk for c in cs]
        starts = np.cumsum([0] + [len(cs) for _, cs in chunk[:-1]])
        sums = np.add.reduceat(weights[:, cols], starts, axis=1)
        out[[i for i, _ in chunk]] = sums.T
    root: Matrix = np.sqrt(np.maximum(out, 0.0)).astype(np.float32)
    return root
