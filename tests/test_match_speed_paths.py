"""The fast paths of matching by meaning (issue 16, cost) against the straightforward way they
replace, bit for bit (not within rounding: the same matches, order and scores): a list of
wants' plan kept across batches (VectorMeaning._plan), the BM25 sums of a batch
(TermWeights.summed), z-scores written in place, and the last batch found again by its
papers' identity (Batch.holds). Random data; no timing here (bench/match_bench.py)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

from paperboy.profiles.ast import About, Like
from paperboy.profiles.document import PaperLike
from paperboy.semantic import batching, bm25, score
from paperboy.semantic.bm25 import K1, B
from paperboy.semantic.closeness import Closeness, Want
from paperboy.semantic.meaning import PLAN_KEPT_FROM, InMemoryVectors, VectorMeaning, paper_text
from tests.papers import saved_papers
from tests.test_batching import DIM, HashEmbedder, random_wants, unit_rows


def random_meaning(papers: Sequence[PaperLike], seed: int = 16) -> VectorMeaning:
    """tests.test_batching's random meaning, the same vectors for the same seed (papers in 6
    clusters of random unit vectors, so some are close)."""
    rng = np.random.default_rng(seed)
    centres = score.unit(rng.standard_normal((6, DIM)).astype(np.float32))
    noise = score.unit(rng.standard_normal((len(papers), DIM)).astype(np.float32))
    rows = score.unit(centres[rng.integers(0, 6, len(papers))] + 0.5 * noise)
    vectors = InMemoryVectors(HashEmbedder())
    vectors.prime([p.arxiv_id for p in papers], rows)
    by_id = {p.arxiv_id: p for p in papers}
    return VectorMeaning(
        HashEmbedder(),
        vectors,
        rows[::3],
        lambda ids: [by_id[i] for i in ids if i in by_id],
        background_texts=[paper_text(p) for p in papers[::3]],
    )


def answers(found: Sequence[Closeness]) -> list[tuple[int, bytes]]:
    """Each want's mask and the exact bytes of its float32 scores."""
    return [(c.mask, np.asarray(list(c.scores), dtype=np.float32).tobytes()) for c in found]


def batch_of(papers: Sequence[PaperLike], size: int) -> list[PaperLike]:
    return [dataclasses.replace(p, arxiv_id=f"9{p.arxiv_id}") for p in papers[:size]]


@pytest.mark.parametrize("size", [1, 40, 180])
def test_a_kept_plan_answers_as_a_fresh_meaning(size: int) -> None:
    papers = list(saved_papers())
    batch = batch_of(papers, size)
    wants = random_wants(papers, 150)
    fresh = answers(random_meaning(papers + batch).close(wants, batch))
    meaning = random_meaning(papers + batch)
    first = answers(meaning.close(wants, batch))
    again = answers(meaning.close(wants, batch))  # the same list: its plan kept
    equal = answers(meaning.close([dataclasses.replace(w) for w in wants], batch))  # equal wants
    other = batch_of(papers[size:], 30)  # another batch through the same plan
    assert first == fresh == again == equal
    assert answers(meaning.close(wants, other)) == answers(
        random_meaning(papers + batch).close(wants, other)
    )
    assert sum(mask.bit_count() for mask, _ in first) > 0 or size == 1


def test_a_plan_follows_the_settings() -> None:
    papers = list(saved_papers())
    batch = batch_of(papers, 60)
    wants = random_wants(papers, 80)
    meaning = random_meaning(papers + batch)
    meaning.close(wants, batch)
    meaning.settings = dataclasses.replace(meaning.settings, k=1.0, per_step=0.5, k_liked=1.5)
    changed = answers(meaning.close(wants, batch))
    other = random_meaning(papers + batch)
    other._prepared(wants)  # the wants prepared under the old settings (no plan), as above
    other.settings = meaning.settings
    assert changed == answers(other.close(wants, batch))
    assert changed != answers(random_meaning(papers + batch).close(wants, batch))


def test_a_plan_is_dropped_once_one_of_its_wants_is_forgotten() -> None:
    """A want's preparation is kept until the cache forgets it; then it is prepared again (an
    example paper found meanwhile counts). A kept plan holding it must not answer for it."""
    papers = list(saved_papers())[:60]
    late = dataclasses.replace(papers[0], arxiv_id="2699.00001")  # known only later
    rows = score.unit(unit_rows(len(papers) + 1))
    vectors = InMemoryVectors(HashEmbedder())
    vectors.prime([p.arxiv_id for p in papers] + [late.arxiv_id], rows)
    known = {p.arxiv_id: p for p in papers}

    def meaning_of(cache_size: int) -> VectorMeaning:
        return VectorMeaning(
            HashEmbedder(),
            vectors,
            rows[: len(papers) : 3],
            lambda ids: [known[i] for i in ids if i in known],
            cache_size=cache_size,
            background_texts=[paper_text(p) for p in papers[::3]],
        )

    topics = [Want(About(f"subject number {i}")) for i in range(PLAN_KEPT_FROM - 1)]
    asked = [Want(Like((late.arxiv_id,)), -2), *topics]  # a list long enough for its plan kept
    size = len(asked)  # the cache holds one list of wants
    meaning = meaning_of(size)
    before = answers(meaning.close(asked, papers))
    assert before[0][0] == 0  # the example is unknown: close to nothing
    known[late.arxiv_id] = late
    assert answers(meaning.close(asked, papers)) == before  # prepared, and kept: as before
    assert meaning._plans  # kept
    others = [Want(About(f"another subject {i}")) for i in range(size)]
    meaning.close(others, papers)  # the cache forgets every want of ``asked``
    after = answers(meaning.close(asked, papers))
    assert after == answers(meaning_of(size).close(asked, papers))
    assert after[0][0] != 0


def straightforward_bm25(
    queries: Sequence[Counter[str]], docs: Sequence[Counter[str]], corpus: bm25.Corpus
) -> np.ndarray:
    """sqrt(BM25), each query's weights added one term after the other in its order, float32,
    the terms found in no document left out (as the batched sums always did)."""
    seen = {t for doc in docs for t in doc}
    out = np.zeros((len(queries), len(docs)), dtype=np.float32)
    for j, doc in enumerate(docs):
        norm = K1 * (1 - B + B * float(sum(doc.values())) / corpus.mean_length)
        for i, query in enumerate(queries):
            total = np.float32(0.0)
            started = False
            for term in query:
                if term not in seen:
                    continue
                tf = doc.get(term, 0)
                weight = np.float32(tf * (K1 + 1) / (tf + norm)) * np.float32(corpus.idf(term))
                total = weight if not started else np.float32(total + weight)
                started = True
            out[i, j] = total
    root: np.ndarray = np.sqrt(np.maximum(out, np.float32(0.0)))
    return root


def test_term_weights_are_the_straightforward_sums_bit_for_bit() -> None:
    papers = list(saved_papers())
    docs = [bm25.terms(paper_text(p)) for p in papers[:50]]
    corpus = bm25.Corpus.of([bm25.terms(paper_text(p)) for p in papers[::2]])
    words = sorted({t for d in docs for t in d} | {"zzzz", "unheard of"})
    pick = random.Random(5)
    queries = [Counter(pick.sample(words, pick.randint(1, 9))) for _ in range(400)]
    queries += [*queries[:40], Counter(), Counter(["zzzz"])]  # repeats, empty, unheard
    weights = batching.TermWeights(docs, corpus)
    expected = straightforward_bm25(queries, docs, corpus)
    assert weights.scores(queries).tobytes() == expected.tobytes()
    sums, index = weights.distinct(queries)
    assert sums[index].tobytes() == expected.tobytes()
    assert expected.any()
    assert not batching.TermWeights(docs[:0], corpus).scores(queries).size
    assert not batching.TermWeights(docs, corpus).scores([Counter(["zzzz"])]).any()


def test_zscores_in_place_are_zscores() -> None:
    cosines = unit_rows(40) @ unit_rows(70).T
    calibration = score.spread(unit_rows(40) @ unit_rows(20).T)
    expected = score.zscores(cosines.copy(), calibration)
    found = score.zscores_in_place(cosines, calibration)
    assert found is cosines
    assert found.tobytes() == expected.tobytes()
    wide = (unit_rows(40) @ unit_rows(70).T).astype(np.float64)  # not float32: a new matrix
    assert score.zscores_in_place(wide, calibration).tobytes() == (
        score.zscores(wide, calibration).tobytes()
    )


def test_the_last_batch_is_found_by_its_papers_or_their_ids() -> None:
    papers = list(saved_papers())[:20]
    last = batching.LastBatch()
    rows = unit_rows(20)
    kept = last.put(papers, rows)
    calls: list[int] = []

    def read(found: Sequence[PaperLike]) -> np.ndarray:
        calls.append(len(found))
        return unit_rows(len(found))

    assert last.get(papers, read) is kept  # the same list
    assert last.get(tuple(papers), read) is kept  # the same papers in another sequence
    assert last.get([dataclasses.replace(p) for p in papers], read) is kept  # same ids
    assert not calls
    changed = [*papers[:-1], dataclasses.replace(papers[-1], arxiv_id="2699.99999")]
    assert last.get(changed, read) is not kept
    assert last.get(papers[::-1], read).key == batching.batch_key(papers[::-1])
    assert calls == [20, 20]


def test_a_short_list_of_wants_leaves_the_kept_plans_alone() -> None:
    papers = list(saved_papers())
    batch = batch_of(papers, 30)
    wants = random_wants(papers, 80)
    meaning = random_meaning(papers + batch)
    meaning.close(wants, batch)
    kept = meaning._plans
    other = random_meaning(papers + batch)
    other._prepared(wants)  # prepared together, as above (a want's background product alone
    # may round otherwise)
    for want in wants[:10]:  # previews of one topic each
        assert answers(meaning.close([want], batch)) == answers(other.close([want], batch))
    assert meaning._plans == kept


def test_held_back_after_close_reads_the_batch_close_worked_out() -> None:
    papers = list(saved_papers())
    batch = batch_of(papers, 80)
    wants = random_wants(papers, 60)
    meaning = random_meaning(papers + batch)
    meaning.close(wants, batch)
    fresh = random_meaning(papers + batch)
    for rejected in sorted({w.rejected for w in wants}):
        assert meaning.held_back(rejected, batch) == fresh.held_back(rejected, list(batch))
