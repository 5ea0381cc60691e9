"""`paperboy embed`: compute the missing paper vectors for the configured model (a backfill)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from paperboy.cli.app import State, app, err, out, state
from paperboy.cli.views import plural
from paperboy.errors import PaperboyError

if TYPE_CHECKING:  # the model's runtime (numpy, onnxruntime) loads when the command runs
    from paperboy.semantic.embedder import Embedder
    from store.vectors import VectorStore

Report = Callable[[int, int], None]  # (done, total)
PLAIN_STEPS = 10  # without a terminal: a line at every tenth of the way


@app.command()
def embed(
    ctx: typer.Context,
    limit: int | None = typer.Option(
        None, "--limit", min=1, max=100_000_000, help="Embed at most N papers this time."
    ),
    batch: int | None = typer.Option(
        None,
        "--batch",
        min=1,
        max=4096,
        help="Papers per model call and per write (default: 32, paperboy.semantic.vectors.BATCH).",
    ),
    check: bool = typer.Option(
        False, "--check", help="Only count the papers with and without a current vector."
    ),
) -> None:
    """Compute the vectors that matching by meaning (about:, like:) needs and the store lacks.

    Fetching computes them for new papers while a profile uses about: or like:; this fills in
    the rest (papers stored before, or whose embedding failed) with a progress bar. Interrupt
    it at any time: what was embedded is kept.
    """
    from paperboy.semantic.vectors import BATCH, StoredVectors
    from store.vectors import VectorStore

    st = state(ctx)
    embedder = _model(st)
    store = VectorStore(st.engine())
    if check:
        _check(st, embedder, store)
        return
    vectors = StoredVectors(embedder, store, batch=batch or BATCH)
    started = time.perf_counter()
    with _progress() as report:
        done = vectors.fill(report, limit=limit)
    seconds = time.perf_counter() - started
    rate = done / seconds if seconds > 0 else 0.0
    out.print(
        f"{done} paper{'' if done == 1 else 's'} embedded in {seconds:.1f} s "
        f"({rate:.1f} papers/s), model {escape(embedder.model_id)}",
        soft_wrap=True,
    )


def _model(st: State) -> Embedder:
    from paperboy.semantic.load import load_embedder, model_choice

    embedder, reason = load_embedder(model_choice(st.settings))
    if reason is not None:
        raise PaperboyError(
            f"the embedding model is not used: {reason}",
            hint="the lexical fallback needs no stored vectors (it compares words as it "
            "matches), so there is nothing to embed until the model loads",
        )
    return embedder


def _check(st: State, embedder: Embedder, store: VectorStore) -> None:
    from paperboy.semantic.vectors import hash_of

    model = embedder.model_id
    papers = st.store().count_papers()
    stored = store.count(model)
    todo = sum(1 for _ in store.missing(model, hash_of))
    current = papers - todo
    stale = stored - current
    out.print(
        f"{plural(papers, 'paper')}, {current} with a current vector, {stale} stale, "
        f"{todo} to embed; model {escape(model)}",
        soft_wrap=True,
    )


@contextmanager
def _progress() -> Iterator[Report]:
    """A bar on stderr in a terminal; plain lines when it is not one (a log, CI=true)."""
    if not err.is_terminal or _ci():
        yield _plain()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("embedding", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _plain() -> Report:
    shown = -1

    def report(done: int, total: int) -> None:
        nonlocal shown
        step = done * PLAIN_STEPS // total if total else PLAIN_STEPS
        if step != shown:
            shown = step
            err.print(f"embedding: {done}/{total} papers", markup=False)

    return report


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
