"""The embeddings repository: one float16 vector per (paper, model), with the hash of its text.

Vectors cross this boundary as float32 unit rows (numpy); they are stored as float16 bytes
(768 B for 384 numbers), half the size, and a cosine off by less than 1e-3. Which papers still
need a vector is read in pages keyed on the arXiv id, so a backfill of 100,000 papers never
holds their texts in memory, and each page is its own short read (a writer is never blocked).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from base.errors import StoreError
from store.base import Repository
from store.batching import chunks
from store.errors import VectorsNotKept
from store.tables import EMBEDDINGS, PAPERS, PROFILES, SUBSCRIBERS
from store.types import Status

STORED = np.dtype("<f2")  # little-endian float16, whatever the machine
PAGE = 500  # papers per read when looking for missing vectors; ids per IN (...) clause

FloatRow = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PaperText:
    """What a vector is computed from: a paper's id, title and abstract (or, lacking one, the
    AI summary)."""

    arxiv_id: str
    title: str
    summary: str | None
    ai_summary: str | None = None


@dataclass(frozen=True, slots=True)
class StoredVector:
    """A stored vector (float32, unit length) and the hash of the text it was computed from."""

    text_hash: str
    vector: FloatRow


@dataclass(frozen=True, slots=True)
class NewVector:
    """Intent: this paper's vector for ``model``, computed from the text hashed ``text_hash``."""

    arxiv_id: str
    model: str
    text_hash: str
    vector: FloatRow


def encode(vector: FloatRow) -> bytes:
    """float16 bytes of a vector."""
    return np.asarray(vector, dtype=STORED).tobytes()


def decode(data: bytes) -> FloatRow:
    """The float32 unit vector back from float16 bytes (renormalised: rounding moved its length
    by ~1e-4, and a dot product must stay a cosine)."""
    vector = np.frombuffer(data, dtype=STORED).astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class VectorStore(Repository):
    """Vectors per (paper, model) on SQLite or PostgreSQL."""

    _write_hint = ""  # only the database's own hint: what to run next is the CLI's (hints)

    def get(self, arxiv_ids: Sequence[str], model: str) -> dict[str, StoredVector]:
        """The stored vectors of ``model`` among ``arxiv_ids`` (ids without one are left out)."""
        found: dict[str, StoredVector] = {}
        unique = list(dict.fromkeys(arxiv_ids))
        for chunk in chunks(unique, PAGE):
            query = select(
                EMBEDDINGS.c.arxiv_id, EMBEDDINGS.c.text_hash, EMBEDDINGS.c.vector
            ).where(
                EMBEDDINGS.c.model == model,
                EMBEDDINGS.c.arxiv_id.in_(chunk),
            )
            for row in self._rows(query):
                found[row.arxiv_id] = StoredVector(row.text_hash, decode(bytes(row.vector)))
        return found

    def texts(self, arxiv_ids: Sequence[str]) -> list[PaperText]:
        """The stored title and abstract of these papers (unknown ids left out), in id order."""
        found: list[PaperText] = []
        unique = list(dict.fromkeys(arxiv_ids))
        for chunk in chunks(unique, PAGE):
            query = select(*_TEXT).where(PAPERS.c.arxiv_id.in_(chunk))
            found.extend(_text(r) for r in self._rows(query))
        return sorted(found, key=lambda t: t.arxiv_id)

    def put_many(self, vectors: Sequence[NewVector], now: datetime) -> int:
        """Insert or replace these vectors, all in one transaction; returns how many were stored.

        A vector of a paper the store does not hold (a paper only previewed) is skipped, not an
        error: the foreign key would refuse the whole batch. (Papers are never deleted, so the
        ones found at the start of the transaction are still there at its end.)
        """
        if not vectors:
            return 0
        latest = {(v.arxiv_id, v.model): v for v in vectors}  # one row per key: the last wins
        try:
            return self._put(list(latest.values()), now)
        except StoreError as e:  # typed: the CLI says to run `paperboy embed` (cli/hints.py)
            raise VectorsNotKept(e.message, hint=e.hint) from e

    def _put(self, latest: Sequence[NewVector], now: datetime) -> int:
        with self._begin() as connection:
            known = _known(connection, [v.arxiv_id for v in latest])
            rows = [
                {
                    "arxiv_id": v.arxiv_id,
                    "model": v.model,
                    "text_hash": v.text_hash,
                    "vector": encode(v.vector),
                    "created_at": now,
                }
                for v in latest
                if v.arxiv_id in known
            ]
            if rows:
                connection.execute(_upsert(connection), rows)
        return len(rows)

    def pending(
        self, model: str, text_hash_of: Callable[[PaperText], str], *, page: int = PAGE
    ) -> Iterator[PaperText]:
        """Papers with no vector of ``model``, or one computed from another text, in arXiv id
        order; read ``page`` papers at a time, each page its own short read."""
        after = ""
        while True:
            rows = self._rows(_page(model, after, page))
            for row in rows:
                text = _text(row)
                if row.text_hash is None or row.text_hash != text_hash_of(text):
                    yield text
            if len(rows) < page:
                return
            after = rows[-1].arxiv_id

    def missing(
        self, model: str, text_hash_of: Callable[[PaperText], str], *, page: int = PAGE
    ) -> Iterator[str]:
        """The ids of ``pending`` papers."""
        return (text.arxiv_id for text in self.pending(model, text_hash_of, page=page))

    def count(self, model: str) -> int:
        """How many vectors of ``model`` are stored (current or not)."""
        query = select(func.count()).select_from(EMBEDDINGS).where(EMBEDDINGS.c.model == model)
        return int(self._rows(query)[0][0])

    def topic_queries(self, limit: int = 1000) -> list[str]:
        """Queries of active subscribers' profiles that mention ``about:`` or ``like:`` (a
        cheap text test: the caller parses them to be sure)."""
        lowered = func.lower(PROFILES.c.query)
        query = (
            select(PROFILES.c.query)
            .join(SUBSCRIBERS, SUBSCRIBERS.c.id == PROFILES.c.subscriber_id)
            .where(
                SUBSCRIBERS.c.status == Status.ACTIVE,
                or_(lowered.contains("about:"), lowered.contains("like:")),
            )
            .order_by(PROFILES.c.id)
            .limit(limit)
        )
        return [row.query for row in self._rows(query)]


_TEXT = (PAPERS.c.arxiv_id, PAPERS.c.title, PAPERS.c.summary, PAPERS.c.ai_summary)


def _text(row: Any) -> PaperText:
    return PaperText(row.arxiv_id, row.title, row.summary, row.ai_summary)


def _known(connection: Connection, ids: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for chunk in chunks(ids, PAGE):
        known.update(
            connection.execute(
                select(PAPERS.c.arxiv_id).where(PAPERS.c.arxiv_id.in_(chunk))
            ).scalars()
        )
    return known


_upserts: dict[str, Any] = {}  # one statement per dialect: building one took ~7 ms a batch


def _upsert(connection: Connection) -> Any:
    dialect = connection.dialect.name
    if dialect not in _upserts:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(EMBEDDINGS)
        new = statement.excluded
        _upserts[dialect] = statement.on_conflict_do_update(
            index_elements=["arxiv_id", "model"],
            set_={name: new[name] for name in ("text_hash", "vector", "created_at")},
        )
    return _upserts[dialect]


def _page(model: str, after: str, size: int) -> Select[Any]:
    """One page of papers after ``after`` with the hash of their ``model`` vector (or None)."""
    joined = PAPERS.outerjoin(
        EMBEDDINGS,
        and_(EMBEDDINGS.c.arxiv_id == PAPERS.c.arxiv_id, EMBEDDINGS.c.model == model),
    )
    return (
        select(*_TEXT, EMBEDDINGS.c.text_hash)
        .select_from(joined)
        .where(PAPERS.c.arxiv_id > after)
        .order_by(PAPERS.c.arxiv_id)
        .limit(size)
    )
