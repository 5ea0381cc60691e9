"""The embedders: MiniLM against golden vectors, hash checks and the lexical fallback, doctor.

tests/data/golden_vectors.json holds four texts and the vectors MiniLM gave them (rounded to 5
decimals; its "provenance" says how they were made and checked against an fp32 computation).
`UPDATE_GOLDEN=1` rewrites the vectors on purpose, after a deliberate change of model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from paperboy.doctor import meaning_check
from paperboy.errors import ModelUnavailable
from paperboy.semantic.lexical import LexicalEmbedder
from paperboy.semantic.load import OFF_REASON, ModelChoice, forget_loaded, load_embedder
from paperboy.semantic.minilm import MiniLM, ModelFiles, model_files
from paperboy.settings import Settings
from tests.test_cli import run

GOLDEN = Path(__file__).parent / "data" / "golden_vectors.json"


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    return MiniLM.load()


@pytest.fixture
def fresh() -> Iterator[None]:
    """No model cached from another test, and none left behind."""
    forget_loaded()
    yield
    forget_loaded()


def dump(data: dict[str, object]) -> str:
    """Indented JSON with each vector on one line (a readable diff when they change)."""
    text = json.dumps(data, indent=1, ensure_ascii=False)
    return (
        re.sub(r"\[\s+(-?\d[^\]]*?)\s+\]", lambda m: "[" + " ".join(m[1].split()) + "]", text)
        + "\n"
    )


def golden() -> dict[str, object]:
    return dict(json.loads(GOLDEN.read_text(encoding="utf-8")))


def cases() -> list[dict[str, object]]:
    found = golden()["cases"]
    assert isinstance(found, list)
    return found


def test_golden_vectors(minilm: MiniLM) -> None:
    texts = [str(c["text"]) for c in cases()]
    vectors = minilm.embed(texts)
    if os.environ.get("UPDATE_GOLDEN"):
        data = golden()
        data["model_id"] = minilm.model_id
        data["cases"] = [
            {**case, "vector": [round(float(x), 5) for x in vector]}
            for case, vector in zip(cases(), vectors, strict=True)
        ]
        GOLDEN.write_text(dump(data), encoding="utf-8")
    assert golden()["model_id"] == minilm.model_id == "all-MiniLM-L6-v2/int8-onnx@8199be6f"
    assert vectors.dtype == np.float32
    assert vectors.shape == (4, 384) == (len(texts), minilm.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for case, vector in zip(cases(), vectors, strict=True):
        expected = np.array(case["vector"], dtype=np.float64)
        cosine = float(vector @ expected / np.linalg.norm(expected))
        assert cosine >= 0.999, (case["name"], cosine)


def test_a_topic_is_closer_to_its_own_abstract(minilm: MiniLM) -> None:
    by_name = {str(c["name"]): str(c["text"]) for c in cases()}
    topic, own, other = minilm.embed(
        [by_name["topic"], by_name["abstract_phone_llm"], by_name["abstract_video_diffusion"]]
    )
    assert float(topic @ own) > float(topic @ other) + 0.2


def test_a_vector_does_not_depend_on_its_batch(minilm: MiniLM) -> None:
    """Padding is masked out: a short text padded beside a long one gets its own vector."""
    texts = [str(c["text"]) for c in cases()]
    together = MiniLM.load(batch_size=4).embed(texts)
    alone = np.vstack([minilm.embed([t]) for t in texts])
    assert np.all(np.sum(together * alone, axis=1) >= 0.99999)
    assert minilm.embed([]).shape == (0, 384)


def test_long_texts_are_cut_at_256_tokens(minilm: MiniLM) -> None:
    long = str(cases()[0]["text"])  # 330 tokens: what follows token 256 is not seen
    short = str(cases()[2]["text"])
    tail = " Unrelated words about cooking pasta and tomato sauce."
    vectors = minilm.embed([long, long + tail, short, short + tail, long * 20])
    assert float(vectors[0] @ vectors[1]) >= 0.99999
    assert float(vectors[2] @ vectors[3]) < 0.95  # a short text does see the tail
    assert np.isclose(np.linalg.norm(vectors[4]), 1.0)  # no error past the 512 positions


# -- files that are not the model -------------------------------------------------------------


def damaged_copy(tmp_path: Path, *, truncate: bool = False) -> Path:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(model_files().model, copy)
    with copy.open("r+b") as f:
        if truncate:
            f.truncate(1_000_000)
        else:
            f.seek(5_000_000)
            byte = f.read(1)
            f.seek(5_000_000)
            f.write(bytes([byte[0] ^ 0x01]))
    return copy


def test_a_flipped_byte_is_refused(tmp_path: Path) -> None:
    copy = damaged_copy(tmp_path)
    with pytest.raises(ModelUnavailable, match=r"sha256 .* not the expected 8199be6f699a") as e:
        MiniLM.load(model_files(tmp_path))
    assert e.value.path == str(copy)
    assert "PAPERBOY_MODEL_PATH" in e.value.hint


def test_a_truncated_or_missing_file_is_refused(tmp_path: Path) -> None:
    copy = damaged_copy(tmp_path, truncate=True)
    with pytest.raises(ModelUnavailable, match="sha256"):
        MiniLM.load(model_files(copy))
    with pytest.raises(ModelUnavailable, match="the model file is missing"):
        MiniLM.load(model_files(tmp_path / "nowhere"))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="the vocabulary has sha256"):
        MiniLM.load(ModelFiles(model_files().model, vocab))


def test_the_fallback_is_lexical_and_says_why(
    tmp_path: Path, fresh: None, caplog: pytest.LogCaptureFixture
) -> None:
    damaged_copy(tmp_path)
    choice = ModelChoice(path=tmp_path)
    embedder, reason = load_embedder(choice)
    again, _ = load_embedder(choice)
    assert isinstance(embedder, LexicalEmbedder)
    assert embedder.model_id == "lexical-hash/1"
    assert reason is not None
    assert str(tmp_path / "model.onnx") in reason
    assert "lexical similarity" in reason
    assert again is embedder
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1  # once, not once per call


def test_the_model_is_loaded_once(fresh: None) -> None:
    model, reason = load_embedder(ModelChoice())
    again, _ = load_embedder(ModelChoice())
    assert reason is None
    assert model.model_id.startswith("all-MiniLM-L6-v2/")
    assert again is model


def test_meaning_can_be_switched_off() -> None:
    embedder, reason = load_embedder(ModelChoice(enabled=False))
    assert isinstance(embedder, LexicalEmbedder)
    assert reason == OFF_REASON


# -- the lexical embedder ---------------------------------------------------------------------

LEXICAL_PROBE = """
import sys
from paperboy.semantic.lexical import LexicalEmbedder
vector = LexicalEmbedder().embed([sys.argv[1]])[0]
print(",".join(f"{x:.6f}" for x in vector))
"""


def test_lexical_vectors_are_the_same_in_every_process() -> None:
    text = str(cases()[1]["text"])
    here = LexicalEmbedder().embed([text])[0]
    outputs = [
        subprocess.run(
            [sys.executable, "-c", LEXICAL_PROBE, text],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1]
    there = np.array([float(x) for x in outputs[0].split(",")], dtype=np.float32)
    assert np.allclose(here, there, atol=1e-6)


def test_lexical_similarity_follows_shared_words() -> None:
    embedder = LexicalEmbedder()
    topic, near, far, empty = embedder.embed(
        [
            "video generation with diffusion models",
            "Hierarchical patch diffusion models for high-resolution video generation",
            "Fast large language model inference on a smartphone",
            "the of and",
        ]
    )
    assert embedder.dim == 1024
    assert np.isclose(np.linalg.norm(topic), 1.0)
    assert float(topic @ near) > 0.4 > float(topic @ far)
    assert not empty.any()  # nothing to go by: close to nothing
    assert np.array_equal(
        embedder.embed(["Vidéo Generation"]), embedder.embed(["video generations"])
    )


# -- settings and doctor ----------------------------------------------------------------------


def test_doctor_reports_the_model(tmp_path: Path) -> None:
    good = meaning_check(Settings(_env_file=None))
    assert good.status == "ok", good.detail
    assert "all-MiniLM-L6-v2/int8-onnx@8199be6f: hashes checked" in good.detail
    damaged_copy(tmp_path)
    bad = meaning_check(Settings(_env_file=None, model_path=tmp_path))
    assert bad.status == "warn"
    assert "sha256" in bad.detail
    assert "lexical similarity" in bad.detail
    off = meaning_check(Settings(_env_file=None, semantic="off"))
    assert (off.status, off.detail) == ("warn", OFF_REASON)


def test_doctor_warns_about_a_damaged_model_without_failing(tmp_path: Path) -> None:
    damaged_copy(tmp_path)
    doctor = run(
        tmp_path,
        "doctor",
        PAPERBOY_MAIL_TRANSPORT="null",
        PAPERBOY_HF_BASE_URL="http://127.0.0.1:9",
        PAPERBOY_MODEL_PATH=str(tmp_path / "model.onnx"),
    )
    table = " ".join(doctor.stdout.replace("│", " ").split())
    assert "meaning WARN" in table
    assert "lexical similarity" in table
    assert "meaning" not in doctor.stderr  # not among the failed checks


@pytest.mark.parametrize(
    ("name", "value"), [("SEMANTIC", "maybe"), ("MODEL_THREADS", "0"), ("MODEL_PATH", "a\x01b")]
)
def test_bad_model_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    from paperboy.errors import ConfigError
    from paperboy.settings import load_settings

    monkeypatch.setenv(f"PAPERBOY_{name}", value)
    with pytest.raises(ConfigError, match=f"PAPERBOY_{name}"):
        load_settings(_env_file=None)
