"""Closeness by meaning over an Embedder: the ``Meaning`` the matcher asks about topics.

An ``about:`` want's score mixes two z-scores of the same text, each measured against a fixed
background sample of papers (paperboy.semantic.score), never against the batch: meaning (the
cosine of the embedded text, and of each of its phrases, to the paper) and words (BM25 of the
text's own words, paperboy.semantic.bm25). The text's vector is first moved toward the
background papers it matches best (blind feedback, score.expanded), once per want. A ``like:``
want scores the mean of its examples. Once a profile has liked papers, the z-score of each
paper's cosine to the closest liked one is added (and blind feedback is left out); papers very
close to a rejected one are held back. A paper's verdict is the same in a batch of
50 and in a preview of 500; all wants of a batch share one matrix product.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar, overload

import numpy as np
import numpy.typing as npt

from paperboy.profiles.ast import About, Like, Term
from paperboy.profiles.compiler import Probe
from paperboy.profiles.document import PaperLike, analyse
from paperboy.profiles.index import term_hits
from paperboy.semantic import batching, bm25, score
from paperboy.semantic.background import texts_and_vectors
from paperboy.semantic.closeness import Closeness, Want
from paperboy.semantic.embedder import Embedder, Vectors

# Papers looked up by arXiv id (the examples of like:, the papers of feedback); unknown ids
# are left out.
PaperLookup = Callable[[Sequence[str]], Sequence[PaperLike]]

K = TypeVar("K")
V = TypeVar("V")

WHY_CHARS = 200
PLANS = 4  # lists of wants whose plan (VectorMeaning._plan) is kept
PLAN_KEPT_FROM = 32  # wants in a list whose plan is kept (a shorter one's costs little)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_PHRASE = re.compile(r"[,:;]| and | or | such as ", re.IGNORECASE)


class PaperVectors(Protocol):
    """Where paper vectors come from (the store keeps them; it embeds the missing ones)."""

    def vectors(self, papers: Sequence[PaperLike]) -> Vectors:
        """Row i is the unit vector of papers[i] (``paper_text``, by the same embedder)."""
        ...


class TopicVectors(Protocol):
    """Where topic vectors persist across processes (store.topic_vectors), by text hash."""

    def get_many(self, model: str, text_hashes: Sequence[str]) -> dict[str, Vectors]: ...

    def put_many(self, model: str, vectors: Mapping[str, Vectors], now: datetime) -> int: ...


def text_hash(text: str) -> str:
    """The key a topic text's vector is kept under (sha256, hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def phrases(text: str) -> list[str]:
    """The parts of a topic sentence, split on commas, colons, "and", "or", "such as"
    ("speech and music: generation, enhancement" -> speech / music / generation / ...);
    empty when the sentence is a single phrase."""
    parts = [p.strip() for p in _PHRASE.split(text) if p.strip()]
    return parts if len(parts) > 1 else []


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


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What a want is scored with, computed once per distinct want: the text's own vector (for
    ``why``), meaning rows (the whole text moved by blind feedback, score.expanded, or the
    examples' mean first, then the text's phrases) and their background spread,
    the same for the words (none for like:), and the liked papers with the background spread
    of the cosine to the closest of them."""

    own: Vectors
    rows: Vectors
    meaning: score.Calibration
    words: tuple[Counter[str], ...]
    lexical: score.Calibration
    liked: Vectors
    near: score.Calibration


@dataclass(frozen=True, slots=True)
class _Plan:
    """What ``close`` needs of a list of wants before it sees a paper, worked out once per
    list (``VectorMeaning._plan``): the distinct meaning rows and their background spread,
    where each want reads its rows (``index``, ``sizes``; ``whole``: its whole-text row), the
    wants with words and their distinct BM25 queries, the wants with liked papers and their
    distinct lists, the rejected lists, and each want's cut-off."""

    wants: tuple[Want, ...]
    generation: int  # VectorMeaning._generation when made (-1: never valid again)
    settings: score.Settings
    rows: Vectors
    meaning: score.Calibration
    index: batching.Ints
    sizes: batching.Ints
    whole: batching.Ints
    worded: batching.Ints
    queries: batching.Queries | None
    lexical: score.Calibration  # of each distinct query
    word_sizes: batching.Ints
    liked: batching.Ints
    liked_lists: list[Vectors]
    liked_list: batching.Ints  # each liked want's list, by its place in liked_lists
    near: score.Calibration
    rejected: list[tuple[str, ...]]
    cuts: npt.NDArray[np.float32]
    hinted: batching.Ints  # the wants with ~hints
    hints: tuple[Term, ...]  # their distinct hints
    hint_index: batching.Ints  # hinted wants x most hints of one: which of ``hints`` (0: none)
    hint_share: Vectors  # the same shape: each hint's share of its want's weight (0: none)


class VectorMeaning:
    """``Meaning`` over an Embedder, stored paper vectors and a fixed background sample.

    ``background_texts`` are the background papers' texts (for the words' IDF and spread; the
    shipped sample's by default, matching ``background_for``); ``topics`` keeps topic vectors
    across processes."""

    def __init__(
        self,
        embedder: Embedder,
        vectors: PaperVectors,
        background: Vectors,
        papers_by_id: PaperLookup,
        settings: score.Settings = score.DEFAULT,
        cache_size: int = 65536,
        background_texts: Sequence[str] | None = None,
        topics: TopicVectors | None = None,
    ) -> None:
        self._embedder = embedder
        self._vectors = vectors
        self._background = background.astype(np.float32)
        self._lookup = papers_by_id
        self.settings = settings
        self._cache_size = cache_size
        self._topics = topics
        texts = texts_and_vectors()[0] if background_texts is None else background_texts
        self._bg_terms = [bm25.terms(t) for t in texts]
        self._corpus = bm25.Corpus.of(self._bg_terms)
        self._bg_words: tuple[list[str], dict[str, set[int]]] | None = None  # for prefix hints
        self._texts: OrderedDict[str, Vectors] = OrderedDict()
        self._wants: OrderedDict[Want, _Prepared] = OrderedDict()
        self._terms: OrderedDict[str, Counter[str]] = OrderedDict()
        self._sentences: OrderedDict[str, tuple[list[str], Vectors]] = OrderedDict()
        self._batch = batching.LastBatch()  # the last batch's vectors, for held_back
        self._plans: tuple[_Plan, ...] = ()  # the last few lists of wants' plans, newest first
        self._generation = 0  # how many prepared wants were forgotten (a plan then is stale)

    @property
    def model_id(self) -> str:
        return self._embedder.model_id

    def close(self, wants: Sequence[Want], papers: Sequence[PaperLike]) -> list[Closeness]:
        if not wants:
            return []
        if not papers:
            return [Closeness(0, ()) for _ in wants]
        plan = self._plan(wants)
        paper_rows = self._vectors.vectors(papers)
        batch = self._batch.put(papers, paper_rows)
        s = self.settings
        # Every want's rows (the whole text first, then its phrases) in one matrix, a row
        # asked by many wants (the same phrase, the same like:) once: one product, one
        # z-score (in place, the cosine floor of the whole-text rows read first); each want's
        # phrases mixed in by batching.mixed_groups.
        cosines = plan.rows @ paper_rows.T
        floor = (cosines >= s.floor)[plan.whole]
        z = score.zscores_in_place(cosines, plan.meaning)
        out = batching.mixed_groups(z, plan.sizes, s.phrase_weight, plan.index)
        del z, cosines
        if len(plan.worded):
            weights = batching.TermWeights([self._paper_terms(p) for p in papers], self._corpus)
            assert plan.queries is not None
            lexical = score.zscores_in_place(weights.summed(plan.queries), plan.lexical)
            said = batching.mixed_groups(
                lexical, plan.word_sizes, s.phrase_weight, plan.queries.index
            )
            mine = out[plan.worded]
            mine *= s.meaning_weight
            said *= 1 - s.meaning_weight
            mine += said
            out[plan.worded] = mine
        if len(plan.liked):  # one product for every distinct liked list of the batch
            near = batching.nearest_many(plan.liked_lists, paper_rows)[plan.liked_list]
            near = score.zscores_in_place(near, plan.near)
            near *= s.near_liked
            out[plan.liked] += near
        if len(plan.hinted):
            hits = _hint_hits(plan.hints, papers)
            out[plan.hinted] += score.hinted(plan.hint_index, plan.hint_share, hits, s)
        self._hold_back_all(plan.rejected, batch)
        masks = out >= plan.cuts[:, None]
        masks &= floor
        return [
            Closeness(bits, _Row(row)) for bits, row in zip(score.bitsets(masks), out, strict=True)
        ]

    def _plan(self, wants: Sequence[Want]) -> _Plan:
        """What ``close`` works out from the wants alone, kept for the last few lists of wants
        (the matcher asks the same ones batch after batch): while no prepared want has been
        forgotten since and the settings are the same, the same as working it out again."""
        asked = tuple(wants)
        for plan in self._plans:
            if (
                plan.generation == self._generation
                and len(plan.wants) == len(asked)
                and plan.settings == self.settings
                and plan.wants == asked
            ):
                return plan
        plan = self._new_plan(asked)
        if len(asked) >= PLAN_KEPT_FROM:  # a preview's few wants do not push out a dispatch's
            self._plans = (plan, *self._plans[: PLANS - 1])
        return plan

    def _new_plan(self, wants: tuple[Want, ...]) -> _Plan:
        generation = self._generation
        prepared = self._prepared([_unhinted(w) for w in wants])  # hints change none of it
        if self._generation != generation:  # a want of this very list forgotten: keep none
            generation = -1
        s = self.settings
        sizes = batching.lengths(p.rows for p in prepared)
        rows = np.concatenate([p.rows for p in prepared])
        calibration = _joined([p.meaning for p in prepared])
        first, index = batching.distinct_rows(rows)
        worded = [i for i, p in enumerate(prepared) if p.words]
        queries = None
        lexical = _joined([])
        if worded:
            queries = batching.Queries.of([w for i in worded for w in prepared[i].words])
            spread = _joined([prepared[i].lexical for i in worded])
            asker = np.unique(queries.index, return_index=True)[1]  # a query's first asker
            lexical = score.Calibration(spread.mean[asker], spread.std[asker])
        liked = [i for i, p in enumerate(prepared) if len(p.liked)]
        lists = {wants[i].liked: prepared[i].liked for i in liked}
        which = {key: j for j, key in enumerate(lists)}
        cuts = [
            score.cutoff(w.step, bool(p.liked.size), s, _more_like_liked(w), bool(w.hints))
            for w, p in zip(wants, prepared, strict=True)
        ]
        hinted, hints, hint_index, hint_share = self._hint_plan(wants)
        return _Plan(
            wants=wants,
            generation=generation,
            settings=s,
            rows=np.ascontiguousarray(rows[first]),
            meaning=score.Calibration(calibration.mean[first], calibration.std[first]),
            index=index,
            sizes=sizes,
            whole=index[batching.starts(sizes)],
            worded=np.array(worded, dtype=np.intp),
            queries=queries,
            lexical=lexical,
            word_sizes=batching.lengths(prepared[i].words for i in worded),
            liked=np.array(liked, dtype=np.intp),
            liked_lists=list(lists.values()),
            liked_list=np.array([which[wants[i].liked] for i in liked], dtype=np.intp),
            near=_joined([prepared[i].near for i in liked]),
            rejected=[w.rejected for w in wants if w.rejected],
            cuts=np.array(cuts, dtype=np.float32),
            hinted=hinted,
            hints=hints,
            hint_index=hint_index,
            hint_share=hint_share,
        )

    def _hint_plan(
        self, wants: Sequence[Want]
    ) -> tuple[batching.Ints, tuple[Term, ...], batching.Ints, Vectors]:
        """The wants with ~hints, their distinct hints, and for each such want which hints it
        has and each one's share of its weight (``_Plan.hint_index``, ``hint_share``). A hint is
        what the matcher finds for it: ~GUI and ~gui, ~model and ~models are one."""
        hinted = [i for i, w in enumerate(wants) if w.hints]
        own = [_distinct_hints(wants[i].hints) for i in hinted]
        hints = tuple(_distinct_hints([t for ts in own for t in ts]))
        column = {Probe.of(t).key: j for j, t in enumerate(hints)}
        weight = [self._hint_weight(t) for t in hints]  # once per distinct hint
        most = max(map(len, own), default=0)
        index = np.zeros((len(hinted), most), dtype=np.intp)
        share = np.zeros((len(hinted), most), dtype=np.float32)
        for row, ts in enumerate(own):
            for j, t in enumerate(ts):
                index[row, j] = found = column[Probe.of(t).key]
                share[row, j] = weight[found]
        share /= np.maximum(share.sum(axis=1, keepdims=True), 1e-12)
        return np.array(hinted, dtype=np.intp), hints, index, share

    def _hint_weight(self, hint: Term) -> float:
        """How much a hint says: the IDF over the background of its rarest word or word pair
        (a phrase's pair); a prefix's, of the background papers with a word it starts; the
        highest when no background paper has it; the lowest (as if every paper had it) for a
        hint of stop words alone (``~the``, ``~method``), which says nothing of the topic."""
        corpus = self._corpus
        if hint.prefix:
            return corpus.idf_of(self._prefix_frequency(Probe.of(hint).words[0]))
        found = self._text_terms(hint.text)
        if not found:
            return corpus.idf_of(corpus.size)
        return max(corpus.idf(t) for t in found)

    def _prefix_frequency(self, stem: str) -> int:
        """How many background papers have a word (not a pair) starting with ``stem``: the
        background's words sorted once, the stem's range found by bisection."""
        if self._bg_words is None:
            where: dict[str, set[int]] = {}
            for i, doc in enumerate(self._bg_terms):
                for term in doc:
                    if " " not in term:
                        where.setdefault(term, set()).add(i)
            self._bg_words = (sorted(where), where)
        ordered, where = self._bg_words
        papers: set[int] = set()
        for word in ordered[bisect_left(ordered, stem) :]:
            if not word.startswith(stem):
                break
            papers |= where[word]
        return len(papers)

    def held_back(self, rejected: tuple[str, ...], papers: Sequence[PaperLike]) -> int:
        if not rejected or not papers:
            return 0
        batch = self._batch.get(papers, self._vectors.vectors)
        found = batch.held.get(rejected)
        return self._hold_back_all([rejected], batch)[0] if found is None else found

    def _hold_back_all(self, lists: Sequence[tuple[str, ...]], batch: batching.Batch) -> list[int]:
        """``held_back`` of each distinct rejected list over ``batch`` (one lookup, one
        product), kept in it for the matcher's ``held_back`` calls."""
        distinct = [ids for ids in dict.fromkeys(lists) if ids not in batch.held]
        if distinct:
            index, examples = self._indexed([i for ids in distinct for i in ids])
            groups = batching.id_groups(distinct, index)
            near = batching.group_max(examples @ batch.rows.T, groups) >= self.settings.held_back
            near[[not g for g in groups]] = False  # no known example: nothing held back
            batch.held.update(zip(distinct, score.bitsets(near), strict=True))
        return [batch.held[ids] for ids in lists]

    def why(self, want: Want, paper: PaperLike) -> str:
        if isinstance(want.atom, Like):
            return self._why_like(want.atom, paper)
        text, vectors = self._sentence_vectors(paper)
        if not text:
            return _clip(paper.title)
        query = self._prepared([_unhinted(want)])[0].own
        return _clip(text[int(np.argmax(vectors @ query))])

    def _why_like(self, atom: Like, paper: PaperLike) -> str:
        examples = list(self._lookup(atom.arxiv_ids))
        if not examples:
            return "close to " + ", ".join(atom.arxiv_ids)
        sims = self._vectors.vectors(examples) @ self._vectors.vectors([paper])[0]
        return _clip("close to " + examples[int(np.argmax(sims))].title)

    def _prepared(self, wants: Sequence[Want]) -> list[_Prepared]:
        """Each want's rows and background spreads, computed once per distinct want."""
        new = [w for w in dict.fromkeys(wants) if w not in self._wants]
        if new:
            self._embed_texts(
                [
                    t
                    for w in new
                    if isinstance(w.atom, About)
                    for t in (w.atom.text, *phrases(w.atom.text))
                ]
            )
            words = [self._words(w) for w in new]
            flat = [q for ws in words for q in ws]
            said = batching.TermWeights(self._bg_terms, self._corpus).scores(flat)
            said_spread = score.spread(said, self.settings)
            lexical = batching.sliced(said_spread, batching.lengths(words))
            # Every example and liked paper of the new wants looked up at once; each want's
            # calibrations taken with one product against the background for all of them.
            index, examples = self._indexed(
                [
                    i
                    for w in new
                    for i in (*w.liked, *(w.atom.arxiv_ids if isinstance(w.atom, Like) else ()))
                ]
            )
            likes = [w for w in new if isinstance(w.atom, Like)]
            means = batching.unit_means(
                examples,
                batching.id_groups(
                    [w.atom.arxiv_ids for w in likes if isinstance(w.atom, Like)], index
                ),
            )
            like_rows = dict(zip(likes, means[:, None], strict=True))
            own = [like_rows[w] if w in like_rows else self._rows(w) for w in new]
            lists = list(dict.fromkeys(w.liked for w in new))
            groups = dict(zip(lists, batching.id_groups(lists, index), strict=True))
            rows = self._expanded(new, own, words, score.zscores(said, said_spread))
            meaning = batching.spreads(rows, self._background, self.settings)
            near = batching.sliced(
                score.spread(
                    batching.nearest_many([examples[g] for g in groups.values()], self._background),
                    self.settings,
                ),
                np.ones(len(lists), dtype=np.intp),
            )
            spread = dict(zip(lists, near, strict=True))
            for i, want in enumerate(new):
                self._remember(
                    self._wants,
                    want,
                    _Prepared(
                        own[i][0],
                        rows[i],
                        meaning[i],
                        words[i],
                        lexical[i],
                        examples[groups[want.liked]],
                        spread[want.liked],
                    ),
                )
        return [self._wants[w] for w in wants]

    def _expanded(
        self,
        wants: Sequence[Want],
        rows: Sequence[Vectors],
        words: Sequence[tuple[Counter[str], ...]],
        said_z: Vectors,
    ) -> list[Vectors]:
        """``rows`` with each about: want's whole-text row moved by score.expanded toward the
        background papers the want scores highest: its own score over the background (meaning
        and words z-scores mixed as ``close`` mixes them; ``said_z`` is the z-score of every
        query of ``words``, in order, over the background). Not once the profile has liked papers:
        the near-liked score speaks for the topic then (with both, split-half F1 after
        feedback 0.624 -> 0.619)."""
        s = self.settings
        about = [i for i, w in enumerate(wants) if isinstance(w.atom, About) and not w.liked]
        if not about or s.expand_weight <= 0:
            return list(rows)
        blocks = [rows[i] for i in about]
        sims = np.concatenate(blocks) @ self._background.T
        scores = batching.mixed_groups(
            score.zscores(sims, score.spread(sims, s)), batching.lengths(blocks), s.phrase_weight
        )
        worded = [j for j, i in enumerate(about) if words[i]]
        if worded:
            sizes = batching.lengths(words)
            first = batching.starts(sizes)
            asked = [about[j] for j in worded]
            index = np.concatenate([np.arange(first[i], first[i] + sizes[i]) for i in asked])
            lexical = batching.mixed_groups(said_z, sizes[asked], s.phrase_weight, index)
            scores[worded] = s.meaning_weight * scores[worded] + (1 - s.meaning_weight) * lexical
        moved = score.expanded(np.stack([b[0] for b in blocks]), self._background, scores, s)
        out = list(rows)
        for j, i in enumerate(about):
            out[i] = np.concatenate([moved[j : j + 1], rows[i][1:]]).astype(np.float32)
        return out

    def _rows(self, want: Want) -> Vectors:
        if isinstance(want.atom, About):
            texts = (want.atom.text, *phrases(want.atom.text))
            return np.stack([self._texts[t] for t in texts])
        examples = self._example_vectors(want.atom.arxiv_ids)
        if not len(examples):
            return np.zeros((1, self._embedder.dim), dtype=np.float32)
        return score.unit(examples.mean(axis=0)[None])

    def _words(self, want: Want) -> tuple[Counter[str], ...]:
        if not isinstance(want.atom, About):
            return ()
        found = tuple(self._text_terms(t) for t in (want.atom.text, *phrases(want.atom.text)))
        return found if found[0] else ()

    def _embed_texts(self, texts: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if not missing:
            return
        model = self._embedder.model_id
        keys = {t: text_hash(t) for t in missing}
        stored = self._topics.get_many(model, list(keys.values())) if self._topics else {}
        for text in missing:
            if keys[text] in stored:
                self._remember(self._texts, text, stored[keys[text]].astype(np.float32))
        fresh = [t for t in missing if keys[t] not in stored]
        if not fresh:
            return
        rows = self._embedder.embed(fresh)
        for text, row in zip(fresh, rows, strict=True):
            self._remember(self._texts, text, row)
        if self._topics is not None:
            self._topics.put_many(
                model, {keys[t]: r for t, r in zip(fresh, rows, strict=True)}, datetime.now(UTC)
            )

    def _paper_terms(self, paper: PaperLike) -> Counter[str]:
        return self._text_terms(paper_text(paper))

    def _text_terms(self, text: str) -> Counter[str]:
        """bm25.terms of a paper's or a topic's text, kept (a phrase recurs in many topics)."""
        found = self._terms.get(text)
        if found is None:
            found = bm25.terms(text)
            self._remember(self._terms, text, found)
        return found

    def _indexed(self, ids: Sequence[str]) -> tuple[dict[str, int], Vectors]:
        """The papers among ``ids`` looked up at once: each found id's row, and the rows."""
        found = list(self._lookup(list(dict.fromkeys(ids)))) if ids else []
        if not found:
            return {}, np.zeros((0, self._embedder.dim), dtype=np.float32)
        return {p.arxiv_id: i for i, p in enumerate(found)}, self._vectors.vectors(found)

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
            if cache is self._wants:  # a plan holding the forgotten want is stale
                self._generation += 1


def _hint_hits(hints: Sequence[Term], papers: Sequence[PaperLike]) -> npt.NDArray[np.bool_]:
    """Which papers contain each hint (hints x papers), as the matcher reads a term (the
    papers' analysed words, kept by ``analyse``; ``term_hits`` equals the batch index)."""
    found = term_hits([Probe.of(t) for t in hints], [analyse(p) for p in papers])
    width = (len(papers) + 7) // 8
    packed = b"".join(mask.to_bytes(width, "little") for mask in found)
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), bitorder="little")
    return bits.reshape(len(hints), width * 8)[:, : len(papers)].astype(bool)


def _unhinted(want: Want) -> Want:
    """The want without its hints: what its rows and calibrations depend on."""
    return replace(want, hints=()) if want.hints else want


def _distinct_hints(hints: Sequence[Term]) -> list[Term]:
    """A want's hints, one per thing the matcher finds (the first written of each)."""
    seen: dict[object, Term] = {}
    for hint in hints:
        seen.setdefault(Probe.of(hint).key, hint)
    return list(seen.values())


def _more_like_liked(want: Want) -> bool:
    """Whether ``want`` is "close to the papers this profile liked" (a like: of exactly them)."""
    return (
        isinstance(want.atom, Like)
        and bool(want.liked)
        and (set(want.atom.arxiv_ids) == set(want.liked))
    )


def _joined(parts: Sequence[score.Calibration]) -> score.Calibration:
    if not parts:
        return score.Calibration(np.zeros(0, np.float32), np.ones(0, np.float32))
    return score.Calibration(
        np.concatenate([p.mean for p in parts]), np.concatenate([p.std for p in parts])
    )


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= WHY_CHARS else text[: WHY_CHARS - 1].rstrip() + "…"
