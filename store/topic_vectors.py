"""Topic vectors: one float16 vector per (topic text, model), keyed by the text's sha256.

Embedding every profile's ``about:`` text again in each cold process costs seconds for 10,000
profiles; read back from here it costs one query. The vectors are a cache: a row lost or never
written only means the text is embedded again. Stored like paper vectors (store.vectors): float16
bytes, read back as float32 unit rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from store.base import Repository
from store.batching import chunks
from store.tables import TOPIC_VECTORS
from store.vectors import PAGE, FloatRow, decode, encode


class TopicVectorStore(Repository):
    """Vectors per (topic text hash, model) on SQLite or PostgreSQL (meaning.TopicVectors)."""

    _write_hint = "these topic vectors were not kept; they are computed again when needed"

    def get_many(self, model: str, text_hashes: Sequence[str]) -> dict[str, FloatRow]:
        """The stored vectors of ``model`` among ``text_hashes`` (unknown hashes left out)."""
        found: dict[str, FloatRow] = {}
        unique = list(dict.fromkeys(text_hashes))
        for chunk in chunks(unique, PAGE):
            query = select(TOPIC_VECTORS.c.text_hash, TOPIC_VECTORS.c.vector).where(
                TOPIC_VECTORS.c.model == model,
                TOPIC_VECTORS.c.text_hash.in_(chunk),
            )
            for row in self._rows(query):
                found[row.text_hash] = decode(bytes(row.vector))
        return found

    def put_many(self, model: str, vectors: Mapping[str, FloatRow], now: datetime) -> int:
        """Insert or replace these vectors (by text hash) in one transaction; how many."""
        if not vectors:
            return 0
        rows = [
            {"text_hash": key, "model": model, "vector": encode(row), "created_at": now}
            for key, row in vectors.items()
        ]
        with self._begin() as connection:
            for chunk in chunks(rows, PAGE):
                connection.execute(_upsert(connection), chunk)
        return len(rows)


_upserts: dict[str, Any] = {}  # one statement per dialect


def _upsert(connection: Connection) -> Any:
    dialect = connection.dialect.name
    if dialect not in _upserts:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(TOPIC_VECTORS)
        new = statement.excluded
        _upserts[dialect] = statement.on_conflict_do_update(
            index_elements=["text_hash", "model"],
            set_={name: new[name] for name in ("vector", "created_at")},
        )
    return _upserts[dialect]
