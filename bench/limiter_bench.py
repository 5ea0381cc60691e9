"""The rate limiter's cost per check with 100,000 keys held, and its memory.

Each limiter is filled with N distinct keys under one limit (as a flood of networks would),
then timed on checks of new keys (the worst case: each adds a key) and of a held key. The
baseline is the limiter before issue 13 (one dict of deques, a full sweep of the idle keys on
every check past 100,000 keys), loaded from git in the same run; `--baseline-commit` names
another commit. Memory is what tracemalloc counts for the full table.

    python bench/limiter_bench.py [KEYS] [--baseline-commit SHA]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.web.limits import Limit, RateLimiter  # noqa: E402

BASELINE_COMMIT = "4dc1e4f"  # the last commit before issue 13's limiter
NOW = datetime(2026, 7, 2, 9, 30, tzinfo=UTC)
LIMITS = {"ip": Limit(10, timedelta(hours=1))}


def clock() -> datetime:
    return NOW


def old_module(commit: str) -> ModuleType | None:
    """The old paperboy/web/security.py as a module of its own, or None outside a git checkout."""
    try:
        source = subprocess.run(
            ["git", "show", f"{commit}:paperboy/web/security.py"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "old_security.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_security", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_security"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def measure(limiter: Any, keys: int, checks: int) -> dict[str, float]:
    tracemalloc.start()
    started = time.perf_counter()
    for n in range(keys):
        limiter.allow(ip=f"ip{n}")
    fill = time.perf_counter() - started
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    started = time.perf_counter()
    for n in range(checks):
        limiter.allow(ip=f"new{n}")
    new_key = (time.perf_counter() - started) / checks
    started = time.perf_counter()
    for _ in range(checks):
        limiter.allow(ip=f"ip{keys - 1}")  # held, and soon refused
    held_key = (time.perf_counter() - started) / checks
    return {"fill_s": fill, "new_us": new_key * 1e6, "held_us": held_key * 1e6, "mb": memory / 1e6}


def report(name: str, r: dict[str, float]) -> None:
    print(
        f"{name:<9} fill {r['fill_s']:6.2f} s   new key {r['new_us']:9.1f} µs/check   "
        f"held key {r['held_us']:7.1f} µs/check   memory {r['mb']:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="?", type=int, default=100_000)
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    parser.add_argument("--checks", type=int, default=500)
    args = parser.parse_args()
    print(f"{args.keys:,} keys held, then {args.checks} checks")
    new = measure(RateLimiter(clock, LIMITS), args.keys, args.checks)
    report("bounded", new)
    old = old_module(args.baseline_commit)
    if old is None:
        print("baseline: not in a git checkout, skipped")
        return
    # The old limiter swept only past 100,000 keys: fill one more than that to reach its sweep.
    before = measure(old.RateLimiter(clock, LIMITS), max(args.keys, 100_001), args.checks)
    report("before", before)
    print(
        f"per check, new key: {before['new_us'] / new['new_us']:.0f}x faster; "
        f"held key: {before['held_us'] / new['held_us']:.0f}x; "
        f"memory {new['mb'] / before['mb']:.2f}x the baseline's"
    )


if __name__ == "__main__":
    main()
