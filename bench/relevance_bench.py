"""Relevance of matching by meaning on the judged dev set (issue 16).

Papers: the 160 of the saved captures (tests/data/hf) judged in ../shared/relevance/dev.json.
Reported: macro precision, recall and F1 over the topics with at least one relevant paper, for
the topic's naive words and its expert query (the real Matcher), about:"<topic>" alone (the real
VectorMeaning), about: with the naive words read three ways (OR, AND, and fused: a word hit adds
``BONUS`` standard deviations), and about: after simulated feedback (the first 20 papers the
profile shows: relevant ones liked, up to five others rejected; scored on the papers not
clicked). Beside each dev figure, a split-half estimate: background from one random half, scored
on the other (20 splits), since the shipped background is made of these very papers.
Until the matcher understands about:, the words go through the Matcher and meaning through
VectorMeaning, combined here. ``--write-background`` rewrites paperboy/semantic/background.npz.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.profiles.ast import About  # noqa: E402
from paperboy.profiles.document import PaperLike  # noqa: E402
from paperboy.profiles.matcher import Matcher, ProfileSpec  # noqa: E402
from paperboy.semantic import background, score  # noqa: E402
from paperboy.semantic.closeness import Want  # noqa: E402
from paperboy.semantic.embedder import Embedder, Vectors  # noqa: E402
from paperboy.semantic.meaning import InMemoryVectors, VectorMeaning, paper_text  # noqa: E402
from paperboy.semantic.minilm import MiniLM  # noqa: E402
from tests.parsing import parse_capture  # noqa: E402

HF = ROOT / "tests" / "data" / "hf"
DEV = ROOT.parent / "shared" / "relevance" / "dev.json"
CACHE = Path("/tmp/paperboy-relevance-vectors.npz")  # noqa: S108  (a cache of public vectors)
BONUS, SPLITS, SHOWN, REJECTS = 1.5, 20, 20, 5
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float32]


def dev_papers(judged: dict[str, list[str]]) -> list[PaperLike]:
    """Every judged paper of the captures, once, in arXiv-id order."""
    found: dict[str, PaperLike] = {}
    for path in sorted(HF.iterdir()):
        if path.suffix not in (".json", ".html", ".xml") or ".expected" in path.name:
            continue
        if "error" in path.name:
            continue
        for paper in parse_capture(path).papers:
            if paper.arxiv_id in judged:
                found.setdefault(paper.arxiv_id, paper)
    return [found[i] for i in sorted(found)]


def cached_vectors(embedder: Embedder, papers: Sequence[PaperLike]) -> InMemoryVectors:
    """InMemoryVectors filled from a file under /tmp (embedding 160 papers takes ~15-30 s)."""
    store = InMemoryVectors(embedder)
    ids = [p.arxiv_id for p in papers]
    if CACHE.exists():
        with np.load(CACHE) as npz:
            if str(npz["model_id"]) == embedder.model_id and list(npz["ids"]) == ids:
                store.prime(ids, npz["vectors"])
                return store
    rows = store.vectors(papers)
    np.savez(CACHE, ids=np.array(ids), model_id=np.array(embedder.model_id), vectors=rows)
    return store


def macro(found: Bools, truth: Bools) -> tuple[float, float, float]:
    """Macro precision, recall, F1 over topics (rows) with at least one relevant paper."""
    keep = truth.sum(axis=1) > 0
    found, truth = found[keep], truth[keep]
    hits = (found & truth).sum(axis=1)
    shown = found.sum(axis=1)
    p = np.where(shown > 0, hits / np.maximum(shown, 1), 0.0)
    r = hits / truth.sum(axis=1)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    return float(p.mean()), float(r.mean()), float(f.mean())


def word_masks(queries: list[str], papers: Sequence[PaperLike]) -> Bools:
    specs = [ProfileSpec(i, i, f"t{i}", q) for i, q in enumerate(queries)]
    out = np.zeros((len(queries), len(papers)), dtype=bool)
    where = {p.arxiv_id: i for i, p in enumerate(papers)}
    for match in Matcher(specs).match(papers):
        out[match.profile_id, where[match.paper.arxiv_id]] = True
    return out


class Run:
    """One background: the meaning of every topic over a set of evaluated papers."""

    def __init__(
        self,
        embedder: Embedder,
        store: InMemoryVectors,
        bg: Vectors,
        papers: Sequence[PaperLike],
        settings: score.Settings,
        bg_texts: Sequence[str] | None = None,
    ) -> None:
        by_id = {p.arxiv_id: p for p in papers}
        self.papers = papers
        self.meaning = VectorMeaning(
            embedder,
            store,
            bg,
            lambda ids: [by_id[i] for i in ids if i in by_id],
            settings,
            background_texts=bg_texts,
        )

    def about(self, topics: list[str], words: Bools | None, bonus: float) -> tuple[Bools, Floats]:
        """Each topic's papers, and the z-scores: alone, or fused with word hits."""
        found = self.meaning.close([Want(About(t)) for t in topics], self.papers)
        z = np.array([list(c.scores) for c in found], dtype=np.float32)
        mask = np.array([[c.mask >> i & 1 for i in range(len(self.papers))] for c in found])
        if words is None:
            return mask.astype(np.bool_), z
        fused = score.fuse(z, words, bonus)
        cut = self.meaning.settings.k
        close: Bools = fused >= cut
        return close, fused

    def feedback(
        self, topics: list[str], truth: Bools, words: Bools | None, bonus: float
    ) -> tuple[Bools, Bools]:
        """Simulated clicks on the first papers each profile shows, then the profile again."""
        _first, rank = self.about(topics, words, bonus)
        found = np.zeros_like(truth)
        left = truth.copy()
        for t, topic in enumerate(topics):
            shown = np.argsort(-rank[t], kind="stable")[:SHOWN]  # its top 20 by score
            liked = shown[truth[t, shown]]
            rejected = shown[~truth[t, shown]][:REJECTS]
            ids = [self.papers[i].arxiv_id for i in (*liked, *rejected)]
            want = Want(
                About(topic), liked=tuple(ids[: len(liked)]), rejected=tuple(ids[len(liked) :])
            )
            closeness = self.meaning.close([want], self.papers)[0]
            z = np.array(list(closeness.scores), dtype=np.float32)
            cut = score.cutoff(0, bool(len(liked)), self.meaning.settings)
            mask = np.array([closeness.mask >> i & 1 for i in range(len(self.papers))], bool)
            if words is not None:
                mask = score.fuse(z[None], words[t][None], bonus)[0] >= cut
            back = self.meaning.held_back(want.rejected, self.papers)
            mask &= ~np.array([back >> i & 1 for i in range(len(self.papers))], bool)
            clicked = np.zeros(len(self.papers), bool)
            clicked[liked] = clicked[rejected] = True
            found[t] = mask & ~clicked
            left[t] &= ~clicked
        return found, left


def split_half(
    embedder: Embedder,
    store: InMemoryVectors,
    papers: Sequence[PaperLike],
    truth: Bools,
    design: Callable[[Run, Sequence[int]], tuple[Bools, Bools]],
    settings: score.Settings,
) -> float:
    """Mean F1 on one half with the background taken from the other half."""
    rng = np.random.default_rng(16)
    scores = []
    for _ in range(SPLITS):
        order = rng.permutation(len(papers))
        bg_idx, ev_idx = order[: len(papers) // 2], order[len(papers) // 2 :]
        bg_papers = [papers[i] for i in bg_idx]
        bg = store.vectors(bg_papers)
        texts = [paper_text(p) for p in bg_papers]
        run = Run(embedder, store, bg, [papers[i] for i in ev_idx], settings, texts)
        found, left = design(run, [int(i) for i in ev_idx])
        scores.append(macro(found, left)[2])
    return float(np.mean(scores))


def main() -> None:
    dev = json.loads(DEV.read_text())
    papers = dev_papers(dev["papers"])
    topics = [t for t in dev["topics"] if any(t["id"] in v for v in dev["papers"].values())]
    truth = np.array([[t["id"] in dev["papers"][p.arxiv_id] for p in papers] for t in topics])
    embedder = MiniLM.load()
    if "--write-background" in sys.argv:
        path = ROOT / "paperboy" / "semantic" / background.FILE
        path.write_bytes(background.build(papers, embedder))
        print(f"wrote {path}")
    store = cached_vectors(embedder, papers)
    naive = word_masks([t["naive"] for t in topics], papers)
    expert = word_masks([t["keywords"] for t in topics], papers)
    about = [t["about"] for t in topics]
    settings = score.DEFAULT
    shipped = background.background_for(embedder)
    print(
        f"{len(papers)} papers, {int((truth.sum(1) > 0).sum())} topics, model {embedder.model_id}"
    )
    print(
        f"k={settings.k} bonus={BONUS} k_liked={settings.k_liked} near_liked={settings.near_liked} "
        f"meaning_weight={settings.meaning_weight} held_back={settings.held_back}"
    )
    row("naive words (Matcher)", macro(naive, truth), None)
    row("expert query (Matcher)", macro(expert, truth), None)

    def designs() -> dict[str, Callable[[Run, Sequence[int]], tuple[Bools, Bools]]]:
        return {
            "about: alone": lambda r, ix: (r.about(about, None, 0)[0], truth[:, ix]),
            "about: OR naive words": lambda r, ix: (
                r.about(about, None, 0)[0] | naive[:, ix],
                truth[:, ix],
            ),
            "about: AND naive words": lambda r, ix: (
                r.about(about, None, 0)[0] & naive[:, ix],
                truth[:, ix],
            ),
            f"about: fused with naive words (+{BONUS} sd)": lambda r, ix: (
                r.about(about, naive[:, ix], BONUS)[0],
                truth[:, ix],
            ),
            "about: after feedback": lambda r, ix: r.feedback(about, truth[:, ix], None, 0),
            "fused after feedback": lambda r, ix: r.feedback(
                about, truth[:, ix], naive[:, ix], BONUS
            ),
        }

    full = Run(embedder, store, shipped, papers, settings)
    everything = list(range(len(papers)))
    for name, design in designs().items():
        found, left = design(full, everything)
        row(name, macro(found, left), split_half(embedder, store, papers, truth, design, settings))


def row(name: str, prf: tuple[float, float, float], half: float | None) -> None:
    p, r, f = prf
    extra = "" if half is None else f"   split-half F1 {half:.3f}"
    print(f"{name:46s} P {p:.3f}  R {r:.3f}  F1 {f:.3f}{extra}")


if __name__ == "__main__":
    main()
