"""The manage page's live preview of a topic profile (about:) over the last 7 days, with the model.

A week of papers (default 350: Hugging Face lists ~50 a day) is stored on SQLite, first seen
over the last 7 days: the captured papers (tests/data/hf) cycled with distinct arXiv ids. Their
vectors are stored as ``paperboy embed`` or the ingest hook would have left them: the captured
texts' vectors ship in paperboy/semantic/background.npz (same model, same text); the few whose
stored text differs are embedded by the model during the first preview. Then, in one process
through paperboy.web.preview.preview with paperboy.semantic.runtime.Semantics:

1. cold: the first topic preview (the model loaded, the shelf read, its vectors read);
2. warm: the same topic again (what each keystroke or Broader/Narrower costs);
3. a new topic each time (its text embedded and calibrated once);
4. the baseline, in the same run: a keyword query's preview over the same shelf;
5. the search box on / with the topic (every paper on the shelf: here the same week).

    python bench/preview_meaning_bench.py                # 350 papers
    python bench/preview_meaning_bench.py --papers 1000
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.ingest import plan_batch  # noqa: E402
from paperboy.semantic.load import ModelChoice  # noqa: E402
from paperboy.semantic.runtime import Semantics  # noqa: E402
from paperboy.web.preview import preview, search  # noqa: E402
from scraper.models import View  # noqa: E402
from store.engine import make_engine, upgrade  # noqa: E402
from store.repository import SqlStore  # noqa: E402
from tests.builders import outcome  # noqa: E402
from tests.papers import saved_papers  # noqa: E402

NOW = datetime(2026, 7, 31, 12, 0, tzinfo=UTC)
TOPIC = 'about:"reinforcement learning to improve the reasoning of language models"'
TOPICS = [
    'about:"speculative decoding for LLM serving"',
    'about:"video generation with diffusion models"',
    'about:"retrieval-augmented generation"',
    'about:"robot manipulation from demonstrations"',
    'about:"benchmarks for multimodal models"',
    'about:"efficient attention for long context"',
    'about:"text-to-speech synthesis"',
    'about:"agents that use tools"',
    'about:"3D scene reconstruction"',
    'about:"quantization of large language models"',
]
KEYWORDS = 'diffusion OR "video generation" OR agent*'
HINTED = f"{TOPIC} ~reinforcement ~reasoning"  # the topic with the words a subscriber types


def store_week(store: SqlStore, count: int) -> None:
    """``count`` papers first seen over the last 7 days, in one fetch a day."""
    captured = saved_papers()
    papers = [
        dataclasses.replace(captured[i % len(captured)], arxiv_id=f"2607.{i:05d}")
        for i in range(count)
    ]
    per_day = -(-count // 7)
    for day in range(7):
        at = NOW - timedelta(days=6 - day, hours=1)
        chunk = tuple(papers[day * per_day : (day + 1) * per_day])
        if chunk:
            store.ingest(plan_batch(outcome(chunk, view=View.DAY, period=f"{at:%Y-%m-%d}", at=at)))


def prime(semantics: Semantics, store: SqlStore) -> int:
    """The stored vectors of the papers whose text is a shipped background text."""
    import io
    from importlib import resources

    import numpy as np

    from paperboy.semantic import background
    from paperboy.semantic.vectors import paper_text, text_hash
    from store.vectors import NewVector, VectorStore, decode, encode

    stored = semantics.stored_vectors()
    assert stored is not None, "the model is not loaded: " + str(semantics.reason)
    data = resources.files("paperboy.semantic").joinpath(background.FILE).read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        shipped = {
            " ".join(str(t).split()): row
            for t, row in zip(npz["texts"], npz["vectors"], strict=True)
        }
    fresh = []
    for paper in store.papers_seen_between(NOW - timedelta(days=8), NOW):
        text = paper_text(paper)
        if text in shipped:
            vector = decode(encode(shipped[text].astype(np.float32)))
            fresh.append(NewVector(paper.arxiv_id, stored.model_id, text_hash(text), vector))
    return VectorStore(store._engine).put_many(fresh, NOW)


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(label: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{label:<34} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   n={len(ms)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=350)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        store = SqlStore(engine)
        store_week(store, args.papers)
        semantics = Semantics(ModelChoice(), engine)
        primed = prime(semantics, store)
        print(f"{args.papers} papers over 7 days; {primed} vectors stored beforehand")
        print(f"model: {semantics.model_id} ({semantics.reason or 'loaded'})")

        def topic(query: str) -> Callable[[], object]:
            return lambda: preview(store, query, NOW, semantics=semantics)

        cold = timed(topic(TOPIC), 1)
        first = preview(store, TOPIC, NOW, semantics=semantics)
        print(f"the topic matches {first.total} of {first.considered}")
        warm = timed(topic(TOPIC), args.repeat)
        narrower = timed(lambda: preview(store, TOPIC, NOW, semantics=semantics, closeness=2), 5)
        fresh = [timed(topic(t), 1)[0] for t in TOPICS]
        words = timed(lambda: preview(store, KEYWORDS, NOW, semantics=semantics), args.repeat)
        searched = timed(lambda: search(store, TOPIC, NOW, semantics=semantics), args.repeat)
        hinted = timed(lambda: preview(store, HINTED, NOW, semantics=semantics), args.repeat)
        print(summary("cold (first topic preview)", cold))
        print(summary("warm (same topic)", warm))
        print(summary("narrower step (same topic)", narrower))
        print(summary("a new topic each time", fresh))
        print(summary("baseline: keyword preview", words))
        print(summary("topic search on / (warm)", searched))
        print(summary("the topic with two ~hints (warm)", hinted))
        ratio = statistics.median(warm) / statistics.median(words)
        print(f"warm topic / keyword preview: {ratio:.1f}x")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {peak:.0f} MB")
        engine.dispose()


if __name__ == "__main__":
    main()
