"""The Embedder used when the model cannot be: hashed words and word pairs, no model, no data.

Each text becomes the signed feature hashes (crc32, the same in every process and on every
machine) of its folded, plural-folded words and of its adjacent word pairs, stop words left out,
weighted by sublinear term frequency, then L2-normalised (a text without a content word gives
the zero row: close to nothing). Two texts score high when they share
words and phrases, which is what keywords already see; it keeps about:/like: working, not smart.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from paperboy.profiles.text import words
from paperboy.semantic.embedder import Vectors

DIM = 1024  # few enough to store, many enough that an abstract's ~250 features rarely collide
PAIR_WEIGHT = 0.7  # a shared phrase counts, a shared word counts more often
# Words too common in titles and abstracts to say anything about the topic (after folding).
STOP_WORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do doe doing down during each few for from further
    had ha have having he her here hers him his how i if in into is it it its itself just may
    more most much my no nor not now of off on once only or other our ours out over own same
    she should so some such than that the their theirs them then there these they this those
    through to too under until up upon very via wa we were what when where which while who whom
    why will with within without would you your yours paper propose proposed present show
    shown result approach method work new use using used based thi""".split()  # noqa: SIM905
)


@lru_cache(maxsize=262144)
def _slot(feature: str) -> tuple[int, float]:
    """Where a feature lands and its signed weight: one crc32, the low bits the slot, bit 31
    the sign (so collisions cancel out on average instead of adding up)."""
    h = zlib.crc32(feature.encode("utf-8"))
    weight = PAIR_WEIGHT if " " in feature else 1.0
    return h % DIM, -weight if h >> 31 else weight


class LexicalEmbedder:
    """Feature hashing of words and word pairs: deterministic, thousands of papers a second."""

    @property
    def model_id(self) -> str:
        return "lexical-hash/1"

    @property
    def dim(self) -> int:
        return DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            counts = features(text)
            if not counts:
                continue
            slots, signs = zip(*map(_slot, counts), strict=True)
            tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            np.add.at(out[row], np.array(slots), np.array(signs, np.float32) * (1 + np.log(tf)))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: Vectors = out / np.maximum(norms, 1e-12)
        return unit


def features(text: str) -> Counter[str]:
    """Content words and the pairs of content words next to each other (a stop word between
    two words breaks the pair: "learning of robots" gives no "learning robot")."""
    found: list[str] = []
    previous = ""
    for word in words(text):
        if word in STOP_WORDS or len(word) < 2:
            previous = ""
            continue
        found.append(word)
        if previous:
            found.append(f"{previous} {word}")
        previous = word
    return Counter(found)
