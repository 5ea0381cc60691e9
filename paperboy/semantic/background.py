"""The fixed background sample closeness is calibrated against (shipped with the package).

``background.npz`` holds the title and abstract of the 160 papers of the saved Hugging Face
captures (tests/data/hf: daily lists of 2024-03-21, 2024-06-13, 2025-03-04, 2026-05-07/08,
2026-07-02, 2026-07-31, a weekly feed and the "llama 3 herd" search; no relevance labels), and
their all-MiniLM-L6-v2 vectors as float16. An embedder of another model embeds the texts once
instead. Rebuilt by ``python bench/relevance_bench.py --write-background`` (after a model change).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from importlib import resources

import numpy as np

from paperboy.profiles.document import PaperLike
from paperboy.semantic.embedder import Embedder, Vectors

FILE = "background.npz"


def texts_and_vectors() -> tuple[list[str], str, Vectors]:
    """The shipped sample: its texts, the model its vectors were made with, the vectors."""
    data = resources.files("paperboy.semantic").joinpath(FILE).read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        texts = [str(t) for t in npz["texts"]]
        return texts, str(npz["model_id"]), npz["vectors"].astype(np.float32)


def background_for(embedder: Embedder) -> Vectors:
    """The background in ``embedder``'s space: the shipped vectors when the model matches."""
    texts, model_id, vectors = texts_and_vectors()
    if model_id == embedder.model_id:
        return vectors
    return embedder.embed(texts)


def build(papers: Sequence[PaperLike], embedder: Embedder) -> bytes:
    """The bytes of a background file for these papers."""
    from paperboy.semantic.meaning import paper_text

    texts = [paper_text(p) for p in papers]
    out = io.BytesIO()
    np.savez_compressed(
        out,
        ids=np.array([p.arxiv_id for p in papers]),
        texts=np.array(texts),
        model_id=np.array(embedder.model_id),
        vectors=embedder.embed(texts).astype(np.float16),
    )
    return out.getvalue()
