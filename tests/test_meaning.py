"""VectorMeaning on the real captured papers, with the lexical embedder (fast, deterministic)."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pytest

from paperboy.profiles.ast import About, Like
from paperboy.profiles.document import PaperLike
from paperboy.semantic import bm25, score
from paperboy.semantic.background import background_for, texts_and_vectors
from paperboy.semantic.closeness import Want
from paperboy.semantic.embedder import Vectors
from paperboy.semantic.lexical import LexicalEmbedder
from paperboy.semantic.meaning import (
    InMemoryVectors,
    VectorMeaning,
    phrases,
    sentences,
    text_hash,
)
from tests.papers import saved_papers

TOPIC = About("video generation and video editing with diffusion models")


def bits(mask: int) -> set[int]:
    return {i for i in range(mask.bit_length()) if mask >> i & 1}


@pytest.fixture(scope="module")
def meaning() -> VectorMeaning:
    embedder = LexicalEmbedder()
    by_id = {p.arxiv_id: p for p in saved_papers()}
    return VectorMeaning(
        embedder,
        InMemoryVectors(embedder),
        background_for(embedder),
        lambda ids: [by_id[i] for i in ids if i in by_id],
    )


def test_a_paper_is_close_or_not_whatever_its_batch(meaning: VectorMeaning) -> None:
    papers = saved_papers()
    wants = [Want(TOPIC), Want(About("speech and music generation")), Want(TOPIC, step=-2)]
    whole = meaning.close(wants, papers)
    assert any(c.mask for c in whole)
    for start in (0, 50, 100):
        part = meaning.close(wants, papers[start : start + 50])
        for big, small in zip(whole, part, strict=True):
            assert bits(small.mask) == {
                i - start for i in bits(big.mask) if start <= i < start + 50
            }
            assert list(small.scores) == pytest.approx(list(big.scores)[start : start + 50])


def test_broader_never_loses_a_paper(meaning: VectorMeaning) -> None:
    papers = saved_papers()
    found = [meaning.close([Want(TOPIC, step=s)], papers)[0].mask for s in range(-4, 5)]
    for broader, narrower in itertools.pairwise(found):
        assert narrower & ~broader == 0
    assert found[0].bit_count() > found[-1].bit_count()


def test_liking_a_paper_raises_the_papers_near_it(meaning: VectorMeaning) -> None:
    papers = saved_papers()
    liked = papers[3]
    twin = dataclasses.replace(liked, arxiv_id="9999.00002")
    batch = [twin, papers[40], papers[90]]
    before = list(meaning.close([Want(TOPIC)], batch)[0].scores)
    after = meaning.close([Want(TOPIC, liked=(liked.arxiv_id,))], batch)[0]
    gains = [a - b for a, b in zip(after.scores, before, strict=True)]
    assert gains[0] > max(gains[1:])  # the paper most like the liked one gains most
    assert gains[0] > 3  # its twin: cosine 1 to a liked paper, far above the background
    assert score.cutoff(0, liked=True) > score.cutoff(0)  # more evidence, higher cut-off


def test_close_to_the_liked_papers_needs_more_than_a_topic_with_feedback(
    meaning: VectorMeaning,
) -> None:
    papers = saved_papers()
    liked = (papers[3].arxiv_id,)
    twin = dataclasses.replace(papers[3], arxiv_id="9999.00003")
    batch = [twin, *papers[:60]]
    more = Want(Like(liked), liked=liked)  # what the matcher adds for "More like this"
    found = meaning.close([more], batch)[0]
    cut = score.cutoff(0, liked=True, more=True)
    assert cut > score.cutoff(0, liked=True)
    assert 0 in bits(found.mask)  # a copy of the liked paper is close
    assert all(found.scores[i] >= cut for i in bits(found.mask))
    assert score.cutoff(-1, liked=True, more=True) < cut < score.cutoff(1, liked=True, more=True)


def test_phrases_and_words() -> None:
    assert phrases("speech and music: generation, enhancement") == [
        "speech",
        "music",
        "generation",
        "enhancement",
    ]
    assert phrases("reinforcement learning to improve reasoning") == []
    docs = [bm25.terms(t) for t in ("KV cache for serving", "a cat", "speculative decoding")]
    found = bm25.scores(
        [bm25.terms("KV cache"), bm25.terms(""), Counter()], docs, bm25.Corpus.of(docs)
    )
    assert found[0, 0] > 0
    assert found[0, 1] == found[0, 2] == 0
    assert not found[1:].any()


class _Topics:
    """TopicVectors in a dict, counting what was asked and stored."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], Vectors] = {}

    def get_many(self, model: str, text_hashes: Sequence[str]) -> dict[str, Vectors]:
        return {h: self.kept[model, h] for h in text_hashes if (model, h) in self.kept}

    def put_many(self, model: str, vectors: Mapping[str, Vectors], now: datetime) -> int:
        self.kept.update({(model, h): v for h, v in vectors.items()})
        return len(vectors)


class _Counting(LexicalEmbedder):
    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return super().embed(texts)


def test_topic_vectors_are_kept_across_processes() -> None:
    topics, papers = _Topics(), saved_papers()
    background = background_for(LexicalEmbedder())
    first, second = _Counting(), _Counting()
    runs = []
    for embedder in (first, second):
        meaning = VectorMeaning(
            embedder,
            InMemoryVectors(LexicalEmbedder()),
            background,
            lambda i: [],
            topics=topics,
        )
        runs.append(meaning.close([Want(TOPIC)], papers)[0])
    assert TOPIC.text in first.texts
    assert (first.model_id, text_hash(TOPIC.text)) in topics.kept
    assert second.texts == []  # the second process read the vectors instead of embedding
    assert runs[0].mask == runs[1].mask


def test_papers_near_a_rejected_one_are_held_back(meaning: VectorMeaning) -> None:
    papers = saved_papers()
    rejected = papers[5]
    twin = dataclasses.replace(rejected, arxiv_id="9999.00001", upvotes=rejected.upvotes + 1)
    batch = [papers[0], twin, rejected, papers[40]]
    held = meaning.held_back((rejected.arxiv_id,), batch)
    assert bits(held) == {1, 2}
    assert meaning.held_back((), batch) == 0
    assert meaning.held_back(("0000.00000",), batch) == 0  # unknown ids hold nothing back


def test_why_is_the_abstract_sentence_closest_to_the_topic(meaning: VectorMeaning) -> None:
    papers = saved_papers()
    found = meaning.close([Want(TOPIC)], papers)[0]
    paper = papers[min(bits(found.mask))]
    reason = meaning.why(Want(TOPIC), paper)
    assert reason.rstrip("…") in " ".join((paper.summary or "").split())
    assert reason.rstrip("…").strip() in {
        s[: len(reason.rstrip("…").strip())] for s in sentences(paper.summary or "")
    }
    assert len(reason) <= 200


def test_why_for_like_names_the_example(meaning: VectorMeaning) -> None:
    papers = saved_papers()
    example = papers[10]
    want = Want(Like((example.arxiv_id, "0000.00000")))
    found = meaning.close([want], papers)[0]
    assert 10 in bits(found.mask)  # a paper is close to itself
    assert meaning.why(want, papers[11]) == f"close to {example.title}"[:200]


def test_sentences_split_on_full_stops() -> None:
    assert sentences("We do A. It works, e.g. on B.  Then 3 more.") == [
        "We do A.",
        "It works, e.g. on B.",
        "Then 3 more.",
    ]


def test_the_shipped_background_is_small_and_of_the_minilm_model() -> None:
    texts, model_id, vectors = texts_and_vectors()
    assert model_id.startswith("all-MiniLM-L6-v2")
    assert vectors.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2)


class _Random:
    """An embedder and PaperVectors of random unit vectors: only shapes and speed matter."""

    model_id = "random"
    dim = 384

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def embed(self, texts: Sequence[str]) -> Vectors:
        return score.unit(self._rng.standard_normal((len(texts), self.dim)).astype(np.float32))

    def vectors(self, papers: Sequence[PaperLike]) -> Vectors:
        return self.embed([p.arxiv_id for p in papers])


def test_ten_thousand_wants_against_a_thousand_papers() -> None:
    fake = _Random()
    base = saved_papers()
    papers = [
        dataclasses.replace(base[i % len(base)], arxiv_id=f"9000.{i:05d}") for i in range(1000)
    ]
    meaning = VectorMeaning(fake, fake, fake.embed(["x"] * 160), lambda ids: [])
    wants = [Want(About(f"topic {i}"), step=i % 3 - 1) for i in range(10_000)]
    meaning.close(wants[:1], papers)  # warm up
    started = time.perf_counter()
    found = meaning.close(wants, papers)
    elapsed = time.perf_counter() - started
    assert len(found) == 10_000
    assert all(len(c.scores) == 1000 for c in found[:10])
    assert all(c.mask < 1 << 1000 for c in found)
    assert elapsed < 20  # measured ~1 s including embedding 10,000 texts; generous for CI


def test_blind_feedback_moves_a_topic_toward_its_best_background_papers() -> None:
    rng = np.random.default_rng(5)
    background = score.unit(rng.standard_normal((40, 16)).astype(np.float32))
    topic = score.unit(rng.standard_normal((1, 16)).astype(np.float32))
    scores = np.linspace(3.0, -1.0, 40, dtype=np.float32)[None]  # papers 0-14 reach z 1.5
    settings = dataclasses.replace(score.DEFAULT, expand_z=1.5, expand_weight=1.0)
    moved = score.expanded(topic, background, scores, settings)
    taken = score.unit(background[:15].mean(axis=0)[None])
    assert np.allclose(moved, score.unit(topic + taken), atol=1e-5)
    assert (moved @ taken.T).item() > (topic @ taken.T).item()
    assert np.isclose(np.linalg.norm(moved), 1.0)
    # none reaches expand_z: the best paper alone; many do: at most expand_max of them
    nobody = score.expanded(topic, background, scores - 10, settings)
    assert np.allclose(nobody, score.unit(topic + background[:1]), atol=1e-5)
    capped = dataclasses.replace(settings, expand_max=3)
    best_three = score.unit(background[:3].mean(axis=0)[None])
    assert np.allclose(
        score.expanded(topic, background, scores, capped), score.unit(topic + best_three)
    )
    off = dataclasses.replace(settings, expand_weight=0.0)
    assert np.array_equal(score.expanded(topic, background, scores, off), topic)


def test_blind_feedback_raises_a_topics_own_matches_and_keeps_why() -> None:
    """With the background's papers as the batch, the papers an about: topic matched before
    blind feedback score higher after it; why still names the sentence closest to the text."""
    embedder = LexicalEmbedder()
    papers = saved_papers()
    by_id = {p.arxiv_id: p for p in papers}

    def meaning_with(weight: float) -> VectorMeaning:
        settings = dataclasses.replace(score.DEFAULT, expand_weight=weight)
        return VectorMeaning(
            embedder,
            InMemoryVectors(embedder),
            background_for(embedder),
            lambda ids: [by_id[i] for i in ids if i in by_id],
            settings,
        )

    plain, fed = meaning_with(0.0), meaning_with(1.0)
    before, after = (m.close([Want(TOPIC)], papers)[0] for m in (plain, fed))
    matched = sorted(bits(before.mask))
    assert matched
    gain = np.array([after.scores[i] - before.scores[i] for i in matched])
    assert gain.mean() > 0
    assert list(after.scores) != list(before.scores)
    paper = papers[matched[0]]
    assert fed.why(Want(TOPIC), paper) == plain.why(Want(TOPIC), paper)
