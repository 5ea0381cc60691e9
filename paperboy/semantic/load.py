"""Which Embedder a process uses: the model once loaded and kept, or the lexical fallback and why.

Loading verifies ~23 MB of hashes and builds an onnxruntime session (about a second), so the
model is loaded once per process and per (files, threads); a failure is remembered as well, and
logged as a warning once, so a run without the model neither retries on every batch nor fills
the log.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paperboy.errors import ModelUnavailable
from paperboy.semantic.embedder import Embedder
from paperboy.semantic.lexical import LexicalEmbedder
from paperboy.semantic.minilm import BATCH, MiniLM, model_files

if TYPE_CHECKING:
    from paperboy.settings import Settings

log = logging.getLogger(__name__)

OFF_REASON = "PAPERBOY_SEMANTIC=off: about: and like: use lexical similarity"


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """What the settings ask for (paperboy.settings: semantic, model_path, model_threads)."""

    enabled: bool = True
    path: Path | None = None
    threads: int = 1
    batch_size: int = BATCH


def model_choice(settings: Settings) -> ModelChoice:
    """The choice the operator's settings make."""
    return ModelChoice(settings.semantic == "on", settings.model_path, settings.model_threads)


_loaded: dict[ModelChoice, tuple[Embedder, str | None]] = {}
_lock = threading.Lock()


def load_embedder(choice: ModelChoice = ModelChoice()) -> tuple[Embedder, str | None]:
    """The model, with None; or the lexical embedder with the reason the model is not used."""
    if not choice.enabled:
        return LexicalEmbedder(), OFF_REASON
    with _lock:
        if choice not in _loaded:
            _loaded[choice] = _load(choice)
        return _loaded[choice]


def _load(choice: ModelChoice) -> tuple[Embedder, str | None]:
    try:
        files = model_files(choice.path)
        model = MiniLM.load(files, threads=choice.threads, batch_size=choice.batch_size)
    except ModelUnavailable as e:
        reason = f"{e.message} ({e.hint})"
        log.warning("%s", reason)
        return LexicalEmbedder(), reason
    return model, None


def forget_loaded() -> None:
    """Drop the loaded models (tests, and a doctor run after the files were repaired)."""
    with _lock:
        _loaded.clear()
