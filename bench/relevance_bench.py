"""Relevance of matching by meaning on the judged dev set (issue 16).

Papers: the 160 of the saved captures (tests/data/hf) judged in ../shared/relevance/dev.json.
Reported: macro precision, recall and F1 over the topics with at least one relevant paper, for
the topic's naive words and its expert query, about:"<topic>" alone, about: with the naive words
(OR and AND through the real Matcher; fused, a word hit adding ``word_bonus`` standard deviations,
through score.fuse since the Matcher fuses words and meaning only to rank; as ~hints, one ~ per
naive word: ``about:"<topic>" ~w1 ~w2``, not required, a paper with them needing less
closeness), and about: (alone, with the ~hints, fused) after simulated feedback: per topic, the
first 20 papers the profile shows (its matches, best first), the relevant ones clicked "More
like this", up to five of the others (the best ranked) "Not interested", then the profile again
(the real Matcher, liked and rejected papers in its spec), scored on the papers not clicked; a
topic with no relevant paper left unclicked is skipped (the count is printed). Beside each dev
figure, a split-half estimate: the background (vectors and BM25 texts) from one random half,
scored on the other (20 splits); for feedback, the clicks are made on the background half and
scored on the other.

Under about: alone, the ~hints and each after-feedback row, "ceiling (oracle cut per topic)":
the best F1 any cut-off could reach if it were chosen per topic WITH the answers, averaged over
the topics as above, on dev and split half. Its score is the topic's want without clicks as
``VectorMeaning.close`` computes it over every paper (about:, with its ~hints for the ~hints
rows; the fused score for the fused row); after feedback, over the papers left to score (the
same clicks as the row), and also that score plus w x the z-score of each paper's cosine to the
topic's closest liked paper, the best w of 0.25/0.5/1/2 per topic ("mixed"; a topic with no
liked paper keeps its unmixed figure). The per-topic lines give the dev ceiling as "oracle".
``--write-background`` rewrites paperboy/semantic/background.npz.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.profiles.ast import About, Like, Term, hinted_semantic  # noqa: E402
from paperboy.profiles.document import PaperLike  # noqa: E402
from paperboy.profiles.matcher import Matcher, ProfileSpec, ranked  # noqa: E402
from paperboy.profiles.parser import parse  # noqa: E402
from paperboy.semantic import background, score  # noqa: E402
from paperboy.semantic.closeness import Want  # noqa: E402
from paperboy.semantic.embedder import Embedder, Vectors  # noqa: E402
from paperboy.semantic.meaning import InMemoryVectors, VectorMeaning, paper_text  # noqa: E402
from paperboy.semantic.minilm import MiniLM  # noqa: E402
from tests.parsing import parse_capture  # noqa: E402

HF = ROOT / "tests" / "data" / "hf"
DEV = ROOT.parent / "shared" / "relevance" / "dev.json"
CACHE = Path("/tmp/paperboy-relevance-vectors.npz")  # noqa: S108  (a cache of public vectors)
SPLITS, SHOWN, REJECTS = 20, 20, 5
MIX_WEIGHTS = (0.25, 0.5, 1.0, 2.0)  # the oracle's weights for the closest liked paper
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


@dataclass(frozen=True)
class Outcome:
    """One design over the evaluated papers: what each topic found, what it had to find (the
    relevant papers not clicked), and how many topics had relevant papers only among the
    clicked ones (skipped)."""

    found: Bools
    truth: Bools
    skipped: int = 0

    def per_topic(self) -> tuple[Floats, Floats, Floats]:
        """Precision, recall and F1 of each topic (NaN for a topic with nothing to find)."""
        hits = (self.found & self.truth).sum(axis=1)
        shown, wanted = self.found.sum(axis=1), self.truth.sum(axis=1)
        p = np.where(shown > 0, hits / np.maximum(shown, 1), 0.0)
        r = np.where(wanted > 0, hits / np.maximum(wanted, 1), np.nan)
        f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
        f = np.where(wanted > 0, f, np.nan)
        return p.astype(np.float32), r.astype(np.float32), f.astype(np.float32)

    def macro(self) -> tuple[float, float, float]:
        """Macro precision, recall, F1 over the topics with a relevant paper to find."""
        p, r, f = self.per_topic()
        keep = ~np.isnan(f)
        return float(p[keep].mean()), float(r[keep].mean()), float(f[keep].mean())


def word_masks(queries: list[str], papers: Sequence[PaperLike]) -> Bools:
    return Run.matched_by(Matcher([_spec(i, q) for i, q in enumerate(queries)]), papers)[0]


def _spec(
    i: int, query: str, liked: Sequence[str] = (), rejected: Sequence[str] = ()
) -> ProfileSpec:
    return ProfileSpec(i, i, f"t{i}", query, liked=tuple(liked), rejected=tuple(rejected))


class Run:
    """One background, the papers clicked on (the profile's first page) and the papers scored."""

    def __init__(
        self,
        embedder: Embedder,
        store: InMemoryVectors,
        bg: Vectors,
        everyone: Sequence[PaperLike],
        clicked_on: Sequence[int],
        scored: Sequence[int],
        settings: score.Settings,
        bg_texts: Sequence[str] | None = None,
    ) -> None:
        by_id = {p.arxiv_id: p for p in everyone}
        self.everyone, self.clicked_on, self.scored = everyone, list(clicked_on), list(scored)
        self.store = store
        self.papers = [everyone[i] for i in scored]
        self.meaning = VectorMeaning(
            embedder,
            store,
            bg,
            lambda ids: [by_id[i] for i in ids if i in by_id],
            settings,
            background_texts=bg_texts,
        )

    @staticmethod
    def matched_by(
        matcher: Matcher, papers: Sequence[PaperLike]
    ) -> tuple[Bools, Floats, list[list[int]]]:
        """Each profile's matches (a mask), their fused scores, and its papers best first."""
        n = len(matcher)  # one profile per topic, in order
        mask = np.zeros((n, len(papers)), dtype=bool)
        fused = np.full((n, len(papers)), -np.inf, dtype=np.float32)
        where = {p.arxiv_id: i for i, p in enumerate(papers)}
        order: list[list[int]] = [[] for _ in range(n)]
        for m in ranked(matcher.match(papers)):
            i = where[m.paper.arxiv_id]
            mask[m.profile_id, i], fused[m.profile_id, i] = True, m.score
            order[m.profile_id].append(i)
        return mask, fused, order

    def matched(
        self, queries: Sequence[str], papers: Sequence[PaperLike], clicks: Sequence[Clicks] = ()
    ) -> tuple[Bools, Floats, list[list[int]]]:
        """The real Matcher with meaning over ``papers`` (with each topic's clicks, if any)."""
        specs = [_spec(i, q, *(clicks[i] if clicks else ((), ()))) for i, q in enumerate(queries)]
        return self.matched_by(Matcher(specs, self.meaning), papers)

    def fused(
        self,
        topics: Sequence[str],
        words: Bools,
        papers: Sequence[PaperLike],
        clicks: Sequence[Clicks] = (),
    ) -> tuple[Bools, Floats, list[list[int]]]:
        """about: fused with word hits (score.fuse), as the Matcher would if it fused masks:
        after clicks, the about: want with its feedback OR the liked papers' like: want, less
        the rejected papers and those held back."""
        s = self.meaning.settings
        n = len(papers)
        mask = np.zeros((len(topics), n), dtype=bool)
        out = np.zeros((len(topics), n), dtype=np.float32)
        order: list[list[int]] = []
        for t, topic in enumerate(topics):
            liked, rejected = clicks[t] if clicks else ((), ())
            wants = [Want(About(topic), 0, tuple(liked), tuple(rejected))]
            if liked:
                wants.append(Want(Like(tuple(liked)), 0, tuple(liked), tuple(rejected)))
            found = self.meaning.close(wants, papers)
            z = np.array(list(found[0].scores), dtype=np.float32)
            out[t] = score.fuse(z[None], words[t][None], s.word_bonus)[0]
            close = out[t] >= score.cutoff(0, bool(liked), s)
            if liked:
                close |= _bools(found[1].mask, n)
            if rejected:
                close &= ~_bools(self.meaning.held_back(tuple(rejected), papers), n)
                close &= ~np.array([p.arxiv_id in rejected for p in papers])
            mask[t] = close
            order.append([int(i) for i in np.argsort(-out[t], kind="stable") if close[i]])
        return mask, out, order


Clicks = tuple[tuple[str, ...], tuple[str, ...]]  # a topic's liked and rejected arXiv ids
Shown = Callable[
    [Run, Sequence[PaperLike], Sequence[Clicks]], tuple[Bools, Floats, list[list[int]]]
]


def _bools(mask: int, n: int) -> Bools:
    return np.array([mask >> i & 1 for i in range(n)], dtype=bool)


def plain(shown: Shown, truth: Bools) -> Callable[[Run], Outcome]:
    """A design without clicks: what the profile shows over the scored papers."""
    return lambda run: Outcome(shown(run, run.papers, [])[0], truth[:, run.scored])


def first_page_clicks(run: Run, shown: Shown, truth: Bools) -> list[Clicks]:
    """Each topic's clicks on the first page the profile shows over the clicked-on papers:
    the relevant ones of its first ``SHOWN`` "More like this", up to ``REJECTS`` of the others
    (the best ranked) "Not interested"."""
    page = [run.everyone[i] for i in run.clicked_on]
    _, _, order = shown(run, page, [])
    clicks: list[Clicks] = []
    for t, best in enumerate(order):
        first = best[:SHOWN]
        relevant = truth[t, [run.clicked_on[i] for i in first]] if first else np.zeros(0, bool)
        liked = [page[i].arxiv_id for i, r in zip(first, relevant, strict=True) if r]
        others = [page[i].arxiv_id for i, r in zip(first, relevant, strict=True) if not r]
        clicks.append((tuple(liked), tuple(others[:REJECTS])))
    return clicks


def clicked_mask(run: Run, clicks: Sequence[Clicks]) -> Bools:
    """Which scored papers each topic clicked on (topics x scored papers)."""
    ids = [p.arxiv_id for p in run.papers]
    return np.array([[i in (*liked, *rejected) for i in ids] for liked, rejected in clicks])


def after_feedback(shown: Shown, truth: Bools) -> Callable[[Run], Outcome]:
    """Clicks on the first page the profile shows over the clicked-on papers, then the
    profile with those clicks over the scored papers, the clicked papers left out."""

    def design(run: Run) -> Outcome:
        clicks = first_page_clicks(run, shown, truth)
        found, _, _ = shown(run, run.papers, clicks)
        clicked = clicked_mask(run, clicks)
        left = truth[:, run.scored] & ~clicked
        had = truth[:, run.scored].sum(axis=1) > 0
        return Outcome(found & ~clicked, left, int((had & (left.sum(axis=1) == 0)).sum()))

    return design


# Each topic's score over every given paper, without clicks (topics x papers), before any
# cut-off or floor: what an oracle cut-off is chosen on.
Scores = Callable[[Run, Sequence[PaperLike]], Floats]


def want_scores(queries: Sequence[str]) -> Scores:
    """The score of each query's about: (with the ~hints of its group) over every paper, as
    the Matcher's meaning computes it (``VectorMeaning.close``, no clicks); the Matcher's
    fused scores are -inf for the papers it does not match."""
    wants = [Want(atom, 0, (), (), hints) for atom, hints in (_about(q) for q in queries)]

    def scores(run: Run, on: Sequence[PaperLike]) -> Floats:
        found = run.meaning.close(wants, on)
        return np.array([list(f.scores) for f in found], dtype=np.float32).reshape(-1, len(on))

    return scores


def _about(query: str) -> tuple[About | Like, tuple[Term, ...]]:
    atoms = hinted_semantic(parse(query))
    if len(atoms) != 1:
        raise ValueError(f"{query!r}: expected one about: or like: atom, found {len(atoms)}")
    return atoms[0]


@dataclass(frozen=True)
class Ceiling:
    """The best F1 a cut-off chosen per topic with the answers reaches on the papers left to
    score (NaN for a topic with nothing to find): on the design's score (``alone``), and on it
    plus w x the z-score (over those papers) of each paper's cosine to the topic's closest
    liked paper, the best w of ``MIX_WEIGHTS`` (``mixed``; a topic with no liked paper keeps
    its ``alone`` figure; None without clicks)."""

    alone: Floats
    mixed: Floats | None = None


def best_cut_f1(scores: Floats, truth: Bools) -> float:
    """The best F1 of ``scores >= c`` over every cut-off c (NaN when nothing is relevant)."""
    wanted = int(truth.sum())
    if not wanted:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    ranked_scores, hits = scores[order], np.cumsum(truth[order])
    last = np.append(ranked_scores[1:] != ranked_scores[:-1], True)  # a cut keeps all ties
    shown = np.arange(1, len(scores) + 1)[last]
    return float((2 * hits[last] / (shown + wanted)).max())


def oracle_plain(scores: Scores, truth: Bools) -> Callable[[Run], Ceiling]:
    """The oracle ceiling without clicks: each topic's best cut over the scored papers."""

    def ceiling(run: Run) -> Ceiling:
        s, wanted = scores(run, run.papers), truth[:, run.scored]
        return Ceiling(np.array([best_cut_f1(s[t], wanted[t]) for t in range(len(s))]))

    return ceiling


def oracle_after_feedback(shown: Shown, scores: Scores, truth: Bools) -> Callable[[Run], Ceiling]:
    """The oracle ceiling of ``after_feedback(shown)``: the same clicks, each topic's best cut
    over the scored papers it did not click, on its score and on the score mixed with the
    closest liked paper (``Ceiling``)."""

    def ceiling(run: Run) -> Ceiling:
        clicks = first_page_clicks(run, shown, truth)
        s = scores(run, run.papers)
        unclicked = ~clicked_mask(run, clicks)
        left = truth[:, run.scored] & unclicked
        vectors = run.store.vectors(run.papers)
        by_id = {p.arxiv_id: p for p in run.everyone}
        alone, mixed = [], []
        for t, (liked, _) in enumerate(clicks):
            keep = unclicked[t]
            own = best_cut_f1(s[t][keep], left[t][keep])
            alone.append(own)
            if not liked or np.isnan(own):
                mixed.append(own)
                continue
            near = (vectors[keep] @ run.store.vectors([by_id[i] for i in liked]).T).max(axis=1)
            z = (near - near.mean()) / max(float(near.std()), 1e-6)
            mixed.append(max(best_cut_f1(s[t][keep] + w * z, left[t][keep]) for w in MIX_WEIGHTS))
        return Ceiling(np.array(alone), np.array(mixed))

    return ceiling


T = TypeVar("T")


def split_half(
    embedder: Embedder,
    store: InMemoryVectors,
    papers: Sequence[PaperLike],
    design: Callable[[Run], T],
    settings: score.Settings,
) -> list[T]:
    """The design with the background (and the clicks) from one random half, scored on the
    other half, for each of ``SPLITS`` splits."""
    rng = np.random.default_rng(16)
    found = []
    for _ in range(SPLITS):
        order = rng.permutation(len(papers))
        half_a, half_b = (
            [int(i) for i in order[: len(papers) // 2]],
            [int(i) for i in order[len(papers) // 2 :]],
        )
        bg_papers = [papers[i] for i in half_a]
        bg = store.vectors(bg_papers)
        texts = [paper_text(p) for p in bg_papers]
        run = Run(embedder, store, bg, papers, half_a, half_b, settings, texts)
        found.append(design(run))
    return found


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
    everything = list(range(len(papers)))
    print(
        f"{len(papers)} papers, {int((truth.sum(1) > 0).sum())} topics, model {embedder.model_id}"
    )
    print(
        f"k={settings.k} bonus={settings.word_bonus} k_liked={settings.k_liked} "
        f"near_liked={settings.near_liked} expand_z={settings.expand_z} "
        f"expand_weight={settings.expand_weight} meaning_weight={settings.meaning_weight} "
        f"held_back={settings.held_back}"
    )
    row("naive words (Matcher)", Outcome(naive, truth), [])
    row("expert query (Matcher)", Outcome(expert, truth), [])
    quoted = [f'about:"{a}"' for a in about]

    def alone(
        run: Run, on: Sequence[PaperLike], clicks: Sequence[Clicks]
    ) -> tuple[Bools, Floats, list[list[int]]]:
        return run.matched(quoted, on, clicks)

    def fused(
        run: Run, on: Sequence[PaperLike], clicks: Sequence[Clicks]
    ) -> tuple[Bools, Floats, list[list[int]]]:
        where = {p.arxiv_id: i for i, p in enumerate(papers)}
        return run.fused(about, naive[:, [where[p.arxiv_id] for p in on]], on, clicks)

    def words(join: str) -> Shown:
        queries = [f"{q} {join} ({t['naive']})" for q, t in zip(quoted, topics, strict=True)]
        return lambda run, on, clicks: run.matched(queries, on, clicks)

    hinted_queries = [
        f"{q} " + " ".join(f"~{w}" for w in t["naive"].split())
        for q, t in zip(quoted, topics, strict=True)
    ]

    def hinted(
        run: Run, on: Sequence[PaperLike], clicks: Sequence[Clicks]
    ) -> tuple[Bools, Floats, list[list[int]]]:
        return run.matched(hinted_queries, on, clicks)

    def fused_scores(run: Run, on: Sequence[PaperLike]) -> Floats:
        return fused(run, on, [])[1]

    alone_scores, hinted_scores = want_scores(quoted), want_scores(hinted_queries)
    entries: dict[str, Entry] = {
        "about: alone (Matcher)": Entry(
            plain(alone, truth), oracle_plain(alone_scores, truth), detail=True
        ),
        "about: OR naive words (Matcher)": Entry(plain(words("OR"), truth)),
        "about: AND naive words (Matcher)": Entry(plain(words("AND"), truth)),
        f"about: fused with naive words (+{settings.word_bonus} sd)": Entry(plain(fused, truth)),
        "about: with the naive words as ~hints (Matcher)": Entry(
            plain(hinted, truth), oracle_plain(hinted_scores, truth), detail=True
        ),
        "about: after feedback (Matcher)": Entry(
            after_feedback(alone, truth),
            oracle_after_feedback(alone, alone_scores, truth),
            detail=True,
        ),
        "~hints after feedback (Matcher)": Entry(
            after_feedback(hinted, truth),
            oracle_after_feedback(hinted, hinted_scores, truth),
            detail=True,
        ),
        "fused after feedback": Entry(
            after_feedback(fused, truth), oracle_after_feedback(fused, fused_scores, truth)
        ),
    }
    shipped = background.background_for(embedder)
    full = Run(embedder, store, shipped, papers, everything, everything, settings)
    for name, entry in entries.items():
        dev_found = entry.design(full)
        halves = split_half(embedder, store, papers, entry.design, settings)
        row(name, dev_found, halves)
        dev_ceiling = None
        if entry.ceiling is not None:
            dev_ceiling = entry.ceiling(full)
            ceiling_row(dev_ceiling, split_half(embedder, store, papers, entry.ceiling, settings))
        if entry.detail:
            per_topic(topics, dev_found, halves, dev_ceiling)


@dataclass(frozen=True)
class Entry:
    """One row of the report: the design, its oracle ceiling (if printed) and whether its
    topics are printed one by one."""

    design: Callable[[Run], Outcome]
    ceiling: Callable[[Run], Ceiling] | None = None
    detail: bool = False


def row(name: str, dev: Outcome, halves: Sequence[Outcome]) -> None:
    p, r, f = dev.macro()
    skipped = f" ({dev.skipped} skipped)" if dev.skipped else ""
    extra = ""
    if halves:
        sh = np.mean([h.macro()[2] for h in halves])
        gone = np.mean([h.skipped for h in halves])
        extra = f"   split-half F1 {sh:.3f}" + (f" ({gone:.1f} skipped)" if gone else "")
    print(f"{name:48s} P {p:.3f}  R {r:.3f}  F1 {f:.3f}{skipped}{extra}")


def ceiling_row(dev: Ceiling, halves: Sequence[Ceiling]) -> None:
    """The oracle ceiling's macro F1 on dev and split half (each topic's best cut-off)."""
    sh = np.mean([np.nanmean(h.alone) for h in halves])
    text = f"score F1 {np.nanmean(dev.alone):.3f}"
    half = f"split-half {sh:.3f}"
    if dev.mixed is not None:
        mixed = [h.mixed for h in halves if h.mixed is not None]
        text += f", mixed with the closest liked {np.nanmean(dev.mixed):.3f}"
        half += f" / {np.mean([np.nanmean(m) for m in mixed]):.3f}"
    print(f"  {'ceiling (oracle cut per topic)':46s} {text}   {half}")


def per_topic(
    topics: Sequence[dict[str, str]],
    dev: Outcome,
    halves: Sequence[Outcome],
    ceiling: Ceiling | None = None,
) -> None:
    p, r, f = dev.per_topic()
    sh = np.array([h.per_topic()[2] for h in halves])
    for t, topic in enumerate(topics):
        wanted = int(dev.truth[t].sum())
        dev_f = "  skipped" if np.isnan(f[t]) else f"P {p[t]:.2f} R {r[t]:.2f} F1 {f[t]:.2f}"
        kept = sh[:, t][~np.isnan(sh[:, t])]
        half = f"SH F1 {kept.mean():.2f} ({len(kept)} splits)" if len(kept) else "SH -"
        oracle = ""
        if ceiling is not None and not np.isnan(ceiling.alone[t]):
            oracle = f"  oracle {ceiling.alone[t]:.2f}"
            if ceiling.mixed is not None:
                oracle += f" / mixed {ceiling.mixed[t]:.2f}"
        line = f"    {topic['id']:16s} {wanted:2d} to find  {dev_f:26s} {half:24s}{oracle}"
        print(line.rstrip())


if __name__ == "__main__":
    main()
