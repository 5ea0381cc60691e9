"""Turn a query tree into a fast predicate over an analysed paper, plus the words that anchor it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from paperboy.profiles.ast import And, Compare, Field, Has, Node, Not, Or, Term, positive_terms
from paperboy.profiles.document import ANY_FIELDS, Document
from paperboy.profiles.text import fold, words

Predicate = Callable[[Document], bool]
# An anchor is a word ("w", word) or a prefix ("p", prefix): a profile can only match a paper
# that contains at least one of its anchors, so only those profiles are evaluated.
Anchor = tuple[str, str]

_COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}
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
    words: tuple[str, ...]
    fields: tuple[Field, ...]

    @classmethod
    def of(cls, term: Term) -> Probe:
        fields = ANY_FIELDS if term.field is Field.ANY else (term.field,)
        found = (fold(term.text),) if term.prefix else tuple(words(term.text))
        return cls(term=term, words=found, fields=fields)

    def fields_hit(self, doc: Document) -> list[Field]:
        return [f for f in self.fields if self._in(doc, f)]

    def _in(self, doc: Document, field: Field) -> bool:
        text = doc.fields[field]
        if self.term.prefix:
            return text.has_prefix(self.words[0])
        if len(self.words) == 1:
            return text.has(self.words[0])
        return text.has_phrase(self.words)

    def predicate(self) -> Predicate:
        if not self.words:  # a term of punctuation only can never match
            return lambda doc: False
        if not self.term.prefix and len(self.words) == 1:
            word = self.words[0]
            if self.term.field is Field.ANY:
                return lambda doc: word in doc.any_words
            field = self.term.field
            return lambda doc: word in doc.fields[field].positions
        return lambda doc: any(self._in(doc, f) for f in self.fields)

    def anchor(self) -> Anchor | None:
        if not self.words:
            return None
        if self.term.prefix:
            return ("p", self.words[0])
        return ("w", max(self.words, key=len))  # the longest word is usually the rarest


def compile_query(node: Node) -> Predicate:
    match node:
        case Term():
            return Probe.of(node).predicate()
        case Compare(metric, op, value):
            compare = _COMPARE[op]
            if metric == "upvotes":
                return lambda doc: compare(doc.upvotes, value)
            return lambda doc: compare(doc.stars, value)
        case Has(what):
            if what == "code":
                return lambda doc: doc.has_code
            return lambda doc: doc.has_project
        case Not(child):
            inner = compile_query(child)
            return lambda doc: not inner(doc)
        case And(children):
            parts = tuple(compile_query(c) for c in children)
            return lambda doc: all(p(doc) for p in parts)
        case Or(children):
            parts = tuple(compile_query(c) for c in children)
            return lambda doc: any(p(doc) for p in parts)
    raise TypeError(f"not a query node: {node!r}")


def anchors(node: Node) -> frozenset[Anchor] | None:
    """Anchors such that every matching paper contains one; None if it can match without any."""
    match node:
        case Term():
            anchor = Probe.of(node).anchor()
            return frozenset({anchor}) if anchor else frozenset()  # empty: it never matches
        case And(children):
            options = [a for a in (anchors(c) for c in children) if a is not None]
            return min(options, key=len) if options else None
        case Or(children):
            union: set[Anchor] = set()
            for child in children:
                child_anchors = anchors(child)
                if child_anchors is None:
                    return None
                union |= child_anchors
            return frozenset(union)
    return None  # NOT and filters hold for papers without any particular word


def probes(node: Node) -> tuple[Probe, ...]:
    """The positive terms, deduplicated, for explaining a match."""
    return tuple(Probe.of(t) for t in dict.fromkeys(positive_terms(node)))
