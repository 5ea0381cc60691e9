"""The reference evaluator: one query, one paper, the slow obvious way; the matcher must agree.

Meaning is asked one paper at a time through ``close`` (is this paper close to this want?) and
``held_back`` (is it very close to one the subscriber rejected?); without them an ``about:`` or
``like:`` profile matches nothing, as the matcher does without a ``Meaning``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from paperboy.profiles.ast import (
    About,
    And,
    Compare,
    Feature,
    Field,
    Has,
    Hint,
    Like,
    Metric,
    Node,
    Not,
    Or,
    Term,
    hints_of,
    semantic_atoms,
)
from paperboy.profiles.document import PaperLike
from paperboy.profiles.text import fold, raw_words, words
from paperboy.semantic.closeness import Want

IsClose = Callable[[Want, PaperLike], bool]
IsHeldBack = Callable[[tuple[str, ...], PaperLike], bool]


def matches(
    node: Node,
    paper: PaperLike,
    close: IsClose | None = None,
    *,
    step: int = 0,
    liked: tuple[str, ...] = (),
    rejected: tuple[str, ...] = (),
    hints: tuple[Term, ...] = (),
) -> bool:
    """Does the query hold for the paper (each semantic atom asked as the profile shapes it,
    with the ``~hints`` of the groups around it)?"""

    def holds(child: Node, around: tuple[Term, ...] = hints) -> bool:
        return matches(child, paper, close, step=step, liked=liked, rejected=rejected, hints=around)

    match node:
        case Term():
            return has_term(node, paper)
        case Hint():
            return True  # a hint is never required: it moves its atoms' cut-off
        case About() | Like():
            return close is not None and close(Want(node, step, liked, rejected, hints), paper)
        case Compare(metric, op, value):
            actual = paper.upvotes if metric == Metric.UPVOTES else (paper.github_stars or 0)
            return {
                ">=": actual >= value,
                ">": actual > value,
                "<=": actual <= value,
                "<": actual < value,
                "=": actual == value,
            }[op]
        case Has(what):
            return bool(paper.github_repo if what == Feature.CODE else paper.project_page)
        case Not(child):  # the group's hints are for what it wants, not what it excludes
            return not holds(child, ())
        case And(children):
            mine = hints_of(children, hints)
            return all(holds(c, mine) for c in children)
        case Or(children):
            return any(holds(c) for c in children)
    raise TypeError(node)


def profile_matches(
    node: Node,
    paper: PaperLike,
    close: IsClose | None = None,
    held_back: IsHeldBack | None = None,
    *,
    step: int = 0,
    liked: tuple[str, ...] = (),
    rejected: tuple[str, ...] = (),
) -> bool:
    """A whole profile: its query, or close to a paper it liked; never a paper it rejected,
    nor one very close to a rejected paper; nothing at all for a meaning query without meaning."""
    if close is None and semantic_atoms(node):
        return False
    if paper.arxiv_id in rejected:
        return False
    if rejected and held_back is not None and held_back(rejected, paper):
        return False
    if matches(node, paper, close, step=step, liked=liked, rejected=rejected):
        return True
    return bool(liked) and close is not None and close(liked_want(step, liked, rejected), paper)


def liked_want(step: int, liked: tuple[str, ...], rejected: tuple[str, ...]) -> Want:
    """What "More like this" adds to a profile: papers close to the ones it liked."""
    return Want(Like(liked), step, liked, rejected)


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


def has_term(term: Term, paper: PaperLike) -> bool:
    """Whether a word, prefix or phrase occurs in the paper (in its field): what a term of
    the language means, the slow obvious way."""
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
