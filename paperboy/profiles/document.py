"""A paper analysed once for matching: its words per field, and the numbers filters look at."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from paperboy.profiles.ast import Field
from paperboy.profiles.text import raw_words, singular

# Fields a bare term (no field: prefix) may match in.
ANY_FIELDS = (Field.TITLE, Field.ABSTRACT, Field.KEYWORD)


class PaperLike(Protocol):
    """What matching reads of a paper (stored Paper and ScrapedPaper both have it)."""

    @property
    def arxiv_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str | None: ...
    @property
    def ai_summary(self) -> str | None: ...
    @property
    def authors(self) -> Sequence[str]: ...
    @property
    def organization(self) -> str | None: ...
    @property
    def organization_slug(self) -> str | None: ...
    @property
    def ai_keywords(self) -> Sequence[str]: ...
    @property
    def upvotes(self) -> int: ...
    @property
    def github_stars(self) -> int | None: ...
    @property
    def github_repo(self) -> str | None: ...
    @property
    def project_page(self) -> str | None: ...
    @property
    def published_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class FieldText:
    """One field's words; separate values (two authors) are split by a gap no phrase spans."""

    spaced: str  # " w1 w2  w3 ": the plural-folded words, one space apart, two at a gap
    # Distinct words as tuples (a fifth of a frozenset's memory; the index only iterates them):
    raw: tuple[str, ...]  # folded words before plural folding, for prefixes
    vocabulary: tuple[str, ...]  # plural-folded words (no gap)

    @property
    def words(self) -> tuple[str, ...]:
        """The plural-folded words; "" marks the gap between values."""
        inner = self.spaced[1:-1]
        return tuple(inner.split(" ")) if inner else ()

    def has_phrase(self, phrase: Sequence[str]) -> bool:
        # Words never hold a space: the phrase stands in the field exactly when its words, one
        # space apart and spaced at both ends, are a substring (found in C, no positions kept).
        return f" {' '.join(phrase)} " in self.spaced


@dataclass(frozen=True, slots=True)
class Document:
    paper: PaperLike
    fields: dict[Field, FieldText]
    upvotes: int
    stars: int
    has_code: bool
    has_project: bool


def analyse(paper: PaperLike) -> Document:
    """Tokenise a paper once; the matcher evaluates every candidate profile on the result.

    The words of a paper seen lately with the same id and the same texts are reused (a bounded
    cache, ``_ANALYSED``): batches that share papers (the dispatch, the pages' shelf, a re-run)
    analyse each only once. The numbers (upvotes, stars, links) are always read afresh.
    """
    authors, keywords = paper.authors, paper.ai_keywords
    key = (
        paper.arxiv_id,
        paper.title,
        paper.summary,
        paper.ai_summary,
        authors if isinstance(authors, tuple) else tuple(authors),
        paper.organization,
        paper.organization_slug,
        keywords if isinstance(keywords, tuple) else tuple(keywords),
    )
    fields = _ANALYSED.get(key)
    if fields is None:
        fields = {
            Field.TITLE: _field_text((key[1],)),
            Field.ABSTRACT: _field_text((key[2], key[3])),
            Field.AUTHOR: _field_text(key[4]),
            Field.ORG: _field_text((key[5], key[6])),
            Field.KEYWORD: _field_text(key[7]),
        }
        _ANALYSED.put(key, fields)
    return Document(
        paper=paper,
        fields=fields,
        upvotes=paper.upvotes,
        stars=paper.github_stars or 0,
        has_code=bool(paper.github_repo),
        has_project=bool(paper.project_page),
    )


def _field_text(texts: Iterable[str | None]) -> FieldText:
    sequence: list[str] = []
    raw: set[str] = set()
    for text in texts:
        if not text:
            continue
        found = raw_words(text)
        if sequence:
            sequence.append("")
        sequence.extend(map(singular, found))
        raw.update(found)
    vocabulary = set(sequence)
    vocabulary.discard("")
    return FieldText(spaced=f" {' '.join(sequence)} ", raw=tuple(raw), vocabulary=tuple(vocabulary))


class _Recent:
    """A bounded least-recently-used map from a paper's id and texts to its analysed fields
    (the fields are never changed once made, so sharing them between Documents is safe)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._found: OrderedDict[Hashable, dict[Field, FieldText]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> dict[Field, FieldText] | None:
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
            return found

    def put(self, key: Hashable, fields: dict[Field, FieldText]) -> None:
        with self._lock:
            self._found[key] = fields
            self._found.move_to_end(key)
            while len(self._found) > self.size:
                self._found.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._found.clear()

    def __len__(self) -> int:
        return len(self._found)


# Some weeks of papers; a paper's fields take ~16 KiB (measured on tests/data/hf's): ~32 MiB.
_ANALYSED = _Recent(2048)
