"""Query terms ready to test: each term's analysed words, the fields it looks in, its weight."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from paperboy.profiles.ast import Field, Node, Term, positive_terms
from paperboy.profiles.document import ANY_FIELDS
from paperboy.profiles.text import fold, words

# Match strength: a term counts the weight of the best field it was found in.
FIELD_WEIGHT = {
    Field.TITLE: 3,
    Field.KEYWORD: 2,
    Field.AUTHOR: 2,
    Field.ORG: 2,
    Field.ABSTRACT: 1,
}


@dataclass(frozen=True, slots=True)
class Probe:
    """One term, ready to test: its words (or prefix) and the fields it looks in."""

    term: Term
    words: tuple[str, ...]  # plural-folded words; for a prefix, the folded prefix alone
    fields: tuple[Field, ...]

    @classmethod
    def of(cls, term: Term) -> Probe:
        return _probe(term)

    @property
    def key(self) -> tuple[tuple[Field, ...], tuple[str, ...], bool]:
        """Terms that test the same thing share one key (and one evaluation per batch)."""
        return (self.fields, self.words, self.term.prefix)


@lru_cache(maxsize=65536)
def _probe(term: Term) -> Probe:
    fields = ANY_FIELDS if term.field is Field.ANY else (term.field,)
    found = (fold(term.text),) if term.prefix else tuple(words(term.text))
    return Probe(term=term, words=found, fields=fields)


def probes(node: Node) -> tuple[Probe, ...]:
    """The positive terms of a query, deduplicated, for explaining a match."""
    return tuple(Probe.of(t) for t in dict.fromkeys(positive_terms(node)))
