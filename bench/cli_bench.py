"""How long `paperboy` takes to answer simple commands (issue 17): start-up is the cost.

Each command runs as the console script does (`paperboy.cli.main:main` in a fresh interpreter)
against a temporary SQLite store, already migrated, holding the bundled demo papers. The baseline,
measured in the same run, is the bare interpreter (`python -c pass`): nothing a CLI can go under.
`--tree DIR` runs the code in another checkout (e.g. `git archive HEAD~3 | tar -x -C /tmp/old`),
so an old and a new tree are measured on the same machine in the same minutes, taking turns run
by run.

Compiled bytecode is kept (in a temporary PYTHONPYCACHEPREFIX, PYTHONDONTWRITEBYTECODE dropped)
and every command runs once before it is timed, as an installed package has its .pyc files:
otherwise each run would also compile the tree's own modules. Besides CPU and wall time, each
command's imports are summed from `python -X importtime` (the self times, median of 3 runs) and
counted, and the heavy packages it loaded are listed.

    .venv/bin/python bench/cli_bench.py [--runs 15] [--tree DIR ...]
"""

from __future__ import annotations

import argparse
import ast
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = "import sys; from paperboy.cli.main import main; sys.exit(main())"
COMMANDS = (
    ("--help",),
    ("--version",),
    ("profile", "help"),
    ("papers", "--limit", "5"),
    ("fetches", "--limit", "5"),
    ("status",),
)
# What a command that reads the store cannot go under, whatever the CLI does: its libraries'
# imports alone (each in a fresh interpreter, like the commands).
FLOORS = (
    ("import sqlalchemy", "import sqlalchemy"),
    ("+ pydantic-settings", "import sqlalchemy, pydantic_settings"),
    ("+ rich, typer", "import sqlalchemy, pydantic_settings, rich.table, typer"),
)
HEAVY = (
    *("fastapi", "uvicorn", "starlette", "alembic", "apscheduler", "onnxruntime", "numpy"),
    *("markdown_it", "pygments", "email_validator", "pydantic", "sqlalchemy", "sqlmodel"),
)


def timed(
    argv: list[str], env: dict[str, str], cwd: Path, runs: int
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) seconds of each run; a failing run stops the
    benchmark. CPU time is what a shared, loaded machine changes least."""
    seconds, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
        seconds.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode not in (0, 2):  # 2: a usage error (an option an old tree lacks)
            sys.exit(f"{argv[3:]} exited {done.returncode}: {done.stderr.decode()[-400:]}")
    return seconds, cpu


def loaded(command: tuple[str, ...], env: dict[str, str], cwd: Path) -> list[str]:
    """Which heavy packages importing the CLI and running ``command`` loads."""
    probe = (
        "import contextlib, io, sys\nfrom paperboy.cli.main import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): main({list(command)!r})\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    return list(ast.literal_eval(done.stdout.strip().splitlines()[-1]))


def imports(argv: list[str], env: dict[str, str], cwd: Path, runs: int = 3) -> tuple[float, int]:
    """Seconds spent importing, summed from ``-X importtime``'s self times (median of runs; wall
    clock inside the interpreter, so a loaded machine inflates it), and how many modules."""
    sums, count = [], 0
    for _ in range(runs):
        done = subprocess.run(
            [argv[0], "-X", "importtime", *argv[1:]], env=env, cwd=cwd, capture_output=True
        )
        times = [_self_us(line) for line in done.stderr.decode().splitlines()]
        sums.append(sum(t for t in times if t is not None))
        count = sum(t is not None for t in times)
    return statistics.median(sums) / 1e6, count


def _self_us(line: str) -> int | None:
    """The self time of one ``import time:    123 |    456 | module`` line (None for others)."""
    head, bar, _ = line.partition("|")
    value = head.removeprefix("import time:").strip()
    return int(value) if bar and value.isdigit() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tree", type=Path, action="append", default=[])
    args = parser.parse_args()
    trees = [ROOT, *args.tree]
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPYCACHEPREFIX": f"{tmp}/pycache",
            "PAPERBOY_OUTBOX_DIR": f"{tmp}/outbox",
            "PAPERBOY_SEMANTIC": "off",
            "COLUMNS": "100",
        }
        timed([sys.executable, "-c", "pass"], env, ROOT, 1)
        wall, cpu = timed([sys.executable, "-c", "pass"], env, ROOT, args.runs)
        base, base_cpu = statistics.median(wall), statistics.median(cpu)
        print(f"machine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.runs} runs")
        print(f"baseline `python -c pass`: {base * 1000:.0f} ms wall, {base_cpu * 1000:.0f} ms CPU")
        for label, code in FLOORS:
            timed([sys.executable, "-c", code], env, ROOT, 1)
            wall, cpu = timed([sys.executable, "-c", code], env, ROOT, args.runs)
            print(
                f"  floor {label:<24} wall median {statistics.median(wall) * 1000:5.0f} ms, "
                f"CPU median {statistics.median(cpu) * 1000:4.0f} ms"
            )
        tree_envs = []
        for number, tree in enumerate(trees):
            database = f"sqlite:///{tmp}/bench{number}.db"  # each tree its own schema
            tree_env = {**env, "PYTHONPATH": str(tree), "PAPERBOY_DATABASE_URL": database}
            demo = [sys.executable, "-c", ENTRY, "demo"]
            subprocess.run(demo, env=tree_env, cwd=tree, capture_output=True, check=False)
            tree_envs.append(tree_env)
        for command in COMMANDS:
            argv = [sys.executable, "-c", ENTRY, *command]
            print(f"\npaperboy {' '.join(command)}")
            for tree, tree_env in zip(trees, tree_envs, strict=True):
                timed(argv, tree_env, tree, 1)  # compiles what it imports, once
            # The trees take turns, run by run: a change of load falls on all of them alike.
            runs: list[tuple[list[float], list[float]]] = [([], []) for _ in trees]
            for _ in range(args.runs):
                for (walls, cpus), tree, tree_env in zip(runs, trees, tree_envs, strict=True):
                    wall, cpu = timed(argv, tree_env, tree, 1)
                    walls += wall
                    cpus += cpu
            for (walls, cpus), tree, tree_env in zip(runs, trees, tree_envs, strict=True):
                median, used = statistics.median(walls), statistics.median(cpus)
                importing, modules = imports(argv, tree_env, tree)
                heavy = ", ".join(loaded(command, tree_env, tree)) or "none of them"
                print(
                    f"  {tree!s:<16} wall median {median * 1000:5.0f} ms "
                    f"(min {min(walls) * 1000:5.0f}), CPU median {used * 1000:4.0f} ms "
                    f"= {used / base_cpu:4.1f}x bare; imports {importing * 1000:4.0f} ms "
                    f"({modules} modules); "
                    f"loads {heavy}"
                )
        print(f"\nmachine load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
