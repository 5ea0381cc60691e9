"""The parsed form of a profile query, and its canonical printed form (which parses back)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Field(StrEnum):
    """Where a term may match. ``ANY`` is title, abstract, AI summary and AI keywords."""

    ANY = "any"
    TITLE = "title"
    ABSTRACT = "abstract"
    AUTHOR = "author"
    ORG = "org"
    KEYWORD = "keyword"


class Metric(StrEnum):
    """What ``upvotes>=N`` / ``stars>=N`` compare."""

    UPVOTES = "upvotes"
    STARS = "stars"  # of the paper's GitHub repository


class Feature(StrEnum):
    """What ``has:`` asks for."""

    CODE = "code"  # a GitHub repository
    PROJECT = "project"  # a project page


@dataclass(frozen=True, slots=True)
class Term:
    """A word, a trailing-* prefix, or a quoted phrase, optionally limited to one field."""

    text: str  # as written (without quotes or the trailing *)
    field: Field = Field.ANY
    phrase: bool = False  # written in quotes
    prefix: bool = False  # written with a trailing *


@dataclass(frozen=True, slots=True)
class Compare:
    """``upvotes>=N`` or ``stars>=N`` (also >, <=, <, =)."""

    metric: Metric
    op: str  # >= > <= < =
    value: int


@dataclass(frozen=True, slots=True)
class Has:
    """``has:code`` (a GitHub repository) or ``has:project`` (a project page)."""

    what: Feature


@dataclass(frozen=True, slots=True)
class About:
    """``about:"a topic in plain words"``: papers whose meaning is close to the text."""

    text: str


@dataclass(frozen=True, slots=True)
class Like:
    """``like:2407.21783`` (or ``like:2407.21783,2501.00001``): papers close to these."""

    arxiv_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Hint:
    """``~word``, ``~prefix*`` or ``~"a phrase"`` beside an ``about:`` or ``like:`` (in the same
    group): not required, a hint of what the topic is about. A paper with the hint needs less
    closeness, one without it more (paperboy.semantic.score ``hint_bonus``, ``k_hinted``)."""

    term: Term


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Semantic = About | Like
Node = Term | Compare | Has | About | Like | Hint | Not | And | Or

METRICS = tuple(Metric)
HAS = tuple(Feature)
OPERATORS = (">=", "<=", ">", "<", "=")


def to_query(node: Node) -> str:
    """The canonical text of a query; ``parse(to_query(q)) == q`` for every parsed query."""
    return _print(node, parent=None)


def _print(node: Node, parent: type | None) -> str:
    match node:
        case Term():
            return _term(node)
        case Compare(metric, op, value):
            return f"{metric}{op}{value}"
        case Has(what):
            return f"has:{what}"
        case About(text):
            return f'about:"{text}"'
        case Like(arxiv_ids):
            return "like:" + ",".join(arxiv_ids)
        case Hint(term):
            return "~" + _term(term)
        case Not(child):
            return "NOT " + _print(child, Not)
        case And(children):
            text = " ".join(_print(c, And) for c in children)
            # an AND inside an AND is a group with its own ~hints (the parser keeps it apart)
            return f"({text})" if parent in (Not, And) else text
        case Or(children):
            text = " OR ".join(_print(c, Or) for c in children)
            return f"({text})" if parent in (Not, And) else text
    raise TypeError(f"not a query node: {node!r}")


def _term(term: Term) -> str:
    prefix = "" if term.field is Field.ANY else f"{term.field.value}:"
    if term.phrase:
        return f'{prefix}"{term.text}"'
    return f"{prefix}{term.text}{'*' if term.prefix else ''}"


def positive_terms(node: Node) -> list[Term]:
    """Terms that count in favour of a match (not under a NOT), hints too: what emails
    highlight."""
    match node:
        case Term():
            return [node]
        case Hint(term):
            return [term]
        case And(children) | Or(children):
            return [t for c in children for t in positive_terms(c)]
    return []


def semantic_atoms(node: Node) -> list[Semantic]:
    """Every ``about:`` and ``like:`` of a query, under a NOT or not, in query order."""
    match node:
        case About() | Like():
            return [node]
        case Not(child):
            return semantic_atoms(child)
        case And(children) | Or(children):
            return [a for c in children for a in semantic_atoms(c)]
    return []


def positive_semantic(node: Node) -> list[Semantic]:
    """The ``about:`` and ``like:`` atoms not under a NOT: what ranks a match and says why."""
    match node:
        case About() | Like():
            return [node]
        case And(children) | Or(children):
            return [a for c in children for a in positive_semantic(c)]
    return []


def hinted_semantic(node: Node) -> list[tuple[Semantic, tuple[Term, ...]]]:
    """``positive_semantic`` with each atom's hints: the ``~terms`` of every group (AND) it
    sits in, outermost first (``about:"x" (like:1 OR about:"y" ~a) ~b``: x with b, the like:
    with b, y with b and a)."""
    return _hinted(node, ())


def _hinted(node: Node, hints: tuple[Term, ...]) -> list[tuple[Semantic, tuple[Term, ...]]]:
    match node:
        case About() | Like():
            return [(node, hints)]
        case And(children):
            mine = hints_of(children, hints)
            return [a for c in children for a in _hinted(c, mine)]
        case Or(children):
            return [a for c in children for a in _hinted(c, hints)]
    return []


def hints_of(children: tuple[Node, ...], outer: tuple[Term, ...] = ()) -> tuple[Term, ...]:
    """The hints a group's atoms take: those of the groups around it, then its own ``~terms``
    (each once)."""
    own = tuple(c.term for c in children if isinstance(c, Hint))
    return tuple(dict.fromkeys((*outer, *own))) if own else outer
