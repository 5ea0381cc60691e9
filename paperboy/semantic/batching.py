"""Vectorised building blocks of closeness over a whole batch of wants (pure numpy, no I/O).

``VectorMeaning.close`` answers 10,000 wants over 1,000 papers at once; done want by want
(a matrix product per like:, a row mean per about:, BM25 per topic) it took ~30 s. These
functions do the same arithmetic once per batch: rows of many wants stacked in one matrix,
each want a *group* of consecutive rows (or a list of row indices into a shared matrix), and
per-group results taken with ``np.ufunc.reduceat``. Each function names the straightforward
per-want computation it equals (up to float32 rounding); tests/test_batching.py checks that
on random data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter, is_

import numpy as np
import numpy.typing as npt

from paperboy.profiles.document import PaperLike
from paperboy.semantic import score
from paperboy.semantic.bm25 import K1, B, Corpus

Matrix = npt.NDArray[np.float32]
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.intp]

_ids = attrgetter("arxiv_id")


def starts(sizes: Sequence[int] | Ints) -> Ints:
    """Where each group of consecutive rows begins, given the groups' sizes."""
    found: Ints = np.zeros(len(sizes), dtype=np.intp)
    if len(sizes) > 1:
        np.cumsum(sizes[:-1], out=found[1:])
    return found


def lengths(groups: Iterable[Sized]) -> Ints:
    """The number of rows of each group."""
    return np.fromiter((len(g) for g in groups), dtype=np.intp)


def reduce_rows(ufunc: np.ufunc, source: Matrix, flat: Ints, first: Ints, sizes: Ints) -> Matrix:
    """Row g is ``ufunc.reduce(source[flat[first[g] : first[g] + sizes[g]]], axis=0)``, the
    members taken in order (zeros for an empty group).

    ``np.ufunc.reduceat`` does this too, but calls its inner loop once per group and row
    (0.3 s for 10,000 groups of two rows of 1,000); here the groups are sorted by size and
    the k-th members of all groups of at least k + 1 are combined in one operation."""
    out: Matrix = np.zeros((len(sizes), source.shape[1]), dtype=np.float32)
    if not len(sizes) or not sizes.max(initial=0):
        return out
    order = np.argsort(-sizes, kind="stable")
    ranked, at = sizes[order], first[order]
    full = int(np.count_nonzero(ranked))
    found: Matrix = source[flat[at[:full]]].astype(np.float32, copy=False)
    for k in range(1, int(ranked[0])):
        n = int(np.count_nonzero(ranked > k))
        ufunc(found[:n], source[flat[at[:n] + k]], out=found[:n])
    out[order[:full]] = found
    return out


def group_max(rows: Matrix, groups: Sequence[Sequence[int]]) -> Matrix:
    """Row g is the elementwise max of ``rows[groups[g]]`` (zeros for an empty group): with
    ``rows`` = examples x papers cosines, each group's ``score.nearest`` in one pass."""
    sizes = lengths(groups)
    flat = np.fromiter((i for g in groups for i in g), dtype=np.intp)
    return reduce_rows(np.maximum, rows, flat, starts(sizes), sizes)


def nearest_many(sets: Sequence[Matrix], papers: Matrix) -> Matrix:
    """Row g is ``score.nearest(sets[g], papers)`` (each paper's cosine to the closest example
    of set g; zeros for an empty set): one product for all the sets."""
    sizes = lengths(sets)
    if not sizes.sum() or not len(papers):
        return np.zeros((len(sets), len(papers)), dtype=np.float32)
    cosines = np.concatenate(sets).astype(np.float32, copy=False) @ papers.T
    flat = np.arange(len(cosines), dtype=np.intp)
    return reduce_rows(np.maximum, cosines, flat, starts(sizes), sizes)


def unit_means(rows: Matrix, groups: Sequence[Sequence[int]]) -> Matrix:
    """Row g is ``score.unit(rows[groups[g]].mean(axis=0)[None])`` (a like:'s examples
    averaged; zeros for an empty group)."""
    sizes = lengths(groups)
    flat = np.fromiter((i for g in groups for i in g), dtype=np.intp)
    sums = reduce_rows(np.add, rows, flat, starts(sizes), sizes)
    means = sums / np.maximum(sizes, 1).astype(np.float32)[:, None]
    return score.unit(means.astype(np.float32))


def spreads(
    blocks: Sequence[Matrix], background: Matrix, settings: score.Settings
) -> list[score.Calibration]:
    """``score.calibrate(block, background, settings)`` for every block of query rows, with
    one product against the background for all of them."""
    if not blocks:
        return []
    return sliced(score.calibrate(np.concatenate(blocks), background, settings), lengths(blocks))


def sliced(calibration: score.Calibration, sizes: Ints) -> list[score.Calibration]:
    """One stacked Calibration cut back into consecutive pieces of ``sizes`` rows."""
    ends = np.cumsum(sizes)
    return [
        score.Calibration(calibration.mean[end - n : end], calibration.std[end - n : end])
        for n, end in zip(sizes.tolist(), ends.tolist(), strict=True)
    ]


def mixed_groups(rows: Matrix, sizes: Ints, weight: float, index: Ints | None = None) -> Matrix:
    """One row per group of consecutive rows (its first row the whole text, the rest its
    parts): ``score.mixed(group[0], group[1:], weight)`` for every group at once. With
    ``index``, row i of the groups is ``rows[index[i]]`` (rows asked by many wants kept once)."""
    flat = np.arange(int(sizes.sum()), dtype=np.intp) if index is None else index
    first = starts(sizes)
    out: Matrix = rows[flat[first]]
    multi = np.flatnonzero(sizes > 1)
    if not len(multi):
        return out
    sums = reduce_rows(np.add, rows, flat, first[multi] + 1, sizes[multi] - 1)
    means = sums / (sizes[multi] - 1).astype(np.float32)[:, None]
    out[multi] = ((1 - weight) * out[multi] + weight * means).astype(np.float32)
    return out


def distinct(keys: Sequence[Hashable]) -> tuple[Ints, Ints]:
    """Where each distinct key is first asked (``first``) and, for each key, the number of its
    distinct key (``index``): rows asked by many wants computed once, read through ``index``."""
    number: dict[Hashable, int] = {}
    index = np.fromiter((number.setdefault(k, len(number)) for k in keys), np.intp, len(keys))
    first: Ints = np.unique(index, return_index=True)[1]
    return first, index


def distinct_rows(rows: Matrix) -> tuple[Ints, Ints]:
    """``distinct`` of a matrix's rows, by their bytes (equal bytes, equal rows)."""
    rows = np.ascontiguousarray(rows)
    if not rows.size:
        return np.arange(len(rows)), np.arange(len(rows))
    whole = rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize))).ravel()
    return distinct(whole.tolist())


def id_groups(lists: Sequence[Sequence[str]], rows: Mapping[str, int]) -> list[list[int]]:
    """Each list of arXiv ids as row numbers of a shared matrix (``rows``: the row of every id
    found, looked up once for all the lists); unknown ids are left out and repeated ones kept,
    as a lookup of the list does."""
    return [[rows[i] for i in ids if i in rows] for ids in lists]


def batch_key(papers: Sequence[PaperLike]) -> tuple[str, ...]:
    """What identifies a batch across calls: its papers' arXiv ids, in order."""
    return tuple(map(_ids, papers))


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch's papers' vectors (row i for papers[i]) and what was worked out for it:
    ``held``, the held-back bitset of each rejected list."""

    key: tuple[str, ...]
    rows: Matrix
    held: dict[tuple[str, ...], int] = field(default_factory=dict)
    papers: tuple[PaperLike, ...] = ()  # the very objects, for a quick "same batch?"

    def holds(self, papers: Sequence[PaperLike]) -> bool:
        """Whether ``papers`` is this batch: the same objects in the same order (a check of
        pointers, as the matcher asks ``held_back`` hundreds of times with its batch's list),
        else the same arXiv ids in the same order."""
        mine = self.papers
        if len(papers) == len(mine) and all(map(is_, papers, mine)):
            return True
        return batch_key(papers) == self.key


class LastBatch:
    """The last batch seen, so that ``held_back`` (asked once per distinct rejected list)
    does not gather 1,000 vectors again on every call. Replaced whole in one assignment, so a
    thread reading it never pairs one batch's key with another's rows."""

    def __init__(self) -> None:
        self._last: Batch | None = None

    def put(self, papers: Sequence[PaperLike], rows: Matrix) -> Batch:
        """The batch's vectors, just read (what was kept for another batch is forgotten)."""
        self._last = found = Batch(batch_key(papers), rows, papers=tuple(papers))
        return found

    def get(
        self, papers: Sequence[PaperLike], vectors: Callable[[Sequence[PaperLike]], Matrix]
    ) -> Batch:
        """The kept batch when ``papers`` is the batch seen last, else one read through
        ``vectors`` (and kept)."""
        last = self._last
        if last is not None and last.holds(papers):
            return last
        return self.put(papers, vectors(papers))


class TermWeights:
    """The BM25 weight of each query term in each document of a batch (terms x documents),
    built once per batch, so a query's score is the sum of a few rows.

    ``scores`` equals ``bm25.scores(queries, docs, corpus)`` (same sums in the same order)."""

    def __init__(self, docs: Sequence[Counter[str]], corpus: Corpus) -> None:
        self._docs, self._corpus = docs, corpus

    def scores(self, queries: Sequence[Counter[str]]) -> Matrix:
        """sqrt(BM25) of each query (rows) against each document (columns)."""
        sums, index = self.distinct(queries)
        root: Matrix = sums if len(sums) == len(queries) else sums[index]
        return root

    def distinct(self, queries: Sequence[Counter[str]]) -> tuple[Matrix, Ints]:
        """sqrt(BM25) of each distinct query (the same phrase in many topics is summed once)
        and, for each query, its row."""
        asked = Queries.of(queries)
        return self.summed(asked), asked.index

    def summed(self, asked: Queries) -> Matrix:
        """sqrt(BM25) of each of ``asked.unique`` (rows) against each document (columns): the
        weights of the wanted terms found in some document (terms x documents), and each
        query's sum of its terms' rows, in its order (reduce_rows)."""
        docs, corpus = self._docs, self._corpus
        wanted, number = asked.wanted, asked.number
        term_rows: list[int] = []  # for each (wanted term, document) where it is found: the term
        tfs: list[int] = []  # its count there
        found: list[int] = []  # and how many wanted terms each document holds
        for doc in docs:
            hits = wanted.intersection(doc)
            term_rows.extend(map(number.__getitem__, hits))
            tfs.extend(map(doc.__getitem__, hits))
            found.append(len(hits))
        if not term_rows:
            return np.zeros((len(asked.unique), len(docs)), dtype=np.float32)
        # weighed in float64, as bm25.scores does
        found_in = np.repeat(np.arange(len(docs), dtype=np.intp), found)
        length = np.array([sum(d.values()) for d in docs], dtype=np.float64)[found_in]
        tf, norm = np.array(tfs, dtype=np.float64), K1 * (1 - B + B * length / corpus.mean_length)
        rows = np.array(term_rows, dtype=np.intp)
        weights = np.zeros((len(asked.terms), len(docs)), dtype=np.float32)
        weights[rows, found_in] = tf * (K1 + 1) / (tf + norm)
        weights *= np.array([corpus.idf(t) for t in asked.terms], dtype=np.float32)[:, None]
        # each query's terms found in some document (the others would add rows of zeros)
        present = np.bincount(rows, minlength=len(asked.terms)).astype(bool)[asked.flat]
        sizes = np.bincount(asked.owner[present], minlength=len(asked.unique))
        sums = reduce_rows(np.add, weights, asked.flat[present], starts(sizes), sizes)
        np.sqrt(np.maximum(sums, 0.0, out=sums), out=sums)
        return sums


@dataclass(frozen=True, slots=True)
class Queries:
    """BM25 queries as ``TermWeights.summed`` reads them, worked out from the queries alone
    (so a batch of wants asked again does not redo it): each distinct query's terms in order
    (``unique``), each query's number among them (``index``), every term wanted."""

    unique: list[tuple[str, ...]]
    index: Ints
    wanted: frozenset[str]
    terms: list[str]  # the wanted terms, numbered
    number: dict[str, int]  # each wanted term's number
    flat: Ints  # the term numbers of every distinct query, one query after the other
    owner: Ints  # and for each, its query's number

    @classmethod
    def of(cls, queries: Sequence[Counter[str]]) -> Queries:
        keys = list(map(tuple, queries))
        numbered = {key: i for i, key in enumerate(dict.fromkeys(keys))}
        index = np.fromiter(map(numbered.__getitem__, keys), np.intp, len(keys))
        unique = list(numbered)
        terms = list(dict.fromkeys(chain.from_iterable(unique)))
        number = {t: i for i, t in enumerate(terms)}
        sizes = np.fromiter(map(len, unique), np.intp, len(unique))
        flat = np.fromiter(map(number.__getitem__, chain.from_iterable(unique)), np.intp)
        owner = np.repeat(np.arange(len(unique), dtype=np.intp), sizes)
        return cls(unique, index, frozenset(terms), terms, number, flat, owner)
