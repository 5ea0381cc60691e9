"""A paper analysed once for matching: its words per field, and the numbers filters look at."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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

    words: tuple[str, ...]  # plural-folded; "" marks the gap between values
    raw: frozenset[str]  # folded words before plural folding, for prefixes
    positions: dict[str, tuple[int, ...]]

    def has_phrase(self, phrase: Sequence[str]) -> bool:
        first, rest = phrase[0], phrase[1:]
        for start in self.positions.get(first, ()):
            end = start + len(phrase)
            if end <= len(self.words) and tuple(self.words[start + 1 : end]) == tuple(rest):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Document:
    paper: PaperLike
    fields: dict[Field, FieldText]
    upvotes: int
    stars: int
    has_code: bool
    has_project: bool


def analyse(paper: PaperLike) -> Document:
    """Tokenise a paper once; the matcher evaluates every candidate profile on the result."""
    values: dict[Field, Iterable[str | None]] = {
        Field.TITLE: (paper.title,),
        Field.ABSTRACT: (paper.summary, paper.ai_summary),
        Field.AUTHOR: paper.authors,
        Field.ORG: (paper.organization, paper.organization_slug),
        Field.KEYWORD: paper.ai_keywords,
    }
    fields = {field: _field_text(texts) for field, texts in values.items()}
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
        sequence.extend(singular(w) for w in found)
        raw.update(found)
    positions: dict[str, list[int]] = {}
    for index, word in enumerate(sequence):
        if word:
            positions.setdefault(word, []).append(index)
    return FieldText(
        words=tuple(sequence),
        raw=frozenset(raw),
        positions={w: tuple(p) for w, p in positions.items()},
    )
