"""The seam between Paperboy and a sentence-embedding model.

Everything that needs meaning takes an ``Embedder``: the local MiniLM model
(paperboy.semantic.minilm), or the lexical fallback used when the model cannot be loaded
(paperboy.semantic.lexical). Vectors are float32, one row per text, L2-normalised, so a dot
product is the cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into unit vectors of ``dim`` numbers; ``model_id`` names the model and
    version, and is stored beside every vector and every closeness setting."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text (shape ``(len(texts), dim)``)."""
        ...
