"""The after-feedback protocol of bench/relevance_bench.py over a grid of feedback settings
(issue 16, round 6): for about: alone and for about: with the naive words as ~hints, each of
``k_liked`` (the cut-off once a profile has liked papers), ``near_liked`` (the weight of the
closeness to the nearest liked paper) and ``k_more`` (the cut-off of "close to what it
liked"), the dev F1 on the papers left unclicked and the split-half F1 (clicks on one half,
scored on the other). ~7 s a setting once the vectors are cached.

    python bench/feedback_grid.py
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import relevance_bench as rb  # noqa: E402
from paperboy.profiles.document import PaperLike  # noqa: E402
from paperboy.semantic import background, score  # noqa: E402
from paperboy.semantic.minilm import MiniLM  # noqa: E402


def main() -> None:
    dev = json.loads(rb.DEV.read_text())
    papers = rb.dev_papers(dev["papers"])
    topics = [t for t in dev["topics"] if any(t["id"] in v for v in dev["papers"].values())]
    truth = np.array([[t["id"] in dev["papers"][p.arxiv_id] for p in papers] for t in topics])
    embedder = MiniLM.load()
    store = rb.cached_vectors(embedder, papers)
    shipped = background.background_for(embedder)
    about = [f'about:"{t["about"]}"' for t in topics]
    hinted = [
        f"{q} " + " ".join(f"~{w}" for w in t["naive"].split())
        for q, t in zip(about, topics, strict=True)
    ]

    def measure(queries: list[str], settings: score.Settings, label: str) -> None:
        def shown(
            run: rb.Run, on: Sequence[PaperLike], clicks: Sequence[rb.Clicks]
        ) -> tuple[rb.Bools, rb.Floats, list[list[int]]]:
            return run.matched(queries, on, clicks)

        design = rb.after_feedback(shown, truth)
        every = range(len(papers))
        full = rb.Run(embedder, store, shipped, papers, every, every, settings)
        on_dev = design(full).macro()[2]
        halves = rb.split_half(embedder, store, papers, design, settings)
        held = float(np.mean([h.macro()[2] for h in halves]))
        print(f"{label:48s} dev {on_dev:.3f}  split-half {held:.3f}", flush=True)

    for name, queries in (("about:", about), ("~hints", hinted)):
        measure(queries, score.DEFAULT, f"{name} as shipped")
        for k_liked in (1.7, 2.0, 2.5, 3.0):
            for near in (0.5, 1.0, 1.5):
                for k_more in (3.0, 4.0, 5.0):
                    settings = dataclasses.replace(
                        score.DEFAULT, k_liked=k_liked, near_liked=near, k_more=k_more
                    )
                    measure(
                        queries, settings, f"{name} k_liked {k_liked} near {near} more {k_more}"
                    )


if __name__ == "__main__":
    main()
