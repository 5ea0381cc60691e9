"""Topic vectors on both databases: float16 by (text hash, model), upserted, and read back by
VectorMeaning so a second process does not embed a topic again."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, select

from paperboy.profiles.ast import About
from paperboy.semantic.background import background_for
from paperboy.semantic.closeness import Want
from paperboy.semantic.embedder import Vectors
from paperboy.semantic.lexical import LexicalEmbedder
from paperboy.semantic.meaning import (
    InMemoryVectors,
    TopicVectors,
    VectorMeaning,
    phrases,
    text_hash,
)
from store.tables import TOPIC_VECTORS
from store.topic_vectors import TopicVectorStore
from tests.conftest import PINNED
from tests.databases import migrated_engine
from tests.papers import saved_papers

MODEL = "fake/16@test"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = migrated_engine(database_url)
    yield engine
    engine.dispose()


def unit(n: int, seed: int) -> Vectors:
    row = np.random.default_rng(seed).normal(size=n).astype(np.float32)
    out: Vectors = row / np.linalg.norm(row)
    return out


def test_round_trip_as_float16_per_model(engine: Engine) -> None:
    store = TopicVectorStore(engine)
    first, second = text_hash("speech and music"), text_hash("GUI agents")
    assert store.put_many(MODEL, {first: unit(384, 1), second: unit(384, 2)}, PINNED) == 2
    got = store.get_many(MODEL, [first, second, text_hash("never stored"), first])
    assert sorted(got) == sorted([first, second])
    assert got[first].dtype == np.float32
    assert abs(float(np.linalg.norm(got[first])) - 1) < 1e-6
    assert float(got[first] @ unit(384, 1)) > 0.9999
    assert store.get_many("other/model", [first]) == {}
    with engine.connect() as connection:
        raw = connection.execute(select(TOPIC_VECTORS.c.vector)).scalars().all()
    assert {len(bytes(r)) for r in raw} == {768}  # 384 float16 numbers
    assert store.put_many(MODEL, {}, PINNED) == 0


def test_put_many_replaces_the_vector_of_a_text(engine: Engine) -> None:
    store = TopicVectorStore(engine)
    key = text_hash("video generation")
    store.put_many(MODEL, {key: unit(8, 1)}, PINNED)
    store.put_many(MODEL, {key: unit(8, 2)}, PINNED + timedelta(days=1))
    store.put_many("other/model", {key: unit(8, 3)}, PINNED)
    assert float(store.get_many(MODEL, [key])[key] @ unit(8, 2)) > 0.999
    with engine.connect() as connection:
        rows = connection.execute(select(TOPIC_VECTORS.c.model)).scalars().all()
    assert sorted(rows) == ["fake/16@test", "other/model"]


def test_many_hashes_are_read_in_pages(engine: Engine) -> None:
    store = TopicVectorStore(engine)
    vectors = {text_hash(f"topic {i}"): unit(8, i) for i in range(1200)}
    assert store.put_many(MODEL, vectors, PINNED) == 1200
    assert len(store.get_many(MODEL, list(vectors))) == 1200


class CountingEmbedder(LexicalEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.embedded.extend(texts)
        return super().embed(texts)


def test_a_second_process_reads_the_topic_instead_of_embedding_it(engine: Engine) -> None:
    papers = saved_papers()[:20]
    text = "speech and music: generation"
    texts = {text, *phrases(text)}
    topic: TopicVectors = TopicVectorStore(engine)
    scores = []
    for _ in range(2):  # two processes: a fresh embedder and meaning each time
        embedder = CountingEmbedder()
        meaning = VectorMeaning(
            embedder,
            InMemoryVectors(embedder),
            background_for(embedder),
            lambda ids: [],
            topics=topic,
        )
        embedder.embedded.clear()  # the background and papers are not what is counted
        found = meaning.close([Want(About(text))], papers)[0]
        scores.append(list(found.scores))
        topics_embedded = texts & set(embedder.embedded)
        if len(scores) == 1:
            assert topics_embedded == texts  # the first process embeds the topic and keeps it
        else:
            assert not topics_embedded  # the second reads it back
    assert scores[0] == pytest.approx(scores[1], abs=1e-2)  # float16 on the way
