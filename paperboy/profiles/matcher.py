"""Match many papers against every active profile at once, and say why each match was made.

All profiles are compiled once into an inverted index from anchor words (and prefixes) to
profiles; each paper is analysed once, and only profiles anchored in its words are evaluated.
No subscribers x papers loop, no giant regular expression.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from paperboy.errors import ProfileSyntaxError
from paperboy.profiles.ast import Field, Term, to_query
from paperboy.profiles.compiler import (
    FIELD_WEIGHT,
    Predicate,
    Probe,
    anchors,
    compile_query,
    probes,
)
from paperboy.profiles.document import Document, PaperLike, analyse
from paperboy.profiles.parser import MIN_PREFIX, parse

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """A stored profile, as the matcher needs it."""

    profile_id: int
    subscriber_id: int
    name: str
    query: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One term of the profile found in one field of the paper."""

    term: str  # the term as the query prints it (title:"neural radiance", diffus*)
    field: Field
    words: tuple[str, ...]  # the analysed words, for highlighting


@dataclass(frozen=True, slots=True)
class Match:
    """A paper that one subscriber's profile matched, and why."""

    paper: PaperLike
    subscriber_id: int
    profile_id: int
    profile_name: str
    hits: tuple[Hit, ...]
    score: int  # match strength: each term that hit counts its best field's weight


@dataclass(frozen=True, slots=True)
class _Compiled:
    spec: ProfileSpec
    predicate: Predicate
    probes: tuple[Probe, ...]


class Matcher:
    """Compile once (per dispatch run), then match any number of papers."""

    def __init__(self, specs: Iterable[ProfileSpec]) -> None:
        self._profiles: list[_Compiled] = []
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self._by_prefix: dict[str, list[int]] = defaultdict(list)
        self._always: list[int] = []
        self.rejected: list[tuple[ProfileSpec, ProfileSyntaxError]] = []
        for spec in specs:
            self._add(spec)

    def _add(self, spec: ProfileSpec) -> None:
        try:
            node = parse(spec.query, spec.name)
        except ProfileSyntaxError as e:  # stored before a grammar change: skip, never crash a run
            log.error("skipping profile %s of subscriber %s: %s", spec.name, spec.subscriber_id, e)
            self.rejected.append((spec, e))
            return
        index = len(self._profiles)
        self._profiles.append(_Compiled(spec, compile_query(node), probes(node)))
        found = anchors(node)
        if found is None:
            self._always.append(index)
            return
        for kind, value in found:
            (self._by_word if kind == "w" else self._by_prefix)[value].append(index)

    def __len__(self) -> int:
        return len(self._profiles)

    def match(self, papers: Iterable[PaperLike]) -> list[Match]:
        """Every (paper, profile) that matches, papers analysed once each."""
        found: list[Match] = []
        for paper in papers:
            found.extend(self.match_document(analyse(paper)))
        return found

    def match_document(self, doc: Document) -> list[Match]:
        found = []
        for index in sorted(self._candidates(doc)):
            compiled = self._profiles[index]
            if compiled.predicate(doc):
                found.append(_explain(compiled, doc))
        return found

    def _candidates(self, doc: Document) -> set[int]:
        candidates = set(self._always)
        by_word = self._by_word
        for word in doc.vocabulary:
            hit = by_word.get(word)
            if hit:
                candidates.update(hit)
        if self._by_prefix:
            by_prefix = self._by_prefix
            for word in doc.raw_vocabulary:
                for end in range(MIN_PREFIX, len(word) + 1):
                    hit = by_prefix.get(word[:end])
                    if hit:
                        candidates.update(hit)
        return candidates


def _explain(compiled: _Compiled, doc: Document) -> Match:
    hits: list[Hit] = []
    score = 0
    for probe in compiled.probes:
        fields = probe.fields_hit(doc)
        if not fields:
            continue
        text = to_query(probe.term) if isinstance(probe.term, Term) else str(probe.term)
        hits.extend(Hit(text, f, probe.words) for f in fields)
        score += max(FIELD_WEIGHT[f] for f in fields)
    spec = compiled.spec
    return Match(
        paper=doc.paper,
        subscriber_id=spec.subscriber_id,
        profile_id=spec.profile_id,
        profile_name=spec.name,
        hits=tuple(hits),
        score=score,
    )


def ranked(matches: Sequence[Match]) -> list[Match]:
    """Digest order: match strength, then upvotes, then the newer paper, then the id."""
    return sorted(
        matches,
        key=lambda m: (
            -m.score,
            -m.paper.upvotes,
            -(m.paper.published_at or _EPOCH).timestamp(),
            m.paper.arxiv_id,
            m.profile_id,
        ),
    )
