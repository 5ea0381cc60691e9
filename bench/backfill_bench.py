"""`paperboy embed` over N stored papers on SQLite (the backfill), and a day's papers at ingest.

Papers are the captured ones (tests/data/hf), cycled with distinct arXiv ids and a copy number
in the title (so every text, and its hash, is distinct), stored through the repository in
fetches of 1,000. Measured, on one SQLite file in a temporary folder:

1. a day: ``IngestVectors.after_ingest`` on 50 new papers (the model already loaded; its load
   is timed apart), as a fetch does when a profile uses about:/like:;
2. the backfill: ``paperboy embed`` in a child process, progress on stderr (a bar in a terminal,
   plain lines otherwise), wall time from start to exit (model load included);
3. the same pipeline in-process with an embedder that costs nothing (a fixed 384-number unit
   vector): what the store, hashing, batching and the progress callback cost without a model;
4. the baseline, in the same run: the bare model embedding a sample of the same texts (no
   store), so the backfill's ratio to it is the store's overhead.

    python bench/backfill_bench.py                   # 10,000 papers
    python bench/backfill_bench.py --papers 1000     # and extrapolate (say so)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.clock import fixed_clock  # noqa: E402
from paperboy.ingest import plan_batch  # noqa: E402
from paperboy.semantic.embedder import Vectors  # noqa: E402
from paperboy.semantic.minilm import MiniLM  # noqa: E402
from paperboy.semantic.vectors import (  # noqa: E402
    IngestVectors,
    StoredVectors,
    paper_text,
)
from scraper.models import FetchOutcome, ParsePath, ScrapedPaper, Verdict, View  # noqa: E402
from store.engine import make_engine, upgrade  # noqa: E402
from store.repository import SqlStore  # noqa: E402
from store.subscribers import SubscriberStore  # noqa: E402
from store.types import NewProfile, NewSubscriber, SubscriberSettings  # noqa: E402
from store.vectors import VectorStore  # noqa: E402
from tests.papers import saved_papers  # noqa: E402

START = datetime(2026, 7, 1, tzinfo=UTC)
PAPERBOY = Path(sys.executable).with_name("paperboy")
DAY = 50
SAMPLE = 200  # texts the bare model embeds for the baseline rate


def synthetic(count: int, offset: int = 0) -> list[ScrapedPaper]:
    papers = saved_papers()
    return [
        dataclasses.replace(
            papers[k % len(papers)],
            arxiv_id=f"29{k // 100000 % 100:02d}.{k % 100000:05d}",
            title=f"{papers[k % len(papers)].title} ({k // len(papers)})",
        )
        for k in range(offset, offset + count)
    ]


def store_papers(store: SqlStore, papers: list[ScrapedPaper]) -> None:
    for n, start in enumerate(range(0, len(papers), 1000)):
        at = START + timedelta(hours=n)
        store.ingest(
            plan_batch(
                FetchOutcome(
                    view=View.SEARCH,
                    period=f"bench-{n}",
                    url=f"https://huggingface.co/api/papers/search?q=bench-{n}",
                    verdict=Verdict.OK,
                    started_at=at,
                    finished_at=at,
                    papers=tuple(papers[start : start + 1000]),
                    path=ParsePath.API,
                    status_code=200,
                )
            )
        )


def day(folder: Path) -> None:
    engine = make_engine(f"sqlite:///{folder / 'day.db'}")
    upgrade(engine)
    store, vectors = SqlStore(engine), VectorStore(engine)
    SubscriberStore(engine).add(
        NewSubscriber(
            "a@example.org", "active", SubscriberSettings(), (NewProfile("t", 'about:"robots"'),)
        ),
        START,
    )
    papers = synthetic(DAY)
    store_papers(store, papers)
    started = time.perf_counter()
    model = MiniLM.load()
    loaded = time.perf_counter() - started
    stored = StoredVectors(model, vectors, clock=fixed_clock(START))
    hook = IngestVectors(lambda: stored, vectors)
    started = time.perf_counter()
    embedded = hook.after_ingest([p.arxiv_id for p in papers])
    seconds = time.perf_counter() - started
    again = time.perf_counter()
    hook.after_ingest([p.arxiv_id for p in papers])  # the same list fetched again
    unchanged = time.perf_counter() - again
    print(
        f"a day at ingest: {embedded} papers in {seconds:.2f} s ({embedded / seconds:.1f}/s), "
        f"model load {loaded:.2f} s; the same list again {unchanged * 1000:.1f} ms"
    )
    engine.dispose()


def baseline(count: int) -> float:
    model = MiniLM.load()
    texts = [paper_text(p) for p in synthetic(count)]
    started = time.perf_counter()
    model.embed(texts)
    rate = count / (time.perf_counter() - started)
    print(f"baseline, the bare model on {count} texts: {rate:.1f} papers/s")
    return rate


class FreeEmbedder:
    """The same vector for every text, at no cost: only the pipeline around the model is left."""

    model_id, dim = "free/384", 384

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        rows[:, 0] = 1.0
        return rows


def pipeline(folder: Path, count: int) -> None:
    engine = make_engine(f"sqlite:///{folder / 'pipeline.db'}")
    upgrade(engine)
    store_papers(SqlStore(engine), synthetic(count))
    vectors = StoredVectors(FreeEmbedder(), VectorStore(engine), clock=fixed_clock(START))
    calls = 0

    def progress(done: int, total: int) -> None:
        nonlocal calls
        calls += 1

    started = time.perf_counter()
    done = vectors.fill(progress)
    seconds = time.perf_counter() - started
    print(
        f"the pipeline without a model (384 dims): {done} papers in {seconds:.2f} s "
        f"({done / seconds:,.0f}/s), {calls} progress calls"
    )
    engine.dispose()


def backfill(folder: Path, count: int, batch: int) -> float:
    database = folder / "backfill.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    started = time.perf_counter()
    store_papers(SqlStore(engine), synthetic(count))
    print(f"stored {count} papers in {time.perf_counter() - started:.1f} s")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    environment |= {"PAPERBOY_DATABASE_URL": f"sqlite:///{database}", "HOME": str(folder)}
    started = time.perf_counter()
    result = subprocess.run(
        [str(PAPERBOY), "embed", "--batch", str(batch)],
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )  # stderr (the progress) goes to ours
    seconds = time.perf_counter() - started
    print(f"paperboy embed: {result.stdout.strip()}")
    print(f"backfill of {count}: {seconds:.1f} s wall ({count / seconds:.1f} papers/s)")
    stored = VectorStore(engine).count(MiniLM.load().model_id)
    size = database.stat().st_size + sum(p.stat().st_size for p in folder.glob("backfill.db-*"))
    print(f"vectors stored: {stored}; database {size / 1e6:.1f} MB")
    engine.dispose()
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--pipeline-only", action="store_true", help="only part 3")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.pipeline_only:
            pipeline(folder, args.papers)
            return
        day(folder)
        pipeline(folder, args.papers)
        bare = baseline(SAMPLE)
        rate = backfill(folder, args.papers, args.batch)
    print(f"backfill rate / bare model rate: {rate / bare:.2f}")
    if args.papers < 10_000:
        print(f"10,000 at this rate: {10_000 / rate / 60:.1f} min (extrapolated)")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
