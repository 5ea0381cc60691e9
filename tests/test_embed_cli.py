"""`paperboy embed` as an operator runs it: a real process, a real SQLite file, the real model."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from store.engine import make_engine, upgrade
from store.repository import SqlStore
from tests.builders import batch, captured
from tests.test_cli import run

DAY = captured("hf-api-daily-papers-2026-05-08.json")


def stored(tmp_path: Path, count: int) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pb.db'}")
    upgrade(engine)
    SqlStore(engine).ingest(batch(DAY[:count]))
    engine.dispose()


def vector_sizes(tmp_path: Path) -> list[int]:
    with sqlite3.connect(tmp_path / "pb.db") as db:
        return [n for (n,) in db.execute("select length(vector) from embeddings")]


def test_embed_fills_in_the_missing_vectors_with_progress(tmp_path: Path) -> None:
    stored(tmp_path, 5)
    check = run(tmp_path, "embed", "--check")
    assert check.returncode == 0, check.stderr
    assert "5 papers, 0 with a current vector, 0 stale, 5 to embed" in check.stdout
    first = run(tmp_path, "embed", "--limit", "3", "--batch", "2")
    assert first.returncode == 0, first.stderr
    assert "3 papers embedded in " in first.stdout
    assert "papers/s), model all-MiniLM-L6-v2/int8-onnx@" in first.stdout
    # Not a terminal: plain lines, no bar drawing.
    assert first.stderr.splitlines() == [
        "embedding: 0/3 papers",
        "embedding: 2/3 papers",
        "embedding: 3/3 papers",
    ]
    rest = run(tmp_path, "embed")
    assert rest.returncode == 0, rest.stderr
    assert "2 papers embedded in " in rest.stdout
    assert vector_sizes(tmp_path) == [768] * 5  # 384 float16 numbers each
    again = run(tmp_path, "embed", "--check")
    assert "5 papers, 5 with a current vector, 0 stale, 0 to embed" in again.stdout


def test_embed_without_the_model_says_so_and_fails(tmp_path: Path) -> None:
    stored(tmp_path, 1)
    off = run(tmp_path, "embed", PAPERBOY_SEMANTIC="off")
    assert off.returncode == 1
    text = " ".join(off.stderr.split())
    assert "the embedding model is not used: PAPERBOY_SEMANTIC=off" in text
    assert "the lexical fallback needs no stored vectors" in text
    assert "Traceback" not in off.stderr
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a model")
    missing = run(tmp_path, "embed", "--check", PAPERBOY_MODEL_PATH=str(broken))
    assert missing.returncode == 1
    assert "embedding model" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert vector_sizes(tmp_path) == []


def test_embed_refuses_a_batch_of_zero(tmp_path: Path) -> None:
    result = run(tmp_path, "embed", "--batch", "0")
    assert result.returncode == 2
    assert "--batch" in result.stderr
