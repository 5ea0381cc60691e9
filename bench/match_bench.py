"""Match 10,000 subscribers x 2 profiles (3-8 terms each) against 1,000 papers.

Papers are the real captured ones (tests/data/hf), repeated with new ids up to 1,000. Profile
terms are drawn from the papers' own AI keywords, title words and author names, so they hit
realistically. The baseline, measured in the same run on a slice of the papers, finds each
paper's keywords with one big `re` alternation of every term (the approach DESIGN.md warns
about) and then evaluates the profiles whose keywords it found.
Target (issue 4): < 1 s on 2 cores, >= 50x faster than the baseline; peak memory reported.
"""

from __future__ import annotations

import dataclasses
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

from paperboy.profiles.ast import And, Compare, Has, Node, Not, Or, Term, to_query  # noqa: E402
from paperboy.profiles.matcher import Matcher, ProfileSpec  # noqa: E402
from paperboy.profiles.parser import parse  # noqa: E402
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
        dataclasses.replace(base[i % len(base)], arxiv_id=f"2699.{i:05d}") for i in range(PAPERS)
    ]


def vocabulary(corpus: list[ScrapedPaper]) -> tuple[list[str], list[str]]:
    words, phrases = set(), set()
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


def main() -> None:
    corpus = papers()
    spec_list = specs(corpus)
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
        result = matcher.match(corpus)
        done = time.perf_counter()
        matches = list(result)  # materialise every Match, as a dispatch of all of them would
        listed = time.perf_counter()
        timings.append((compiled - start, done - compiled, listed - done))
    cold_compile = timings[0][0]
    compile_s = min(t[0] for t in timings[1:])
    match_s = min(t[1] for t in timings)
    list_s = min(t[2] for t in timings)
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


if __name__ == "__main__":
    main()
