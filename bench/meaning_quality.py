"""A numpy replica of bench/relevance_bench.py's about: designs, for trying designs quickly
(issue 16, round 5). It reproduces the kept design's dev / LOTO / split-half figures, then
scores each candidate the same way: dev F1 at its best cut-off k (and at the kept k=2), LOTO
(k chosen on 9 topics, scored on the 10th), SH (background and BM25 IDF from one random half,
scored on the other, 20 splits, at the dev-chosen k). Vectors are cached under /tmp.

    python bench/meaning_quality.py [design-name-prefix ...]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.relevance_bench import DEV, dev_papers, word_masks  # noqa: E402
from paperboy.semantic import background, batching, bm25  # noqa: E402
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
    model: list[object] = []

    def embed(xs: list[str]) -> F:
        if not model:
            from paperboy.semantic.minilm import MiniLM

            model.append(MiniLM.load())
        return model[0].embed(xs).astype(np.float32)  # type: ignore[attr-defined]

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
    return z[0] if len(z) == 1 else (1 - w) * z[0] + w * z[1:].mean(0)


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
        "per_topic": table[best],  # type: ignore[dict-item]
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
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


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


if __name__ == "__main__" and sys.argv[1:] == ["families"]:
    pass
elif __name__ == "__main__" and len(sys.argv) > 1:
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
        print("    per topic:", " ".join(f"{x:.2f}" for x in r["topics"]), flush=True)  # type: ignore[union-attr]


if __name__ == "__main__":
    run_families() if sys.argv[1:] == ["families"] else main()
