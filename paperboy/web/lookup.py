"""A query over the shelf's index: which papers match, how many, and the best few with the
terms they were found by (for highlighting).

The whole shelf is indexed once (paperboy.web.library); a query is then a few integer operations
on that index, evaluated and ranked as paperboy.profiles.matcher does a batch (tests/
test_search_page.py holds the two to the same answers). Anything this module cannot evaluate
alone (``about:``/``like:``, which need meaning) goes to the Matcher over the range's papers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from paperboy.profiles.ast import And, Compare, Has, Node, Not, Or, Term, to_query
from paperboy.profiles.compiler import FIELD_WEIGHT, Probe, probes
from paperboy.profiles.index import PaperIndex, bits
from paperboy.profiles.matcher import Hit, Match, Matcher, ProfileSpec, ranked
from paperboy.web.library import Index
from store.types import Paper

_LEVELS = sorted(set(FIELD_WEIGHT.values()), reverse=True)


@dataclass(frozen=True, slots=True)
class Found:
    total: int  # how many papers of the range match
    best: tuple[tuple[Paper, tuple[Hit, ...]], ...]  # the best, in digest order, with hits

    @classmethod
    def of(cls, every: Sequence[Match], shown: int) -> Found:
        best = tuple((cast(Paper, m.paper), m.hits) for m in every[:shown])
        return cls(len(every), best)


def matches(query: str, papers: Sequence[Paper]) -> list[Match]:
    """Every paper of ``papers`` that ``query`` matches, best first (the Matcher alone)."""
    return ranked(Matcher([ProfileSpec(0, 0, "preview", query)]).match(papers))


def find(query: str, node: Node, index: Index, within: range, shown: int) -> Found:
    """The papers at positions ``within`` of the index's shelf that ``node`` (the parsed
    ``query``) matches: their number and the best ``shown``."""
    papers = index.shelf.papers
    ix = index.use()
    mask = evaluate(node, ix)
    if mask is None:
        return Found.of(matches(query, papers[within.start : within.stop]), shown)
    mask &= (1 << within.stop) - (1 << within.start)
    terms = probes(node)
    top = _best(mask, terms, ix, papers, shown)
    return Found(mask.bit_count(), tuple((papers[b], _hits(terms, ix, b)) for b in top))


def evaluate(node: Node, index: PaperIndex) -> int | None:
    """The papers ``node`` matches, as a bitset; None for a node only the Matcher knows."""
    match node:
        case Term():
            return index.term(Probe.of(node))
        case And(children) | Or(children):
            found = index.everything if isinstance(node, And) else 0
            for child in children:
                part = evaluate(child, index)
                if part is None:
                    return None
                found = found & part if isinstance(node, And) else found | part
            return found
        case Not(child):
            inner = evaluate(child, index)
            return None if inner is None else index.everything & ~inner
        case Compare(metric, op, value):
            return index.compare(metric, op, value)
        case Has(what):
            return index.has(what)
    return None


def _hits(terms: tuple[Probe, ...], index: PaperIndex, bit: int) -> tuple[Hit, ...]:
    """The terms found in paper ``bit``, one hit per field (as Match.hits)."""
    return tuple(
        Hit(to_query(probe.term), name, probe.words, probe.term.prefix)
        for probe in terms
        for name, mask in index.term_by_field(probe).items()
        if mask >> bit & 1
    )


def _best(
    mask: int, terms: tuple[Probe, ...], index: PaperIndex, papers: Sequence[Paper], shown: int
) -> list[int]:
    """The positions of the ``shown`` best papers in ``mask``, in the Matcher's order: each term
    counts the weight of the best field it was found in, then upvotes, newer, id."""
    score = dict.fromkeys(bits(mask), 0)
    by_term: dict[str, list[Probe]] = {}
    for probe in terms:
        by_term.setdefault(to_query(probe.term), []).append(probe)
    for found in by_term.values():
        left = mask
        for level in _LEVELS:
            here = 0
            for probe in found:
                for name, field_mask in index.term_by_field(probe).items():
                    if FIELD_WEIGHT[name] == level:
                        here |= field_mask
            here &= left
            left &= ~here
            for bit in bits(here):
                score[bit] += level

    def order(bit: int) -> tuple[int, int, float, str]:
        paper = papers[bit]
        published = paper.published_at.timestamp() if paper.published_at else 0.0
        return (-score[bit], -paper.upvotes, -published, paper.arxiv_id)

    return sorted(score, key=order)[:shown]


__all__ = ["Found", "evaluate", "find", "matches"]
