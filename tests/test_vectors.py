"""Paper vectors on both databases: stored as float16, recomputed when the text changes, filled
in by the backfill, computed at ingest only when a profile matches by meaning."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Sequence
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, select

from paperboy.clock import fixed_clock
from paperboy.errors import PaperboyError
from paperboy.ingest import Ingestor
from paperboy.semantic.embedder import Vectors
from paperboy.semantic.meaning import PaperVectors
from paperboy.semantic.vectors import (
    MAX_CHARS,
    IngestVectors,
    StoredVectors,
    hash_of,
    needs_meaning,
    paper_text,
    text_hash,
)
from scraper import sources
from store.engine import make_engine, upgrade
from store.repository import SqlStore
from store.subscribers import SubscriberStore
from store.tables import EMBEDDINGS
from store.types import NewProfile, NewSubscriber, SubscriberSettings
from store.vectors import NewVector, PaperText, VectorStore, decode, encode
from tests.builders import batch, captured
from tests.conftest import PINNED, capture
from tests.databases import migrated_engine
from tests.replay import replaying_fetcher

DAY = captured("hf-api-daily-papers-2026-05-08.json")  # 37 papers
MODEL = "fake/16@test"


class FakeEmbedder:
    """Deterministic unit vectors from the text's hash; counts what it was asked to embed."""

    def __init__(self, model_id: str = MODEL, dim: int = 16, fail: bool = False) -> None:
        self._model_id, self._dim, self.fail = model_id, dim, fail
        self.texts: list[str] = []
        self.calls = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        if self.fail:
            raise PaperboyError("the model fell over")
        self.calls += 1
        self.texts.extend(texts)
        rows = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(self._dim).astype(np.float32)
            rows[i] = row / np.linalg.norm(row)
        return rows


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = migrated_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def papers(engine: Engine) -> SqlStore:
    store = SqlStore(engine)
    store.ingest(batch(DAY))
    return store


def unit(dim: int, seed: int) -> np.ndarray:
    row = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return row / np.linalg.norm(row)


# -- the text and its hash -------------------------------------------------------------------


def test_paper_text_is_title_and_abstract_whitespace_collapsed_and_capped() -> None:
    text = paper_text(PaperText("1", "  Deep\n  nets ", "We  show\tthat.\n"))
    assert text == "Deep nets. We show that."
    assert paper_text(PaperText("1", "Is attention enough?", "No.")) == "Is attention enough? No."
    assert paper_text(PaperText("1", "Only a title", None)) == "Only a title"
    assert paper_text(PaperText("1", "T", None, "AI says.")) == "T. AI says."
    assert paper_text(PaperText("1", "T", "Abstract.", "AI says.")) == "T. Abstract."
    assert len(paper_text(PaperText("1", "T", "word " * 2000))) == MAX_CHARS
    assert text_hash("a") != text_hash("b")
    assert len(text_hash("a")) == 16
    same = PaperText("1", "Deep  nets", "We show")
    assert hash_of(same) == hash_of(PaperText("1", "Deep nets", " We  show "))


def test_needs_meaning_finds_about_and_like_terms() -> None:
    assert needs_meaning(['diffusion AND about:"protein folding"'])
    assert needs_meaning(["LIKE:2407.21783"])
    assert not needs_meaning(["diffusion", 'title:"transformers"'])
    assert not needs_meaning([])


# -- the store -------------------------------------------------------------------------------


def test_put_and_get_round_trip_as_float16(engine: Engine, papers: SqlStore) -> None:
    store = VectorStore(engine)
    vector = unit(384, 1)
    stored = store.put_many([NewVector(DAY[0].arxiv_id, MODEL, "h1", vector)], PINNED)
    assert stored == 1
    got = store.get([DAY[0].arxiv_id, DAY[1].arxiv_id], MODEL)
    assert list(got) == [DAY[0].arxiv_id]
    assert got[DAY[0].arxiv_id].text_hash == "h1"
    back = got[DAY[0].arxiv_id].vector
    assert back.dtype == np.float32
    assert abs(float(np.linalg.norm(back)) - 1) < 1e-6
    assert float(back @ vector) > 0.9999
    with engine.connect() as connection:
        (raw,) = connection.execute(select(EMBEDDINGS.c.vector)).scalars()
    assert len(bytes(raw)) == 768  # 384 float16 numbers
    assert np.array_equal(decode(encode(back)), back)  # stored values read back are stable


def test_put_many_upserts_per_model_and_skips_unknown_papers(
    engine: Engine, papers: SqlStore
) -> None:
    store = VectorStore(engine)
    first, second = DAY[0].arxiv_id, DAY[1].arxiv_id
    rows = [NewVector(first, MODEL, "h1", unit(8, 1)), NewVector(second, MODEL, "h1", unit(8, 2))]
    assert store.put_many(rows, PINNED) == 2
    again = [
        NewVector(first, MODEL, "h2", unit(8, 3)),
        NewVector(first, "other/8", "h1", unit(8, 4)),
        NewVector("9999.99999", MODEL, "h1", unit(8, 5)),  # not a stored paper
    ]
    assert store.put_many(again, PINNED + timedelta(hours=1)) == 2
    assert store.count(MODEL) == 2
    assert store.count("other/8") == 1
    assert store.get([first], MODEL)[first].text_hash == "h2"
    assert float(store.get([first], MODEL)[first].vector @ unit(8, 3)) > 0.999
    assert store.get(["9999.99999"], MODEL) == {}
    assert store.put_many([], PINNED) == 0


def test_pending_pages_through_papers_without_a_current_vector(
    engine: Engine, papers: SqlStore
) -> None:
    store = VectorStore(engine)
    ids = sorted(p.arxiv_id for p in DAY)
    assert list(store.missing(MODEL, hash_of, page=5)) == ids  # 8 pages, each id once, in order
    texts = store.texts(ids)
    current = [NewVector(t.arxiv_id, MODEL, hash_of(t), unit(8, 1)) for t in texts]
    store.put_many([*current[:10], NewVector(ids[10], MODEL, "stale", unit(8, 1))], PINNED)
    assert list(store.missing(MODEL, hash_of, page=5)) == ids[10:]
    assert list(store.missing("other/8", hash_of)) == ids
    assert store.texts([ids[0], "9999.99999"]) == [texts[0]]


def test_topic_queries_are_those_of_active_subscribers(engine: Engine) -> None:
    people = SubscriberStore(engine)
    settings = SubscriberSettings()
    people.add(
        NewSubscriber(
            "a@example.org",
            "active",
            settings,
            (NewProfile("kw", "diffusion"), NewProfile("t", 'About:"protein design"')),
        ),
        PINNED,
    )
    people.add(
        NewSubscriber("b@example.org", "paused", settings, (NewProfile("t", "like:2401.1"),)),
        PINNED,
    )
    assert VectorStore(engine).topic_queries() == ['About:"protein design"']


# -- StoredVectors ---------------------------------------------------------------------------


def test_vectors_embeds_the_missing_ones_once_and_keeps_the_order(
    engine: Engine, papers: SqlStore
) -> None:
    embedder = FakeEmbedder()
    vectors: PaperVectors = StoredVectors(
        embedder, VectorStore(engine), clock=fixed_clock(PINNED), batch=10
    )
    asked = [DAY[3], DAY[0], DAY[3], *DAY[5:20]]
    first = vectors.vectors(asked)
    assert first.shape == (18, 16)
    assert first.dtype == np.float32
    assert len(embedder.texts) == 17  # each distinct paper once, in batches of 10
    assert embedder.calls == 2
    assert np.array_equal(first[0], first[2])
    again = vectors.vectors(list(reversed(asked)))
    assert embedder.calls == 2  # all stored now
    assert np.array_equal(again, first[::-1])  # a fresh vector is the stored one, bit for bit
    assert VectorStore(engine).count(MODEL) == 17


def test_a_changed_abstract_is_embedded_again(engine: Engine, papers: SqlStore) -> None:
    embedder = FakeEmbedder()
    store = VectorStore(engine)
    vectors = StoredVectors(embedder, store, clock=fixed_clock(PINNED))
    before = vectors.vectors(DAY[:3])
    changed = dataclasses.replace(DAY[1], summary="An entirely new abstract.")
    papers.ingest(batch((changed,)))
    after = vectors.vectors([DAY[0], changed, DAY[2]])
    assert embedder.texts[-1] == f"{' '.join(DAY[1].title.split())}. An entirely new abstract."
    assert len(embedder.texts) == 4
    assert np.array_equal(before[[0, 2]], after[[0, 2]])
    assert not np.array_equal(before[1], after[1])
    assert store.get([changed.arxiv_id], MODEL)[changed.arxiv_id].text_hash == hash_of(changed)


def test_a_paper_the_store_does_not_hold_is_embedded_not_stored(
    engine: Engine, papers: SqlStore
) -> None:
    stranger = dataclasses.replace(DAY[0], arxiv_id="9999.99999")
    vectors = StoredVectors(FakeEmbedder(), VectorStore(engine), clock=fixed_clock(PINNED))
    assert vectors.vectors([stranger]).shape == (1, 16)
    assert VectorStore(engine).count(MODEL) == 0


def test_fill_embeds_what_is_missing_in_batches_with_progress(
    engine: Engine, papers: SqlStore
) -> None:
    embedder = FakeEmbedder()
    store = VectorStore(engine)
    vectors = StoredVectors(embedder, store, clock=fixed_clock(PINNED), batch=8)
    vectors.vectors(DAY[:5])
    seen: list[tuple[int, int]] = []
    assert vectors.fill(lambda done, total: seen.append((done, total)), limit=20) == 20
    assert seen == [(0, 20), (8, 20), (16, 20), (20, 20)]
    assert vectors.fill() == 12
    assert store.count(MODEL) == 37
    assert vectors.fill() == 0
    assert list(store.missing(MODEL, hash_of)) == []


# -- at ingest -------------------------------------------------------------------------------


def fetch_day(engine: Engine, embedder: FakeEmbedder | None) -> tuple[int, str | None]:
    """The latest day's 37 papers fetched with the embedding hook; ``None``: no model."""
    store = SqlStore(engine)
    vectors = VectorStore(engine)
    loads: list[int] = []

    def load() -> StoredVectors | None:
        loads.append(1)
        if embedder is None:
            return None
        return StoredVectors(embedder, vectors, clock=fixed_clock(PINNED))

    hook = IngestVectors(load, vectors)
    with replaying_fetcher() as (fetcher, router, _):
        router.get("/api/daily_papers").respond(
            200, content=capture("hf-api-daily-papers-2026-05-08.json")
        )
        ingestor = Ingestor(fetcher, store, fixed_clock(PINNED), embedding=hook)
        report = ingestor.run(sources.day())
    assert report.result.new_papers + report.result.updated_papers == 37
    if report.embedded:
        assert loads == [1]
    return report.embedded, report.embed_error


def subscribe(engine: Engine, query: str) -> None:
    SubscriberStore(engine).add(
        NewSubscriber("a@example.org", "active", SubscriberSettings(), (NewProfile("p", query),)),
        PINNED,
    )


def test_ingest_embeds_nothing_without_topic_profiles(engine: Engine) -> None:
    subscribe(engine, "diffusion OR transformer")
    embedder = FakeEmbedder()
    hook = IngestVectors(lambda: pytest.fail("the model was loaded"), VectorStore(engine))
    SqlStore(engine).ingest(batch(DAY))
    assert hook.after_ingest([p.arxiv_id for p in DAY]) == 0
    assert fetch_day(engine, embedder) == (0, None)
    assert embedder.calls == 0


def test_ingest_without_the_model_embeds_nothing(engine: Engine) -> None:
    subscribe(engine, 'about:"robots"')
    assert fetch_day(engine, None) == (0, None)
    assert VectorStore(engine).count(MODEL) == 0


def test_ingest_embeds_new_papers_when_a_profile_asks_about_a_topic(engine: Engine) -> None:
    subscribe(engine, 'about:"robots that learn from video"')
    embedder = FakeEmbedder()
    assert fetch_day(engine, embedder) == (37, None)
    assert VectorStore(engine).count(MODEL) == 37
    assert fetch_day(engine, embedder) == (0, None)  # the same list again: nothing changed


def test_an_embedding_failure_never_fails_the_ingest(engine: Engine) -> None:
    subscribe(engine, "like:2405.00001")
    embedded, error = fetch_day(engine, FakeEmbedder(fail=True))
    assert (embedded, error) == (0, "the model fell over")
    assert SqlStore(engine).count_papers() == 37
    later = StoredVectors(FakeEmbedder(), VectorStore(engine), clock=fixed_clock(PINNED))
    assert later.fill() == 37  # embedded later, on demand


def test_the_real_model_on_three_papers(sqlite_url: str) -> None:
    minilm = pytest.importorskip("paperboy.semantic.minilm")
    engine = make_engine(sqlite_url)
    upgrade(engine)
    try:
        SqlStore(engine).ingest(batch(DAY))
        vectors = StoredVectors(minilm.MiniLM.load(), VectorStore(engine))
        rows = vectors.vectors(DAY[:3])
        assert rows.shape == (3, 384)
        assert np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-5)
        assert np.array_equal(vectors.vectors(DAY[:3]), rows)
        assert VectorStore(engine).count(vectors.model_id) == 3
    finally:
        engine.dispose()
