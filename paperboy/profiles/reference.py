"""The reference evaluator: one query, one paper, the slow obvious way; the matcher must agree."""

from __future__ import annotations

from collections.abc import Iterable

from paperboy.profiles.ast import And, Compare, Field, Has, Node, Not, Or, Term
from paperboy.profiles.document import PaperLike
from paperboy.profiles.text import fold, raw_words, words


def matches(node: Node, paper: PaperLike) -> bool:
    match node:
        case Term():
            return _term(node, paper)
        case Compare(metric, op, value):
            actual = paper.upvotes if metric == "upvotes" else (paper.github_stars or 0)
            return {
                ">=": actual >= value,
                ">": actual > value,
                "<=": actual <= value,
                "<": actual < value,
                "=": actual == value,
            }[op]
        case Has(what):
            return bool(paper.github_repo if what == "code" else paper.project_page)
        case Not(child):
            return not matches(child, paper)
        case And(children):
            return all(matches(c, paper) for c in children)
        case Or(children):
            return any(matches(c, paper) for c in children)
    raise TypeError(node)


def _values(paper: PaperLike, field: Field) -> Iterable[str | None]:
    if field is Field.ANY:
        return (paper.title, paper.summary, paper.ai_summary, *paper.ai_keywords)
    return {
        Field.TITLE: (paper.title,),
        Field.ABSTRACT: (paper.summary, paper.ai_summary),
        Field.AUTHOR: tuple(paper.authors),
        Field.ORG: (paper.organization, paper.organization_slug),
        Field.KEYWORD: tuple(paper.ai_keywords),
    }[field]


def _term(term: Term, paper: PaperLike) -> bool:
    for value in _values(paper, term.field):
        if not value:
            continue
        if term.prefix:
            if any(w.startswith(fold(term.text)) for w in raw_words(value)):
                return True
            continue
        wanted, have = words(term.text), words(value)
        if wanted and any(
            have[i : i + len(wanted)] == wanted for i in range(len(have) - len(wanted) + 1)
        ):
            return True
    return False
