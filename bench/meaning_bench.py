"""VectorMeaning.close on 10,000 wants x 1,000 papers, and the whole 20,000-profile case (issue 16).

Part 1, meaning alone: 10,000 distinct wants (half ``about:`` sentences, half ``like:`` of 1-3
example papers; one in ten with liked papers, one in ten with rejected ones, closeness steps
-2..2) against 1,000 papers in 50 clusters of random unit vectors (384 dimensions), through the
real VectorMeaning with a cheap hash embedder (the model's own cost is bench/embed_bench.py's).
Cold: every want embedded and calibrated; warm: the same batch again (a service's steady
state); then ``held_back`` once per distinct rejected list, as the matcher asks.

Part 2, bench/match_bench.py's semantic case through the real Matcher (20,000 profiles, half
with about:/like:): match time split into meaning and the matcher's own part.

Wall time and CPU time (time.process_time) are both printed: the machine may be shared.
``--profile`` prints the top of a cProfile of the warm close(). Target: the whole
20,000-profile match < 1 s.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collections.abc import Callable, Sequence  # noqa: E402
from typing import TypeVar  # noqa: E402

from bench import match_bench  # noqa: E402
from paperboy.profiles.ast import About, Like  # noqa: E402
from paperboy.profiles.document import PaperLike  # noqa: E402
from paperboy.profiles.matcher import Matcher  # noqa: E402
from paperboy.semantic.closeness import Closeness, Want  # noqa: E402
from paperboy.semantic.meaning import VectorMeaning  # noqa: E402
from scraper.models import ScrapedPaper  # noqa: E402

WANTS = 10_000
T = TypeVar("T")


def wants(corpus: list[ScrapedPaper]) -> list[Want]:
    rng = random.Random(10)
    _, phrases = match_bench.vocabulary(corpus)
    ids = [p.arxiv_id for p in corpus]
    found: dict[Want, None] = {}
    while len(found) < WANTS:
        if len(found) % 2:
            atom: About | Like = Like(tuple(rng.sample(ids, rng.randint(1, 3))))
        elif rng.random() < 0.5:
            atom = About(f"{rng.choice(phrases)} for {rng.choice(phrases)}")
        else:
            atom = About(f"{rng.choice(phrases)}, {rng.choice(phrases)} and {rng.choice(phrases)}")
        liked = tuple(rng.sample(ids, rng.randint(1, 3))) if rng.random() < 0.1 else ()
        rejected = tuple(rng.sample(ids, rng.randint(1, 2))) if rng.random() < 0.1 else ()
        found[Want(atom, rng.randint(-2, 2), liked, rejected)] = None
    return list(found)


def timed(what: str, run: Callable[[], T], times: int = 1) -> T:
    """Run ``run`` ``times`` times; print the least wall and CPU time (the machine is shared)."""
    walls, cpus = [], []
    for _ in range(times):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    best = f"least of {times}: " if times > 1 else ""
    print(f"  {what}: {best}{min(walls):.3f} s wall, {min(cpus):.3f} s CPU")
    return result


def meaning_alone(corpus: list[ScrapedPaper], profile: bool) -> None:
    meaning: VectorMeaning = match_bench.meaning_for(corpus)
    batch = wants(corpus)
    print(f"meaning alone: {len(batch):,} wants x {len(corpus):,} papers")
    timed("close, cold (embedded and calibrated)", lambda: meaning.close(batch, corpus))
    found = timed("close, warm", lambda: meaning.close(batch, corpus), 5)
    print(f"    {sum(c.mask.bit_count() for c in found):,} close (want, paper) pairs")
    rejected = list(dict.fromkeys(w.rejected for w in batch if w.rejected))
    timed(
        f"held_back x {len(rejected)} distinct rejected lists",
        lambda: [meaning.held_back(r, corpus) for r in rejected],
    )
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        meaning.close(batch, corpus)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


class Clocked(match_bench.Timed):
    """match_bench's Timed, adding up CPU time in close() and held_back() as well."""

    def __init__(self, inner: VectorMeaning) -> None:
        super().__init__(inner)
        self.cpu = 0.0

    def close(self, wants: Sequence[Want], papers: Sequence[PaperLike]) -> list[Closeness]:
        start = time.process_time()
        found = super().close(wants, papers)
        self.cpu += time.process_time() - start
        return found

    def held_back(self, rejected: tuple[str, ...], papers: Sequence[PaperLike]) -> int:
        start = time.process_time()
        found = super().held_back(rejected, papers)
        self.cpu += time.process_time() - start
        return found


def whole_case(corpus: list[ScrapedPaper]) -> None:
    """match_bench's semantic case, with CPU time beside wall time."""
    spec_list = match_bench.semantic_specs(corpus, match_bench.specs(corpus))
    meaning = Clocked(match_bench.meaning_for(corpus))
    print(f"whole case: {len(spec_list):,} profiles through the Matcher, {len(corpus):,} papers")
    for run in ("cold", "warm", "warm", "warm"):  # the machine is shared: read the least
        meaning.seconds = meaning.cpu = 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        matcher = Matcher(spec_list, meaning)
        compiled_wall, compiled_cpu = time.perf_counter(), time.process_time()
        result = matcher.match(corpus)
        match_wall = time.perf_counter() - compiled_wall
        match_cpu = time.process_time() - compiled_cpu
        print(
            f"  {run}: compile {compiled_wall - wall:.3f} s wall ({compiled_cpu - cpu:.3f} CPU); "
            f"match {match_wall:.3f} s wall ({match_cpu:.3f} CPU): meaning "
            f"{meaning.seconds:.3f} s ({meaning.cpu:.3f} CPU), the matcher's own part "
            f"{match_wall - meaning.seconds:.3f} s ({match_cpu - meaning.cpu:.3f} CPU); "
            f"{len(result):,} matches, {meaning.wants:,} wants"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the warm close()")
    parser.add_argument("--alone", action="store_true", help="part 1 only (no Matcher)")
    args = parser.parse_args()
    corpus = match_bench.papers()
    meaning_alone(corpus, args.profile)
    if not args.alone:
        whole_case(corpus)


if __name__ == "__main__":
    main()
