"""A numpy replica of bench/relevance_bench.py's about: designs, for trying designs quickly
(issue 16, round 5). It reproduces the kept design's dev / LOTO / split-half figures, then
scores each candidate the same way: dev F1 at its best cut-off k (and at the kept k=2), LOTO
(k chosen on 9 topics, scored on the 10th), SH (background and BM25 IDF from one random half,
scored on the other, 20 splits, at the dev-chosen k). Vectors are cached under /tmp.

    python bench/meaning_quality.py                            # the kept design
    python bench/meaning_quality.py all | design-name-prefix ...  # round 5's designs
    python bench/meaning_quality.py families                   # round 5's families
    python bench/meaning_quality.py round6                     # round 6 (below)

Round 6 adds the topic's naive words to the kept "moved" design of round 5: as a soft BM25
score, per-word fractions (plain, any / all bonuses, IDF-weighted), ~hints (IDF or equal
weights, c x share^p, k tuned, also as families with LOTO nested), a word-calibrated cut-off,
and the papers' ai_summary / ai_keywords in their vectors and terms.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.relevance_bench import DEV, dev_papers, word_masks  # noqa: E402
from paperboy.profiles.document import PaperLike  # noqa: E402
from paperboy.semantic import background, batching, bm25  # noqa: E402
from paperboy.semantic.embedder import Embedder  # noqa: E402
from paperboy.semantic.meaning import paper_text, phrases  # noqa: E402

CACHE = Path("/tmp/paperboy-quality-vectors.npz")  # noqa: S108  (public vectors)
SPLITS, FLOOR, MIN_STD = 20, 0.15, 0.02
KS = np.round(np.arange(0.0, 5.01, 0.05), 2)
F = npt.NDArray[np.float32]
B = npt.NDArray[np.bool_]


@dataclass
class Data:
    ids: list[str]
    texts: list[str]
    titles: list[str]
    topics: list[dict[str, str]]
    truth: B  # topics x papers
    naive: B  # topics x papers: the naive words' matches (real Matcher)
    vec: F  # papers x 384 (float32, as InMemoryVectors)
    bg16: F  # the shipped background (float16 -> float32), same papers, same order
    title_vec: F
    topic_rows: list[F]  # per topic: whole text then phrases
    terms: list[Counter[str]]
    topic_terms: list[list[Counter[str]]]
    embed: Callable[[list[str]], F]


def load() -> Data:
    dev = json.loads(DEV.read_text())
    papers = dev_papers(dev["papers"])
    topics = [t for t in dev["topics"] if any(t["id"] in v for v in dev["papers"].values())]
    truth = np.array([[t["id"] in dev["papers"][p.arxiv_id] for p in papers] for t in topics])
    ids = [p.arxiv_id for p in papers]
    texts = [paper_text(p) for p in papers]
    titles = [p.title for p in papers]
    topic_texts = [[t["about"], *phrases(t["about"])] for t in topics]
    flat = [x for ts in topic_texts for x in ts]
    model: list[Embedder] = []

    def embed(xs: list[str]) -> F:
        if not model:
            from paperboy.semantic.minilm import MiniLM

            model.append(MiniLM.load())
        rows: F = model[0].embed(xs).astype(np.float32)
        return rows

    if CACHE.exists():
        with np.load(CACHE) as npz:
            vec, tv, qv = npz["vec"], npz["title"], npz["topics"]
    else:
        vec, tv, qv = embed(texts), embed(titles), embed(flat)
        np.savez(CACHE, vec=vec, title=tv, topics=qv)
    rows, at = [], 0
    for ts in topic_texts:
        rows.append(qv[at : at + len(ts)])
        at += len(ts)
    bg_texts, _, bg16 = background.texts_and_vectors()
    assert bg_texts == texts, "the shipped background is not the dev papers in order"
    naive = word_masks([t["naive"] for t in topics], papers)
    return Data(
        ids,
        texts,
        titles,
        topics,
        truth,
        naive,
        vec,
        bg16,
        tv,
        rows,
        [bm25.terms(t) for t in texts],
        [[bm25.terms(x) for x in ts] for ts in topic_texts],
        embed,
    )


@dataclass
class View:
    """One background (indices into the papers, its vectors) and the scored papers."""

    d: Data
    bg: np.ndarray  # indices of background papers
    bg_vec: F
    scored: np.ndarray  # indices of scored papers

    def z(self, q: F, on_bg: F | None = None) -> tuple[F, F]:
        """cosines of query rows to scored papers, z vs background: (z over scored, z over bg)."""
        sb = q @ self.bg_vec.T
        mu, sd = sb.mean(1), np.maximum(sb.std(1), MIN_STD)
        ss = q @ self.d.vec[self.scored].T
        return (ss - mu[:, None]) / sd[:, None], (sb - mu[:, None]) / sd[:, None]

    def bm25(self, queries: Sequence[Counter[str]]) -> tuple[F, F]:
        bg_terms = [self.d.terms[i] for i in self.bg]
        corpus = bm25.Corpus.of(bg_terms)
        sb = batching.TermWeights(bg_terms, corpus).scores(list(queries))
        ss = batching.TermWeights([self.d.terms[i] for i in self.scored], corpus).scores(
            list(queries)
        )
        mu, sd = sb.mean(1), np.maximum(sb.std(1), MIN_STD)
        return (ss - mu[:, None]) / sd[:, None], (sb - mu[:, None]) / sd[:, None]


def mix(z: F, w: float = 0.5) -> F:
    """whole row (0) mixed with the mean of the phrase rows."""
    mixed: F = z[0] if len(z) == 1 else (1 - w) * z[0] + w * z[1:].mean(0)
    return mixed


def views(d: Data) -> list[View]:
    n = len(d.ids)
    out = [View(d, np.arange(n), d.bg16, np.arange(n))]
    rng = np.random.default_rng(16)
    for _ in range(SPLITS):
        order = rng.permutation(n)
        a, b = np.sort(order[: n // 2]), np.sort(order[n // 2 :])
        # the bench takes half A in permutation order; mean/std do not care about order
        out.append(View(d, order[: n // 2], d.vec[order[: n // 2]], order[n // 2 :]))
        del a, b
    return out


# A design: View -> (score topics x scored, extra mask topics x scored); close = score >= k & mask
Design = Callable[[View], tuple[F, B]]


def kept_parts(v: View, t: int) -> tuple[F, F, F]:
    """(meaning mix, words mix, whole cosine) of topic t over scored papers."""
    q = v.d.topic_rows[t]
    zm, _ = v.z(q)
    zw, _ = v.bm25(v.d.topic_terms[t])
    cos = q[0] @ v.d.vec[v.scored].T
    return mix(zm), mix(zw), cos


def kept(v: View) -> tuple[F, B]:
    s, m = [], []
    for t in range(len(v.d.topics)):
        a, b, cos = kept_parts(v, t)
        s.append(0.5 * a + 0.5 * b)
        m.append(cos >= FLOOR)
    return np.array(s), np.array(m)


def f1s(found: B, truth: B) -> F:
    hits = (found & truth).sum(-1)
    shown, wanted = found.sum(-1), truth.sum(-1)
    p = np.where(shown > 0, hits / np.maximum(shown, 1), 0.0)
    r = hits / np.maximum(wanted, 1)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    return np.where(wanted > 0, f, np.nan)


def per_k(score: F, mask: B, truth: B) -> F:
    """F1 per (k, topic)."""
    return np.array([f1s((score >= k) & mask, truth) for k in KS])


def evaluate(
    d: Data, design: Design, vs: list[View], fixed: float | None = None
) -> dict[str, float]:
    full = vs[0]
    s, m = design(full)
    table = per_k(s, m, d.truth)  # k x topics
    macro = np.nanmean(table, axis=1)
    best = int(np.argmax(macro)) if fixed is None else int(np.argmin(abs(KS - fixed)))
    at2 = float(macro[int(np.argmin(abs(KS - 2.0)))])
    n = table.shape[1]
    loto = []
    for t in range(n):
        others = np.nanmean(np.delete(table, t, axis=1), axis=1)
        loto.append(table[int(np.argmax(others)), t])
    sh = []
    for v in vs[1:]:
        s2, m2 = design(v)
        truth = d.truth[:, v.scored]
        f = f1s((s2 >= KS[best]) & m2, truth)
        sh.append(np.nanmean(f))
    return {
        "dev": float(macro[best]),
        "k": float(KS[best]),
        "dev@2": at2,
        "loto": float(np.nanmean(loto)),
        "sh": float(np.mean(sh)),
        "per_topic": table[best],
    }


def report(name: str, r: dict[str, float]) -> None:
    print(
        f"{name:60s} dev {r['dev']:.3f} (k {r['k']:.2f}; @2 {r['dev@2']:.3f})  "
        f"LOTO {r['loto']:.3f}  SH {r['sh']:.3f}",
        flush=True,
    )


def main() -> None:
    d = load()
    vs = views(d)
    report("kept (k=2)", evaluate(d, kept, vs, fixed=2.0))
    report("kept (k tuned)", evaluate(d, kept, vs))


# ---------------------------------------------------------------- round 5 designs


def unit(x: F) -> F:
    rows: F = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    return rows


def on_bg(v: View) -> View:
    """The same background, scoring the background's own papers."""
    return View(v.d, v.bg, v.bg_vec, v.bg)


def kept_on(v: View, t: int) -> tuple[F, F]:
    """kept score of topic t over (scored, background)."""
    q = v.d.topic_rows[t]
    zm, bm = v.z(q)
    zw, bw = v.bm25(v.d.topic_terms[t])
    return 0.5 * mix(zm) + 0.5 * mix(zw), 0.5 * mix(bm) + 0.5 * mix(bw)


def title_design(a: float, how: str) -> Design:
    """Title weighting. 'z': meaning z = (1-a) z(whole text vec) + a z(title vec);
    'vec': paper vector = unit((1-a) v + a title)."""

    def design(v: View) -> tuple[F, B]:
        d = v.d
        if how == "vec":
            pv = unit((1 - a) * d.vec + a * d.title_vec)
        s, m = [], []
        for t in range(len(d.topics)):
            q = d.topic_rows[t]
            if how == "vec":
                bgv = pv[v.bg]
                sb = q @ bgv.T
                mu, sd = sb.mean(1), np.maximum(sb.std(1), MIN_STD)
                zm = (q @ pv[v.scored].T - mu[:, None]) / sd[:, None]
            else:
                zm, _ = v.z(q)
                tb = q @ d.title_vec[v.bg].T
                mu, sd = tb.mean(1), np.maximum(tb.std(1), MIN_STD)
                zt = (q @ d.title_vec[v.scored].T - mu[:, None]) / sd[:, None]
                zm = (1 - a) * zm + a * zt
            zw, _ = v.bm25(d.topic_terms[t])
            s.append(0.5 * mix(zm) + 0.5 * mix(zw))
            m.append(q[0] @ d.vec[v.scored].T >= FLOOR)
        return np.array(s), np.array(m)

    return design


def prf_design(
    m_top: int,
    beta: float,
    rows: str = "all",
    words_b: float = 0.0,
    n_terms: int = 10,
    by: str = "kept",
    zmin: float | None = None,
    floor_on: str = "text",
) -> Design:
    """Blind PRF over the background: the top-m background papers by the kept score (or all
    with kept z >= zmin); each topic row q -> unit(q + beta * mean of their vectors) ('all'
    rows, or only the 'whole' row); rescored, z against the background. words_b > 0: also a
    BM25 query of the n_terms best terms of those papers (by summed BM25 weight x idf),
    z-scored and mixed in with weight words_b."""

    def design(v: View) -> tuple[F, B]:
        d = v.d
        s, msk = [], []
        for t in range(len(d.topics)):
            q = d.topic_rows[t]
            _, kb = kept_on(v, t)
            if by == "meaning":
                _, bm = v.z(q)
                kb = mix(bm)
            order = np.argsort(-kb, kind="stable")
            top = order[:m_top] if zmin is None else order[: max(1, int((kb >= zmin).sum()))]
            top = top[:m_top] if zmin is not None else top
            centroid = unit(v.bg_vec[top].mean(0))
            q2 = q.copy()
            if rows == "all":
                q2 = unit(q + beta * centroid)
            else:
                q2[0] = unit(q[0] + beta * centroid)
            zm, _ = v.z(q2.astype(np.float32))
            zw, _ = v.bm25(d.topic_terms[t])
            words = mix(zw)
            if words_b > 0:
                idx = v.bg[top]
                bg_terms = [d.terms[i] for i in v.bg]
                corpus = bm25.Corpus.of(bg_terms)
                gain: Counter[str] = Counter()
                for i in idx:
                    for term, tf in d.terms[i].items():
                        gain[term] += (1 + np.log(tf)) * corpus.idf(term)
                for term in list(gain):
                    if corpus.frequency.get(term, 0) < 2:
                        del gain[term]  # a word of one paper says nothing
                exp = Counter({w: 1 for w, _ in gain.most_common(n_terms)})
                ze, _ = v.bm25([exp])
                words = (1 - words_b) * words + words_b * ze[0]
            s.append(0.5 * mix(zm) + 0.5 * words)
            fq = q[0] if floor_on == "text" else q2[0]
            msk.append(fq @ d.vec[v.scored].T >= FLOOR)
        return np.array(s), np.array(msk)

    return design


def rrf_design(c: float = 60.0, ref: int = 160) -> Design:
    """Reciprocal rank fusion of the meaning mix and the words mix, each paper ranked among
    the background (rank scaled to a background of ``ref`` papers); score = -log of the
    fused rank's ... (as a monotone number: sum of 1/(c + rank)), cut chosen like k by mapping
    KS onto a grid of fused values."""

    def design(v: View) -> tuple[F, B]:
        d = v.d
        s, msk = [], []
        nb = len(v.bg)
        for t in range(len(d.topics)):
            q = d.topic_rows[t]
            zm, bm = v.z(q)
            zw, bw = v.bm25(d.topic_terms[t])
            am, bmm, aw, bww = mix(zm), mix(bm), mix(zw), mix(bw)
            rm = 1 + (bmm[None, :] > am[:, None]).sum(1) * ref / nb
            rw = 1 + (bww[None, :] > aw[:, None]).sum(1) * ref / nb
            rrf = 1 / (c + rm) + 1 / (c + rw)
            best = 2 / (c + 1)
            # map onto KS: 5 * rrf / best  (k 5 = rank 1 in both)
            s.append(5 * rrf / best)
            msk.append(q[0] @ d.vec[v.scored].T >= FLOOR)
        return np.array(s), np.array(msk)

    return design


def fused_design(base: Design, c: float, how: str = "add") -> Design:
    """The naive words in the match decision: score + c x [word hit] (add), or a word hit lowers
    the cut to ... (same thing), or 'or_hi': word hit OR score >= k, 'and_lo'..."""

    def design(v: View) -> tuple[F, B]:
        s, m = base(v)
        hit = v.d.naive[:, v.scored]
        if how == "add":
            return s + c * hit, m | hit  # the bench's fused has no floor for word hits
        if how == "add_floor":
            return s + c * hit, m
        raise ValueError(how)

    return design


def fused_kept_bench(v: View) -> tuple[F, B]:
    """The bench's fused: score.fuse(z, hits, 1.5) >= cut, no floor."""
    s, _ = kept(v)
    return s + 1.5 * v.d.naive[:, v.scored], np.ones_like(s, dtype=bool)


def run_round5(names: Sequence[str]) -> None:
    d = load()
    vs = views(d)
    designs: dict[str, tuple[Design, float | None]] = {
        "kept": (kept, 2.0),
        "kept tuned": (kept, None),
        "fused kept (bench, +1.5)": (fused_kept_bench, 2.0),
    }
    for a in (0.2, 0.35, 0.5):
        designs[f"title z a={a}"] = (title_design(a, "z"), None)
        designs[f"title vec a={a}"] = (title_design(a, "vec"), None)
    for m_top in (3, 5, 10, 20):
        for beta in (0.5, 1.0, 2.0):
            designs[f"prf m={m_top} b={beta}"] = (prf_design(m_top, beta), None)
            designs[f"prf whole m={m_top} b={beta}"] = (prf_design(m_top, beta, "whole"), None)
    for m_top in (5, 10):
        for wb in (0.25, 0.5):
            for nt in (5, 10, 20):
                designs[f"prf m={m_top} b=1 words {wb} n={nt}"] = (
                    prf_design(m_top, 1.0, words_b=wb, n_terms=nt),
                    None,
                )
    for c in (10.0, 30.0, 60.0):
        designs[f"rrf c={c}"] = (rrf_design(c), None)
    for c in (0.5, 1.0, 1.5, 2.0, 3.0):
        designs[f"fused kept +{c}"] = (fused_design(kept, c), None)
        designs[f"fused kept +{c} floor"] = (fused_design(kept, c, "add_floor"), None)
    for m_top in (10, 15, 20, 30):
        for beta in (0.5, 1.0, 2.0):
            designs[f"B prf whole m={m_top} b={beta}"] = (prf_design(m_top, beta, "whole"), None)
            designs[f"B prf whole m={m_top} b={beta} @2"] = (prf_design(m_top, beta, "whole"), 2.0)
    for zmin in (1.0, 1.5, 2.0):
        for beta in (0.5, 1.0):
            designs[f"C prf whole zmin={zmin} b={beta}"] = (
                prf_design(30, beta, "whole", zmin=zmin),
                None,
            )
            designs[f"C prf all zmin={zmin} b={beta}"] = (prf_design(30, beta, zmin=zmin), None)
    for c in (0.75, 1.0, 1.25, 1.5):
        designs[f"D fused kept +{c} @2"] = (fused_design(kept, c), 2.0)
        for m_top, beta in ((10, 1.0), (20, 1.0), (10, 0.5)):
            pd = prf_design(m_top, beta, "whole")
            designs[f"D fused prf whole m={m_top} b={beta} +{c}"] = (fused_design(pd, c), None)
            designs[f"D fused prf whole m={m_top} b={beta} +{c} @2"] = (fused_design(pd, c), 2.0)
    for name, (design, fixed) in designs.items():
        if names and not any(name.startswith(n) for n in names):
            continue
        report(name, evaluate(d, design, vs, fixed))


if __name__ == "__main__" and sys.argv[1:] and sys.argv[1:] not in (["families"], ["round6"]):
    run_round5(sys.argv[1:] if sys.argv[1] != "all" else [])
    sys.exit()


def family(
    d: Data, vs: list[View], members: dict[str, Design], fix_k: float | None = None
) -> dict[str, object]:
    """Every tuned number of a family of designs chosen together: dev at the best (member, k);
    LOTO with (member, k) chosen on 9 topics; SH at the dev choice."""
    tables = {n: per_k(*m(vs[0]), d.truth) for n, m in members.items()}
    names = list(tables)
    stack = np.array([tables[n] for n in names])  # member x k x topic
    if fix_k is not None:
        ki = int(np.argmin(abs(KS - fix_k)))
        stack = stack[:, ki : ki + 1]
        ks = KS[ki : ki + 1]
    else:
        ks = KS
    macro = np.nanmean(stack, axis=2)
    i, j = np.unravel_index(int(np.argmax(macro)), macro.shape)
    loto = []
    for t in range(stack.shape[2]):
        others = np.nanmean(np.delete(stack, t, axis=2), axis=2)
        a, b = np.unravel_index(int(np.argmax(others)), others.shape)
        loto.append(stack[a, b, t])
    design = members[names[i]]
    sh = [
        np.nanmean(f1s((s >= ks[j]) & m, d.truth[:, v.scored]))
        for v in vs[1:]
        for s, m in [design(v)]
    ]
    return {
        "best": names[i],
        "k": float(ks[j]),
        "dev": float(macro[i, j]),
        "loto": float(np.nanmean(loto)),
        "sh": float(np.mean(sh)),
        "topics": stack[i, j],
    }


def run_families() -> None:
    d = load()
    vs = views(d)
    fams: dict[str, tuple[dict[str, Design], float | None]] = {
        "kept, k=2": ({"kept": kept}, 2.0),
        "kept, k tuned": ({"kept": kept}, None),
        "prf whole top-m, m 10/20, b 0.5/1/2": (
            {f"m={m} b={b}": prf_design(m, b, "whole") for m in (10, 20) for b in (0.5, 1.0, 2.0)},
            None,
        ),
        "prf whole z>=zmin, zmin 1/1.5/2, b 0.5/1": (
            {
                f"zmin={z} b={b}": prf_design(30, b, "whole", zmin=z)
                for z in (1.0, 1.5, 2.0)
                for b in (0.5, 1.0)
            },
            None,
        ),
        "prf whole z>=2 b=1, floor on the moved row": (
            {"zmin=2 b=1 floor moved": prf_design(30, 1.0, "whole", zmin=2.0, floor_on="moved")},
            None,
        ),
        "prf whole z>=2 b=1 cap 15": ({"cap15": prf_design(15, 1.0, "whole", zmin=2.0)}, None),
        "prf whole z>=2 b=1, k=2": ({"k2": prf_design(30, 1.0, "whole", zmin=2.0)}, 2.0),
        "prf whole z>=2 b 0.75/1/1.5": (
            {f"b={b}": prf_design(30, b, "whole", zmin=2.0) for b in (0.75, 1.0, 1.5)},
            None,
        ),
        "fused bench +1.5, k=2": ({"+1.5": fused_design(kept, 1.5)}, 2.0),
        "fused c 0.5-2, k=2": (
            {f"+{c}": fused_design(kept, c) for c in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)},
            2.0,
        ),
        "fused c 0.5-2, k tuned": (
            {f"+{c}": fused_design(kept, c) for c in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)},
            None,
        ),
    }
    for name, (members, fk) in fams.items():
        r = family(d, vs, members, fk)
        print(
            f"{name:45s} -> {r['best']:14s} k {r['k']:.2f}  dev {r['dev']:.3f}  "
            f"LOTO {r['loto']:.3f}  SH {r['sh']:.3f}",
            flush=True,
        )
        print("    per topic:", " ".join(f"{x:.2f}" for x in np.asarray(r["topics"])), flush=True)


# ---------------------------------------------------------------- round 6: the naive words
# beside about: (``python bench/meaning_quality.py round6``). Every design starts from the
# kept "moved" design of round 5 (``moved``) and adds the topic's naive words some way.

MOVED_K = 1.7  # the moved design's shipped cut-off
AI_CACHE = Path("/tmp/paperboy-quality-ai-vectors.npz")  # noqa: S108  (public vectors)


def moved() -> Design:
    """The kept design of round 5: the whole row moved towards the background papers with
    kept z >= 2 (at most 30, beta 1), scored as ``kept``; shipped at k 1.7."""
    return prf_design(30, 1.0, "whole", zmin=2.0)


def memo(design: Design) -> Design:
    """``design`` worked out once per view (a view is its data, background and scored papers);
    the designs below add to its score and never change it in place."""
    done: dict[tuple[int, ...], tuple[View, tuple[F, B]]] = {}

    def once(v: View) -> tuple[F, B]:
        key = (id(v.d), id(v.bg), id(v.bg_vec), id(v.scored))
        if key not in done:
            done[key] = (v, design(v))  # the view kept, so that its ids stay its own
        return done[key][1]

    return once


@dataclass(frozen=True)
class Words:
    """The naive words of each topic (each one a hint), read the ways round 6 reads them."""

    hints: list[list[str]]  # per topic, its naive words
    keys: list[list[str]]  # per topic, each word's key BM25 term (its first word pair, else term)
    matched: list[B]  # per topic: words x papers, the word as the Matcher reads it
    present: list[B]  # per topic: words x papers, the key term among the paper's BM25 terms


def dev_in_order(d: Data) -> list[PaperLike]:
    """The dev papers in ``d``'s order."""
    papers = dev_papers(json.loads(DEV.read_text())["papers"])
    assert [p.arxiv_id for p in papers] == d.ids, "the dev papers are not in the data's order"
    return papers


def naive_words(d: Data, papers: Sequence[PaperLike]) -> Words:
    hints = [t["naive"].split() for t in d.topics]

    def key(word: str) -> str:
        found = list(bm25.terms(word))
        pairs = [x for x in found if " " in x]
        return pairs[0] if pairs else found[0]

    keys = [[key(w) for w in ws] for ws in hints]
    present = [np.array([[k in terms for terms in d.terms] for k in ks]) for ks in keys]
    return Words(hints, keys, [word_masks(ws, papers) for ws in hints], present)


def soft_design(base: Design, queries: Sequence[Counter[str]], c: float, clip: bool) -> Design:
    """The naive words as a soft score: + c x the z-score (against the background) of the
    BM25 score of the naive words as one query (``clip``: only a positive z counts)."""

    def design(v: View) -> tuple[F, B]:
        s, m = base(v)
        zw, _ = v.bm25(queries)
        added = np.maximum(zw, 0) if clip else zw
        return cast(F, s + c * added), m

    return design


def run_soft(d: Data, vs: list[View], base: Design) -> None:
    """soft.py: the kept design, the bench's fused +0.75 at k 1.7, then the naive words as a
    soft BM25 score (all terms, or single words only; clipped at 0 or not)."""
    print("-- the naive words as a soft BM25 score (soft.py)", flush=True)
    report("moved k1.7", evaluate(d, base, vs, MOVED_K))
    report("moved +bool .75 k1.7", evaluate(d, fused_design(base, 0.75), vs, MOVED_K))
    every = [bm25.terms(t["naive"]) for t in d.topics]
    single = [Counter({k: n for k, n in q.items() if " " not in k}) for q in every]
    for c in (0.1, 0.2, 0.3, 0.4, 0.5, 0.75):
        for uni, queries in ((0, every), (1, single)):
            for clip in (False, True):
                design = soft_design(base, queries, c, clip)
                report(f"moved soft c{c} uni{uni} clip{int(clip)}", evaluate(d, design, vs))


def fraction_design(base: Design, frac: F, c: float, power: int, all_from: float = 1.0) -> Design:
    """+ c x fraction**power (``frac``: topics x papers, the share of the topic's words in the
    paper, plain or IDF-weighted); a paper with every word (fraction >= ``all_from``) matches
    without the cosine floor."""

    def design(v: View) -> tuple[F, B]:
        s, m = base(v)
        f = frac[:, v.scored]
        return s + c * f**power, m | (f >= all_from)

    return design


def any_all_design(base: Design, some: B, every: B, c_any: float, c_all: float) -> Design:
    """+ c_any if the paper has any of the words, + c_all more if it has all (which also
    lifts the cosine floor)."""

    def design(v: View) -> tuple[F, B]:
        s, m = base(v)
        a, b = some[:, v.scored], every[:, v.scored]
        return s + c_any * a + c_all * b, m | b

    return design


def run_per_word(d: Data, vs: list[View], base: Design, w: Words) -> None:
    """perword.py: each word matched alone (the Matcher), then the share of the words found
    (linear or squared), any / all bonuses, and the IDF-weighted share. The IDF here is over
    all 160 dev papers, for dev and split half alike (as in perword.py)."""
    print("-- per-word fractions (perword.py)", flush=True)
    frac = np.array([m.astype(np.float32).mean(axis=0) for m in w.matched])
    for t, topic in enumerate(d.topics):
        hit = frac[t] > 0
        print(
            f"{topic['id']} any-word hits {hit.sum()} rel among {(d.truth[t] & hit).sum()} / "
            f"{d.truth[t].sum()}  all-words {(frac[t] == 1).sum()}"
        )
    for c in (0.25, 0.5, 0.75, 1.0, 1.5):
        for how, power in (("lin", 1), ("sq", 2)):
            design = fraction_design(base, frac, c, power)
            report(f"frac {how} c{c}", evaluate(d, design, vs))
            report(f"frac {how} c{c} @1.7", evaluate(d, design, vs, MOVED_K))
    corpus = bm25.Corpus.of(d.terms)
    idfs = [np.array([corpus.idf(k) for k in ks]) for ks in w.keys]
    for topic, ws, idf in zip(d.topics, w.hints, idfs, strict=True):
        print(topic["id"], ws, np.round(idf, 2))
    weighted = np.array(
        [(m.T.astype(np.float32) @ i) / i.sum() for m, i in zip(w.matched, idfs, strict=True)]
    )
    for c_any in (0.25, 0.5, 0.75, 1.0):
        for c_all in (0.0, 0.25, 0.5, 0.75):
            design = any_all_design(base, frac > 0, frac == 1, c_any, c_all)
            report(f"any {c_any} all +{c_all}", evaluate(d, design, vs))
    for c in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
        for power in (1, 2):
            design = fraction_design(base, weighted, c, power, all_from=0.999)
            report(f"idf frac c{c} p{power}", evaluate(d, design, vs))


def hint_design(base: Design, w: Words, hits: list[B], c: float, power: int, mode: str) -> Design:
    """The ~hints design: + c x share**power, the share of the topic's hint weight found in
    the paper (``hits``: per topic, words x papers); each hint's weight its key term's IDF over
    the view's background ('idf') or equal ('eq'). The cosine floor stays."""

    def design(v: View) -> tuple[F, B]:
        s, m = base(v)
        corpus = bm25.Corpus.of([v.d.terms[i] for i in v.bg])
        out = s.copy()
        for t, keys in enumerate(w.keys):
            weight = (
                np.array([corpus.idf(k) for k in keys]) if mode == "idf" else np.ones(len(keys))
            )
            share = (weight / weight.sum()) @ hits[t][:, v.scored].astype(np.float32)
            out[t] = s[t] + c * share**power
        return out, m

    return design


def per_topic_line(d: Data, design: Design, vs: list[View], fixed: float | None = None) -> None:
    """Each topic's dev F1 at the design's cut-off."""
    table = np.asarray(evaluate(d, design, vs, fixed)["per_topic"])
    print("   ", " ".join(f"{t['id'][:6]} {x:.2f}" for t, x in zip(d.topics, table, strict=True)))


def report_family(name: str, r: dict[str, object], topics: bool = False) -> None:
    """One family's choice (``family``): its member and k chosen on dev, nested LOTO, SH."""
    print(
        f"{name:45s} -> {r['best']!s:14s} k {r['k']:.2f}  dev {r['dev']:.3f}  "
        f"LOTO {r['loto']:.3f}  SH {r['sh']:.3f}",
        flush=True,
    )
    if topics:
        print("    per topic:", " ".join(f"{x:.2f}" for x in np.asarray(r["topics"])), flush=True)


def run_hints(d: Data, vs: list[View], base: Design, w: Words) -> None:
    """hint.py and hint2.py: the ~hints design (IDF or equal weights, c x share**p) with a hit
    read as the key term among the paper's BM25 terms (hint.py) or as the Matcher reads the
    word (hint2.py, what the Matcher ships); each grid also as a family (member and k chosen
    together on dev, LOTO nested)."""
    print("-- ~hints, a hit = the key term among the paper's terms (hint.py)", flush=True)
    print("key terms:", w.keys)
    per_topic_line(d, base, vs, MOVED_K)
    cs, powers = (1.0, 1.25, 1.5, 1.75, 2.0), (1, 2)
    for mode in ("idf", "eq"):
        for c in cs:
            for p in powers:
                design = hint_design(base, w, w.present, c, p, mode)
                report(f"{mode} c{c} p{p}", evaluate(d, design, vs))
        per_topic_line(d, hint_design(base, w, w.present, 1.5, 2, mode), vs)
    for modes in (("idf",), ("idf", "eq")):
        members = {
            f"{mode} c{c} p{p}": hint_design(base, w, w.present, c, p, mode)
            for mode in modes
            for c in cs
            for p in powers
        }
        report_family(f"family {'/'.join(modes)}", family(d, vs, members))
    print("-- ~hints, a hit = the word as the Matcher reads it (hint2.py)", flush=True)
    for mode in ("idf", "eq"):
        for c in cs:
            for p in powers:
                design = hint_design(base, w, w.matched, c, p, mode)
                report(f"{mode} c{c} p{p}", evaluate(d, design, vs))
        members = {
            f"{mode} c{c} p{p}": hint_design(base, w, w.matched, c, p, mode)
            for c in cs
            for p in powers
        }
        report_family(f"FAMILY {mode}", family(d, vs, members), topics=True)


def calibrated_design(base: Design, w: Words, q: float, f0: float, lo: float, k: float) -> Design:
    """The word-calibrated cut: each topic's cut-off becomes max(lo, min(k, the q-quantile of
    the background's scores among its papers with an IDF-weighted hint share >= f0)), applied
    as a shift of the score by k - cut (so the fixed k stays the cut)."""

    def design(v: View) -> tuple[F, B]:
        s, m = base(v)
        background_s, _ = base(on_bg(v))
        corpus = bm25.Corpus.of([v.d.terms[i] for i in v.bg])
        out = s.copy()
        for t, keys in enumerate(w.keys):
            idf = np.array([corpus.idf(key) for key in keys])
            share = (idf / idf.sum()) @ w.present[t][:, v.bg].astype(np.float32)
            picked = background_s[t][share >= f0 - 1e-6]
            cut = max(lo, min(k, float(np.quantile(picked, q)))) if len(picked) else k
            out[t] = s[t] + (k - cut)
        return out, m

    return design


def run_calibrated_cut(d: Data, vs: list[View], base: Design, w: Words) -> None:
    """hint.py's word-calibrated cut, each at its fixed k (1.7 or 2)."""
    print("-- word-calibrated cut (hint.py)", flush=True)
    for k in (1.7, 2.0):
        for q in (0.25, 0.5, 0.75):
            for f0 in (0.2, 0.5, 1.0):
                for lo in (0.5, 1.0):
                    design = calibrated_design(base, w, q, f0, lo, k)
                    report(f"wcal K{k} q{q} f0 {f0} lo {lo} (fixed k)", evaluate(d, design, vs, k))


def ai_vectors(d: Data, papers: Sequence[PaperLike]) -> tuple[F, F]:
    """The vectors of each paper's ai_summary and of its ai_keywords (comma-joined), cached."""
    if AI_CACHE.exists():
        with np.load(AI_CACHE) as npz:
            return npz["summary"], npz["keywords"]
    summary = d.embed([p.ai_summary or "" for p in papers])
    keywords = d.embed([", ".join(p.ai_keywords) for p in papers])
    np.savez(AI_CACHE, summary=summary, keywords=keywords)
    return summary, keywords


def with_ai(d: Data, papers: Sequence[PaperLike], a_s: float, a_k: float, kw_terms: bool) -> Data:
    """``d`` with each paper's vector unit(v + a_s x its ai_summary's + a_k x its
    ai_keywords' vector, each where the paper has one), the background the same vectors
    (through float16, as shipped), and (``kw_terms``) the ai_keywords added to its terms."""
    summary, keywords = ai_vectors(d, papers)
    has_s = np.array([bool(p.ai_summary) for p in papers])[:, None]
    has_k = np.array([bool(p.ai_keywords) for p in papers])[:, None]
    vec = unit(d.vec + a_s * summary * has_s + a_k * keywords * has_k).astype(np.float32)
    terms = [
        t + bm25.terms(" . ".join(p.ai_keywords)) if kw_terms else t
        for t, p in zip(d.terms, papers, strict=True)
    ]
    bg16 = vec.astype(np.float16).astype(np.float32)
    return replace(d, vec=vec, bg16=bg16, terms=terms)


def run_ai(d: Data, papers: Sequence[PaperLike]) -> None:
    """ai.py: the moved design with the papers' ai_summary / ai_keywords added to their
    vectors (weights a_s, a_k) and the ai_keywords to their BM25 terms (tuned k)."""
    print("-- ai_summary / ai_keywords in the vectors and terms (ai.py)", flush=True)
    vs = views(d)
    report("moved", evaluate(d, memo(moved()), vs, MOVED_K))
    report("moved tuned", evaluate(d, memo(moved()), vs))
    for a_s in (0.0, 0.3, 0.6, 1.0):
        for a_k in (0.0, 0.3, 0.6):
            for kw_terms in (False, True):
                changed = with_ai(d, papers, a_s, a_k, kw_terms)
                name = f"ai_summary {a_s} ai_kw vec {a_k} kw terms {kw_terms}"
                report(name, evaluate(changed, moved(), views(changed)))


def run_round6() -> None:
    """Round 6: the naive words beside about: (soft, per word, ~hints, a calibrated cut) and
    the papers' AI fields, each from the kept moved design."""
    d = load()
    vs = views(d)
    papers = dev_in_order(d)
    base = memo(moved())
    words = naive_words(d, papers)
    run_soft(d, vs, base)
    run_per_word(d, vs, base, words)
    run_hints(d, vs, base, words)
    run_calibrated_cut(d, vs, base, words)
    run_ai(d, papers)


if __name__ == "__main__":
    {"families": run_families, "round6": run_round6}.get(" ".join(sys.argv[1:]), main)()
