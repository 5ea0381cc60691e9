"""A batch of papers as bitsets: for every word, the set of papers (bits) that contain it.

A term's papers are then one dictionary lookup (a word), an AND of lookups checked for
adjacency (a phrase), or an OR over the vocabulary (a prefix); a whole profile is a few integer
operations. Each term is evaluated once per batch however many profiles use it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Sequence

from paperboy.profiles.ast import Feature, Field, Metric
from paperboy.profiles.compiler import Probe
from paperboy.profiles.document import Document

_FIELDS = (Field.TITLE, Field.ABSTRACT, Field.AUTHOR, Field.ORG, Field.KEYWORD)
_OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}


class PaperIndex:
    """Inverted index of one batch of analysed papers; bit i stands for ``docs[i]``."""

    def __init__(self, docs: Sequence[Document]) -> None:
        self.docs = docs
        self.everything = (1 << len(docs)) - 1
        # Each word's papers gathered as a list of bits, then summed (distinct powers of two:
        # the same as OR-ing them, in C), rather than OR-ing a growing integer per occurrence.
        self._words: dict[Field, dict[str, int]] = {}
        self._raw: dict[Field, dict[str, int]] = {}
        for field in _FIELDS:
            words: defaultdict[str, list[int]] = defaultdict(list)
            raw: defaultdict[str, list[int]] = defaultdict(list)
            for bit, doc in enumerate(docs):
                flag = 1 << bit
                text = doc.fields[field]
                for word in text.vocabulary:
                    words[word].append(flag)
                for word in text.raw:
                    raw[word].append(flag)
            self._words[field] = {w: sum(flags) for w, flags in words.items()}
            self._raw[field] = {w: sum(flags) for w, flags in raw.items()}
        self._sorted_raw = {f: sorted(self._raw[f]) for f in _FIELDS}
        self._terms: dict[object, dict[Field, int]] = {}
        self._filters: dict[tuple[str, str, int], int] = {}

    def term(self, probe: Probe) -> int:
        """The papers that contain the term in any of its fields."""
        found = 0
        for mask in self.term_by_field(probe).values():
            found |= mask
        return found

    def term_by_field(self, probe: Probe) -> dict[Field, int]:
        cached = self._terms.get(probe.key)
        if cached is None:
            cached = self._terms[probe.key] = {f: self._in_field(probe, f) for f in probe.fields}
        return cached

    def _in_field(self, probe: Probe, field: Field) -> int:
        if not probe.words:
            return 0
        if probe.term.prefix:
            return self._prefix(probe.words[0], field)
        masks = self._words[field]
        if len(probe.words) == 1:
            return masks.get(probe.words[0], 0)
        candidates = self.everything
        for word in probe.words:
            candidates &= masks.get(word, 0)
            if not candidates:
                return 0
        return self._verify(candidates, probe, field)

    def _prefix(self, prefix: str, field: Field) -> int:
        vocabulary, raw = self._sorted_raw[field], self._raw[field]
        found = 0
        for i in range(bisect_left(vocabulary, prefix), len(vocabulary)):
            if not vocabulary[i].startswith(prefix):
                break
            found |= raw[vocabulary[i]]
        return found

    def _verify(self, candidates: int, probe: Probe, field: Field) -> int:
        """Keep the papers where the phrase's words stand next to each other: its words, one
        space apart, found in the field's spaced text (a substring search in C)."""
        needle = f" {' '.join(probe.words)} "
        docs = self.docs
        found = 0
        for bit in bits(candidates):
            if needle in docs[bit].fields[field].spaced:
                found |= 1 << bit
        return found

    def compare(self, metric: Metric, op: str, value: int) -> int:
        key = (metric, op, value)
        cached = self._filters.get(key)
        if cached is None:
            test = _OPS[op]
            upvotes = metric == Metric.UPVOTES  # once, not per paper
            cached = 0
            for bit, doc in enumerate(self.docs):
                actual = doc.upvotes if upvotes else doc.stars
                if test(actual, value):
                    cached |= 1 << bit
            self._filters[key] = cached
        return cached

    def has(self, what: Feature) -> int:
        key = ("has", what, 0)
        cached = self._filters.get(key)
        if cached is None:
            code = what == Feature.CODE  # once, not per paper
            cached = 0
            for bit, doc in enumerate(self.docs):
                if doc.has_code if code else doc.has_project:
                    cached |= 1 << bit
            self._filters[key] = cached
        return cached


def bits(mask: int) -> list[int]:
    """The positions of the set bits, lowest first."""
    found = []
    while mask:
        low = mask & -mask
        found.append(low.bit_length() - 1)
        mask ^= low
    return found


def term_hits(probes: Sequence[Probe], docs: Sequence[Document]) -> list[int]:
    """``PaperIndex(docs).term(probe)`` of each probe, without indexing every word of the batch:
    for a few terms over a batch (the ~hints of about:), where building the whole index would
    cost more than the answer (a 350-paper preview: ~60 ms to index, ~1 ms this way). The words
    asked for are looked up in each field of each paper at once (a set intersection, in C);
    a phrase is then checked in the field's spaced text, a prefix in its raw words joined."""
    found = [0] * len(probes)
    words: dict[Field, defaultdict[str, list[int]]] = {}  # field -> word -> its one-word probes
    phrases: dict[Field, defaultdict[str, list[int]]] = {}  # field -> first word -> phrases
    prefixes: dict[Field, list[int]] = {}
    for i, probe in enumerate(probes):
        if not probe.words:
            continue
        for field in probe.fields:
            if probe.term.prefix:
                prefixes.setdefault(field, []).append(i)
            elif len(probe.words) == 1:
                words.setdefault(field, defaultdict(list))[probe.words[0]].append(i)
            else:
                phrases.setdefault(field, defaultdict(list))[probe.words[0]].append(i)
    asked = {
        field: frozenset((*words.get(field, ()), *phrases.get(field, ())))
        for field in {*words, *phrases}
    }
    for bit, doc in enumerate(docs):
        flag = 1 << bit
        for field, wanted in asked.items():
            text = doc.fields[field]
            present = wanted.intersection(text.vocabulary)
            for word in present:
                for i in words.get(field, {}).get(word, ()):
                    found[i] |= flag
                for i in phrases.get(field, {}).get(word, ()):
                    if text.has_phrase(probes[i].words):
                        found[i] |= flag
        for field, indices in prefixes.items():
            # A word starts with the stem when " stem" stands in " w1 w2 ...": one search in C
            # per stem, not a Python loop over the field's words.
            spaced = " " + " ".join(doc.fields[field].raw)
            for i in indices:
                if f" {probes[i].words[0]}" in spaced:
                    found[i] |= flag
    return found
