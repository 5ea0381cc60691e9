"""Match 10,000 subscribers x 2 profiles (3-8 terms each) against 1,000 papers.

Papers are the real captured ones (tests/data/hf), repeated with new ids up to 1,000. Profile
terms are drawn from the papers' own AI keywords, title words and author names, so they hit
realistically. The baseline, measured in the same run on a slice of the papers, finds each
paper's keywords with one big `re` alternation of every term (the approach DESIGN.md warns
about) and then evaluates the profiles whose keywords it found.
Target (issue 4): < 1 s on 2 cores, >= 50x faster than the baseline; peak memory reported.

Then the meaning case (issue 16): 20,000 profiles, half of them about:/like: (and a closeness
step each), against the same 1,000 papers, through the real VectorMeaning over random unit
vectors (384 dimensions, as MiniLM's): one matrix product for every distinct want. Topic texts
are "embedded" by a hash (the model's own cost is bench/embed_bench.py's), so the figure is the
matcher's and the maths'. Target: < 1 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import re
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collections.abc import Sequence  # noqa: E402

import numpy as np  # noqa: E402

from paperboy.profiles.ast import And, Compare, Has, Node, Not, Or, Term, to_query  # noqa: E402
from paperboy.profiles.document import PaperLike  # noqa: E402
from paperboy.profiles.matcher import Matcher, ProfileSpec  # noqa: E402
from paperboy.profiles.parser import parse  # noqa: E402
from paperboy.semantic.closeness import Closeness, Want  # noqa: E402
from paperboy.semantic.embedder import Vectors  # noqa: E402
from paperboy.semantic.meaning import InMemoryVectors, VectorMeaning  # noqa: E402
from scraper.models import ScrapedPaper  # noqa: E402
from scraper.parse_json import parse_entries  # noqa: E402

HF = ROOT / "tests" / "data" / "hf"
SUBSCRIBERS, PROFILES_EACH, PAPERS, BASELINE_PAPERS = 10_000, 2, 1_000, 20
STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "via",
        "we",
        "our",
        "its",
    ]
)


def papers() -> list[ScrapedPaper]:
    real: dict[str, ScrapedPaper] = {}
    for file in sorted(HF.glob("hf-api-*.json")):
        data = json.loads(file.read_bytes())
        if isinstance(data, list):
            real.update((p.arxiv_id, p) for p in parse_entries(data, file.name))
    base = list(real.values())
    return [
        dataclasses.replace(base[i % len(base)], arxiv_id=f"2612.{i:05d}") for i in range(PAPERS)
    ]


def vocabulary(corpus: list[ScrapedPaper]) -> tuple[list[str], list[str]]:
    words: set[str] = set()
    phrases: set[str] = set()
    for p in corpus:
        words.update(
            w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", p.title) if w.lower() not in STOP
        )
        phrases.update(k for k in p.ai_keywords if 1 < len(k.split()) <= 3 and '"' not in k)
    return sorted(words), sorted(phrases)


def profile(rng: random.Random, words: list[str], phrases: list[str], authors: list[str]) -> str:
    n = rng.randint(3, 8)
    terms: list[str] = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.45:
            terms.append(rng.choice(words))
        elif roll < 0.8:
            terms.append(f'"{rng.choice(phrases)}"')
        elif roll < 0.88:
            stem = re.sub(r"[^A-Za-z]", "", rng.choice(words))[:5]
            terms.append(stem + "*" if len(stem) >= 3 else stem)
        elif roll < 0.94:
            terms.append(f'author:"{rng.choice(authors)}"')
        else:
            terms.append(f"title:{rng.choice(words)}")
    groups: list[str] = []
    while terms:
        size = rng.randint(1, min(4, len(terms)))
        group, terms = terms[:size], terms[size:]
        groups.append(group[0] if size == 1 else "(" + " OR ".join(group) + ")")
    if len(groups) > 2:  # a NOT and a filter now and then, as people write them
        groups[-1] = "-" + groups[-1]
    if rng.random() < 0.2:
        groups.append(rng.choice(["has:code", "upvotes>=5", "stars>=10"]))
    return " ".join(groups[:1] + (groups[1:2] if rng.random() < 0.5 else groups[1:]))


def specs(corpus: list[ScrapedPaper]) -> list[ProfileSpec]:
    rng = random.Random(4)
    words, phrases = vocabulary(corpus)
    authors = sorted({a for p in corpus for a in p.authors[:3]})
    found = []
    for s in range(SUBSCRIBERS):
        for k in range(PROFILES_EACH):
            query = profile(rng, words, phrases, authors)
            found.append(ProfileSpec(s * PROFILES_EACH + k, s, f"p{k}", query))
    return found


def _holds(node: Node, found: set[str], paper: ScrapedPaper) -> bool:
    """Evaluate a profile given the keywords the alternation found in the paper."""
    match node:
        case Term():
            return node.text.lower() in found
        case And(children):
            return all(_holds(c, found, paper) for c in children)
        case Or(children):
            return any(_holds(c, found, paper) for c in children)
        case Not(child):
            return not _holds(child, found, paper)
        case Compare(metric, _, value):
            return (paper.upvotes if metric == "upvotes" else paper.github_stars or 0) >= value
        case Has(what):
            return bool(paper.github_repo if what == "code" else paper.project_page)
    raise TypeError(node)


def baseline(spec_list: list[ProfileSpec], corpus: list[ScrapedPaper]) -> tuple[float, int]:
    """One giant alternation finds the keywords in each paper; then those profiles are evaluated."""
    nodes = [parse(s.query) for s in spec_list]
    keyword_of: dict[str, set[int]] = {}
    for index, node in enumerate(nodes):
        for term in re.findall(r'"([^"]+)"|([\w-]+)\*?', to_query(node)):
            word = (term[0] or term[1]).lower()
            keyword_of.setdefault(word, set()).add(index)
    alternation = re.compile(
        r"\b(?:" + "|".join(re.escape(k) for k in sorted(keyword_of, key=len, reverse=True)) + r")",
        re.IGNORECASE,
    )
    start = time.perf_counter()
    matched = 0
    for paper in corpus:
        text = " ".join([paper.title, paper.summary or "", *paper.ai_keywords, *paper.authors])
        found = {m.group(0).lower() for m in alternation.finditer(text)}
        candidates = set().union(*(keyword_of.get(k, set()) for k in found))
        matched += sum(1 for i in candidates if _holds(nodes[i], found, paper))
    return (time.perf_counter() - start) / len(corpus), matched


DIM = 384


def _unit(rows: Vectors) -> Vectors:
    scaled: Vectors = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return scaled


class HashEmbedder:
    """A random unit vector per text, the same for the same text (a stand-in for the model)."""

    model_id = "bench-random-384"
    dim = DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = [
            np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:16], 16))
            .standard_normal(DIM)
            .astype(np.float32)
            for t in texts
        ]
        return _unit(np.stack(rows)) if rows else np.zeros((0, DIM), dtype=np.float32)


class Timed:
    """The Meaning, with the time spent in close() and held_back() added up (wall in
    ``seconds``, CPU of the process in ``cpu_spent``)."""

    def __init__(self, inner: VectorMeaning) -> None:
        self.inner, self.seconds, self.wants = inner, 0.0, 0
        self.cpu_spent = 0.0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def close(self, wants: Sequence[Want], papers: Sequence[PaperLike]) -> list[Closeness]:
        start, cpu = time.perf_counter(), time.process_time()
        found = self.inner.close(wants, papers)
        self.seconds += time.perf_counter() - start
        self.cpu_spent += time.process_time() - cpu
        self.wants = len(wants)
        return found

    def held_back(self, rejected: tuple[str, ...], papers: Sequence[PaperLike]) -> int:
        start, cpu = time.perf_counter(), time.process_time()
        found = self.inner.held_back(rejected, papers)
        self.seconds += time.perf_counter() - start
        self.cpu_spent += time.process_time() - cpu
        return found

    def why(self, want: Want, paper: PaperLike) -> str:
        return self.inner.why(want, paper)


def meaning_for(corpus: list[ScrapedPaper]) -> VectorMeaning:
    rng = np.random.default_rng(16)
    embedder = HashEmbedder()
    # Papers in 50 clusters, so topics near a cluster find a few papers close, as real ones do.
    centres = _unit(rng.standard_normal((50, DIM)).astype(np.float32))
    rows = _unit(
        centres[rng.integers(0, 50, len(corpus))]
        + 0.9 * _unit(rng.standard_normal((len(corpus), DIM)).astype(np.float32))
    )
    vectors = InMemoryVectors(embedder)
    vectors.prime([p.arxiv_id for p in corpus], rows)
    background = rows[rng.choice(len(corpus), 160, replace=False)]
    by_id = {p.arxiv_id: p for p in corpus}
    return VectorMeaning(
        embedder, vectors, background, lambda ids: [by_id[i] for i in ids if i in by_id]
    )


def semantic_specs(
    corpus: list[ScrapedPaper], keyword: list[ProfileSpec], hints: bool = False
) -> list[ProfileSpec]:
    """Every other profile becomes a topic (most distinct), examples, or a topic with words;
    with ``hints``, half the topics also carry one or two ~hints."""
    rng = random.Random(16)
    words, phrases = vocabulary(corpus)
    ids = [p.arxiv_id for p in corpus]
    found = []
    for i, spec in enumerate(keyword):
        if i % 2:
            found.append(spec)
            continue
        roll = rng.random()
        if roll < 0.6:
            query = f'about:"{rng.choice(phrases)} for {rng.choice(phrases)}"'
            if hints and rng.random() < 0.5:
                query += "".join(f" ~{w}" for w in rng.sample(words, rng.randint(1, 2)))
        elif roll < 0.8:
            query = "like:" + ",".join(rng.sample(ids, rng.randint(1, 3)))
        else:
            query = f'about:"{rng.choice(phrases)}" -survey upvotes>=3 OR {spec.query}'
        liked = tuple(rng.sample(ids, 2)) if rng.random() < 0.1 else ()
        rejected = tuple(rng.sample(ids, 1)) if rng.random() < 0.1 else ()
        found.append(
            dataclasses.replace(
                spec, query=query, closeness=rng.randint(-2, 2), liked=liked, rejected=rejected
            )
        )
    return found


def semantic_case(
    corpus: list[ScrapedPaper], keyword: list[ProfileSpec], warm: int = 5, hints: bool = False
) -> None:
    """Cold once (topics embedded and calibrated), then ``warm`` times as the service runs
    (a new Matcher each time, topics known): the least CPU and wall of the warm runs, each
    split into meaning (close and held_back) and the matcher's own part (the shared machine
    inflates wall; CPU is the figure to compare)."""
    spec_list = semantic_specs(corpus, keyword, hints)
    meaning = Timed(meaning_for(corpus))
    runs = []
    matches = 0
    for _ in range(1 + warm):
        meaning.seconds = meaning.cpu_spent = 0.0
        start = time.perf_counter()
        matcher = Matcher(spec_list, meaning)
        compiled = time.perf_counter()
        cpu = time.process_time()
        result = matcher.match(corpus)
        cpu = time.process_time() - cpu
        done = time.perf_counter()
        matches = len(result)
        runs.append((compiled - start, done - compiled, meaning.seconds, cpu, meaning.cpu_spent))
    cold, warm_runs = runs[0], runs[1:]
    semantic = sum(1 for s in spec_list if "about:" in s.query or "like:" in s.query)
    hinted = sum(1 for s in spec_list if " ~" in s.query)
    print(
        f"meaning: {len(spec_list):,} profiles, {semantic:,} with about:/like: "
        f"({hinted:,} with ~hints) "
        f"({meaning.wants:,} distinct wants), {len(corpus):,} papers, {matches:,} matches"
    )
    print(
        f"  cold (topics embedded and calibrated): compile {cold[0]:.3f} s, match {cold[1]:.3f} s "
        f"wall, {cold[3]:.3f} s CPU (meaning {cold[2]:.3f} s wall, {cold[4]:.3f} s CPU)"
    )
    if not warm_runs:
        return
    best = min(warm_runs, key=lambda r: r[3])
    print(
        f"  warm, least of {len(warm_runs)}: compile {min(r[0] for r in warm_runs):.3f} s; "
        f"match {best[3]:.3f} s CPU (meaning {best[4]:.3f}, the matcher's own part "
        f"{best[3] - best[4]:.3f}); wall {min(r[1] for r in warm_runs):.3f} s "
        f"(that run {best[1]:.3f}: meaning {best[2]:.3f}, own part {best[1] - best[2]:.3f}); "
        "target: match < 1 s"
    )
    print("  warm CPU per run: " + ", ".join(f"{r[3]:.3f}" for r in warm_runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--semantic-only", action="store_true", help="only the meaning case (issue 16)"
    )
    parser.add_argument("--warm", type=int, default=5, help="warm runs of the meaning case")
    parser.add_argument(
        "--hints", action="store_true", help="half the meaning case's topics carry ~hints"
    )
    args = parser.parse_args()
    corpus = papers()
    spec_list = specs(corpus)
    if args.semantic_only:
        semantic_case(corpus, spec_list, args.warm, args.hints)
        return
    terms = sum(len(re.findall(r'"[^"]+"|\S+', s.query)) for s in spec_list)
    print(
        f"{len(spec_list):,} profiles ({terms / len(spec_list):.1f} terms on average), "
        f"{len(corpus):,} papers"
    )
    print("e.g.", spec_list[0].query, " |  ", spec_list[1].query)
    timings = []
    for _ in range(3):  # the first compile is cold (queries parsed); later ones hit the cache
        start = time.perf_counter()
        matcher = Matcher(spec_list)
        compiled = time.perf_counter()
        cpu = time.process_time()
        result = matcher.match(corpus)
        cpu = time.process_time() - cpu
        done = time.perf_counter()
        matches = list(result)  # materialise every Match, as a dispatch of all of them would
        listed = time.perf_counter()
        timings.append((compiled - start, done - compiled, listed - done, cpu))
    cold_compile = timings[0][0]
    compile_s = min(t[0] for t in timings[1:])
    match_s = min(t[1] for t in timings)
    list_s = min(t[2] for t in timings)
    # The first match analysed every paper; later ones reuse the analyses (same ids and texts).
    print(
        f"match, papers never seen: {timings[0][1]:.3f} s wall, {timings[0][3]:.3f} s CPU; "
        f"seen before: {min(t[1] for t in timings[1:]):.3f} s wall, "
        f"{min(t[3] for t in timings[1:]):.3f} s CPU"
    )
    tracemalloc.start()
    Matcher(spec_list).match(corpus)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_paper = match_s / len(corpus)
    print(
        f"compile {cold_compile:.3f} s cold, {compile_s:.3f} s warm; match {match_s:.3f} s; "
        f"materialising all {len(matches):,} Match objects {list_s:.3f} s "
        f"({len(matches) / len(corpus):.0f} matches per paper)"
    )
    print(
        f"peak Python memory of compile + match {peak / 2**20:.0f} MiB; "
        f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    slow, _ = baseline(spec_list, corpus[:BASELINE_PAPERS])
    print(
        f"baseline (one re alternation), {BASELINE_PAPERS} papers: {slow * 1000:.1f} ms/paper, "
        f"{slow * len(corpus):.1f} s for {len(corpus):,} papers extrapolated"
    )
    print(
        f"ours: {per_paper * 1000:.2f} ms/paper; ratio {slow / per_paper:.0f}x "
        f"(target: total < 1 s, >= 50x)"
    )
    semantic_case(corpus, spec_list, args.warm, args.hints)


if __name__ == "__main__":
    main()
