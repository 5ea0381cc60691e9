"""paperboy.semantic.batching: each batched building block against the straightforward
per-want computation it replaces, and VectorMeaning.close/held_back against the per-want loop
they were (random unit vectors, the captured papers' real texts)."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Sequence

import numpy as np
import pytest

from paperboy.profiles.ast import About, Like
from paperboy.profiles.document import PaperLike
from paperboy.semantic import batching, bm25, score
from paperboy.semantic.closeness import Want
from paperboy.semantic.embedder import Vectors
from paperboy.semantic.meaning import InMemoryVectors, VectorMeaning, paper_text, phrases
from tests.papers import saved_papers

DIM = 32
rng = np.random.default_rng(16)


def unit_rows(n: int, dim: int = DIM) -> Vectors:
    return score.unit(rng.standard_normal((n, dim)).astype(np.float32))


def test_reduce_rows_keeps_member_order_and_leaves_empty_groups_zero() -> None:
    source = rng.standard_normal((9, 5)).astype(np.float32)
    groups = [[3], [], [0, 1, 2, 8], [4, 4], [7, 5, 6]]
    sizes = batching.lengths(groups)
    flat = np.array([i for g in groups for i in g], dtype=np.intp)
    found = batching.reduce_rows(np.add, source, flat, batching.starts(sizes), sizes)
    for row, group in zip(found, groups, strict=True):
        expected = np.zeros(5, np.float32)
        for i in group:  # sequential, as reduceat and a mean over axis 0 add
            expected = expected + source[i]
        assert np.array_equal(row, expected)
    assert batching.reduce_rows(np.add, source, flat[:0], sizes[:0], sizes[:0]).shape == (0, 5)


def test_group_max_and_nearest_many_are_score_nearest_per_set() -> None:
    papers = unit_rows(40)
    sets = [unit_rows(n) for n in (1, 0, 3, 2, 0, 5)]
    many = batching.nearest_many(sets, papers)
    stacked = np.concatenate(sets)
    groups, at = [], 0
    for s in sets:
        groups.append(list(range(at, at + len(s))))
        at += len(s)
    by_index = batching.group_max(stacked @ papers.T, groups)
    for g, examples in enumerate(sets):
        expected = score.nearest(examples, papers)
        np.testing.assert_allclose(many[g], expected, atol=1e-6)
        np.testing.assert_allclose(by_index[g], expected, atol=1e-6)
    assert batching.nearest_many([], papers).shape == (0, 40)
    assert not batching.nearest_many([sets[1]], papers).any()


def test_unit_means_are_a_likes_row() -> None:
    rows = unit_rows(10)
    groups = [[1, 2], [], [3], [4, 4, 9]]
    found = batching.unit_means(rows, groups)
    for g, members in enumerate(groups):
        if members:
            expected = score.unit(rows[members].mean(axis=0)[None])[0]
            np.testing.assert_allclose(found[g], expected, atol=1e-7)
        else:
            assert not found[g].any()


def test_mixed_groups_is_score_mixed_per_want() -> None:
    sizes = np.array([1, 3, 2, 1, 5, 1], dtype=np.intp)
    rows = rng.standard_normal((int(sizes.sum()), 30)).astype(np.float32)
    found = batching.mixed_groups(rows, sizes, 0.4)
    for g, (start, n) in enumerate(zip(batching.starts(sizes), sizes, strict=True)):
        expected = score.mixed(rows[start], rows[start + 1 : start + n], 0.4)
        np.testing.assert_allclose(found[g], expected, rtol=1e-6, atol=1e-6)


def test_spreads_are_score_calibrate_per_block() -> None:
    background = unit_rows(50)
    blocks = [unit_rows(n) for n in (1, 4, 2)]
    for block, found in zip(
        blocks, batching.spreads(blocks, background, score.DEFAULT), strict=True
    ):
        expected = score.calibrate(block, background)
        np.testing.assert_allclose(found.mean, expected.mean, atol=1e-6)
        np.testing.assert_allclose(found.std, expected.std, atol=1e-6)


def test_term_weights_equal_bm25_scores() -> None:
    papers = saved_papers()
    docs = [bm25.terms(paper_text(p)) for p in papers[:120]]
    corpus = bm25.Corpus.of([bm25.terms(paper_text(p)) for p in papers[120:]])
    words = [w for p in papers[:60] for w in p.title.split()[:4]]
    pick = random.Random(3)
    queries = [bm25.terms(" ".join(pick.sample(words, pick.randint(1, 4)))) for _ in range(300)]
    queries += [*queries[:50], bm25.terms(""), bm25.terms("zzzz unheard")]  # repeats, empties
    found = batching.TermWeights(docs, corpus).scores(queries)
    # the same sums, added in another order (bm25.scores adds along a row, pairwise)
    np.testing.assert_allclose(found, bm25.scores(queries, docs, corpus), rtol=1e-6)
    assert found.any()
    assert not batching.TermWeights(docs, corpus).scores([bm25.terms("zzzz")]).any()


class HashEmbedder:
    """A random unit vector per text, the same for the same text."""

    model_id = "test-random"
    dim = DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = [
            np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:12], 16))
            .standard_normal(DIM)
            .astype(np.float32)
            for t in texts
        ]
        return score.unit(np.stack(rows)) if rows else np.zeros((0, DIM), np.float32)


def random_meaning(papers: Sequence[PaperLike]) -> VectorMeaning:
    """VectorMeaning over papers in 6 clusters of random vectors, so some are close."""
    centres = unit_rows(6)
    rows = score.unit(centres[rng.integers(0, 6, len(papers))] + 0.5 * unit_rows(len(papers)))
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


def random_wants(papers: Sequence[PaperLike], n: int) -> list[Want]:
    pick = random.Random(7)
    ids = [p.arxiv_id for p in papers] + ["0000.00000"]  # one unknown id
    titles = [p.title for p in papers]
    found: list[Want] = []
    for i in range(n):
        if i % 2:
            atom: About | Like = Like(tuple(pick.choices(ids, k=pick.randint(1, 3))))
        else:
            words = pick.choice(titles).split()
            start = pick.randrange(len(words))
            text = " ".join(words[start : start + pick.randint(2, 6)])
            if pick.random() < 0.5:
                text += ", " + " and ".join(pick.choice(titles).split()[:2])
            atom = About(text)
        liked = tuple(pick.sample(ids, pick.randint(1, 3))) if pick.random() < 0.3 else ()
        rejected = tuple(pick.sample(ids, pick.randint(1, 2))) if pick.random() < 0.3 else ()
        found.append(Want(atom, pick.randint(-2, 2), liked, rejected))
    if isinstance(found[1].atom, Like):  # the matcher's "close to the papers it liked"
        found.append(Want(found[1].atom, 0, found[1].atom.arxiv_ids))
    return found + found[:5]  # a want asked twice


def per_want(
    meaning: VectorMeaning, want: Want, papers: Sequence[PaperLike]
) -> tuple[int, Vectors]:
    """One want's mask and scores, the straightforward way (as close() did before batching):
    its own products, its own BM25, score.nearest for its liked papers."""
    s = meaning.settings
    paper_rows = meaning._vectors.vectors(papers)
    words = meaning._words(want)
    if isinstance(want.atom, About):
        texts = (want.atom.text, *phrases(want.atom.text))
        rows = HashEmbedder().embed(texts)
    if isinstance(want.atom, About) and not want.liked:
        # blind feedback: the whole text's row moved toward its best background papers
        back = rows @ meaning._background.T
        own = score.zscores(back, score.spread(back, s))
        mine = score.mixed(own[0], own[1:], s.phrase_weight)
        if words:
            terms = bm25.scores(words, meaning._bg_terms, meaning._corpus)
            lexical = score.zscores(terms, score.spread(terms, s))
            said = score.mixed(lexical[0], lexical[1:], s.phrase_weight)
            mine = s.meaning_weight * mine + (1 - s.meaning_weight) * said
        rows[:1] = score.expanded(rows[:1], meaning._background, mine[None], s)
    if isinstance(want.atom, Like):
        examples = meaning._example_vectors(want.atom.arxiv_ids)
        rows = (
            score.unit(examples.mean(axis=0)[None])
            if len(examples)
            else np.zeros((1, DIM), np.float32)
        )
    cosines = rows @ paper_rows.T
    z = score.zscores(cosines, score.calibrate(rows, meaning._background, s))
    found = score.mixed(z[0], z[1:], s.phrase_weight)
    if words:
        docs = [bm25.terms(paper_text(p)) for p in papers]
        raw = bm25.scores(words, docs, meaning._corpus)
        back = bm25.scores(words, meaning._bg_terms, meaning._corpus)
        lexical = score.zscores(raw, score.spread(back, s))
        said = score.mixed(lexical[0], lexical[1:], s.phrase_weight)
        found = s.meaning_weight * found + (1 - s.meaning_weight) * said
    liked = meaning._example_vectors(want.liked)
    if len(liked):
        near = score.nearest(liked, paper_rows)[None]
        calibration = score.spread(score.nearest(liked, meaning._background)[None], s)
        found = found + s.near_liked * score.zscores(near, calibration)[0]
    more = isinstance(want.atom, Like) and set(want.atom.arxiv_ids) == set(want.liked)
    cut = np.float32(score.cutoff(want.step, bool(liked.size), s, more and bool(want.liked)))
    mask = score.close_mask(cosines[:1], found[None], np.array([cut]), s)[0]
    return score.bitset(mask), found


@pytest.mark.parametrize("size", [1, 7, 180])
def test_close_equals_the_per_want_loop_on_random_data(size: int) -> None:
    papers = list(saved_papers())
    batch = [dataclasses.replace(p, arxiv_id=f"9{p.arxiv_id}") for p in papers[:size]]
    meaning = random_meaning(papers + batch)
    wants = random_wants(papers, 120)
    found = meaning.close(wants, batch)
    assert len(found) == len(wants)
    assert sum(c.mask.bit_count() for c in found) > 0 or size == 1
    differ = 0
    for want, closeness in zip(wants, found, strict=True):
        mask, scores = per_want(meaning, want, batch)
        np.testing.assert_allclose(list(closeness.scores), scores, rtol=1e-4, atol=1e-4)
        differ += (mask ^ closeness.mask).bit_count()  # only a score within rounding of a cut
    assert differ <= 1
    for rejected in {w.rejected for w in wants}:  # held_back as score.near_any per list
        expected = score.near_any(
            meaning._example_vectors(rejected), meaning._vectors.vectors(batch), meaning.settings
        )
        held = meaning.held_back(rejected, batch)
        assert held == (score.bitset(expected) if rejected and batch else 0)


def test_held_back_follows_the_batch_it_is_asked_about() -> None:
    papers = list(saved_papers())
    meaning = random_meaning(papers)
    rejected = (papers[2].arxiv_id,)
    meaning.close([Want(About("diffusion"), rejected=rejected)], papers[:50])
    assert meaning.held_back(rejected, papers[:50]) & 1 << 2  # itself, cosine 1
    assert meaning.held_back(rejected, papers[2:50]) & 1  # another batch: its own vectors
    assert meaning.held_back((), papers) == 0
    assert meaning.held_back(("0000.00000",), papers) == 0


def test_distinct_rows_and_mixing_through_an_index() -> None:
    rows = unit_rows(5)
    asked = rows[[0, 1, 1, 2, 0, 3, 4, 4, 1]]
    first, index = batching.distinct_rows(asked)
    assert np.array_equal(asked[first][index], asked)
    assert len(first) == 5
    sizes = np.array([2, 3, 1, 3], dtype=np.intp)
    np.testing.assert_array_equal(
        batching.mixed_groups(asked[first], sizes, 0.3, index),
        batching.mixed_groups(asked, sizes, 0.3),
    )
    empty = np.zeros((0, DIM), np.float32)
    assert [len(a) for a in batching.distinct_rows(empty)] == [0, 0]
