"""``index.term_hits`` (a few terms over a batch, no index) finds what the batch index finds."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.profiles.ast import Field, Term
from paperboy.profiles.compiler import Probe
from paperboy.profiles.document import analyse
from paperboy.profiles.index import PaperIndex, term_hits
from paperboy.profiles.reference import has_term
from tests.papers import saved_papers

PAPERS = saved_papers()
DOCS = [analyse(p) for p in PAPERS]
INDEX = PaperIndex(DOCS)
TITLE_WORDS = sorted({w for p in PAPERS for w in re.findall(r"[A-Za-z][A-Za-z-]+", p.title)})
PAIRS = sorted(
    {
        f"{a} {b}"
        for p in PAPERS
        for a, b in zip(p.title.split(), p.title.split()[1:], strict=False)
        if a.isalpha() and b.isalpha()
    }
)
FIELDS = st.sampled_from(list(Field))
TERMS = st.one_of(
    st.builds(lambda w, f: Term(w, f), st.sampled_from(TITLE_WORDS), FIELDS),
    st.builds(lambda w, f: Term(w, f, phrase=True), st.sampled_from(PAIRS), FIELDS),
    st.builds(
        lambda w, f: Term(w[:4].lower(), f, prefix=True),
        st.sampled_from([w for w in TITLE_WORDS if len(w) >= 4 and w.isalpha()]),
        FIELDS,
    ),
    st.builds(lambda w: Term(w), st.sampled_from(["nowhere-to-be-found", "zzzqqq", "a"])),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(TERMS, min_size=1, max_size=12), st.integers(0, len(PAPERS) - 1))
def test_term_hits_equal_the_index(terms: list[Term], start: int) -> None:
    probes = [Probe.of(t) for t in terms]
    docs = DOCS[start:] + DOCS[:start]  # any order of papers: bits follow the list
    index = INDEX if start == 0 else PaperIndex(docs)
    assert term_hits(probes, docs) == [index.term(p) for p in probes]


def test_term_hits_agree_with_the_reference_evaluator() -> None:
    """A third opinion: the slow obvious reading of a term, paper by paper."""
    terms = [Term("model"), Term("video generation", phrase=True), Term("diffus", prefix=True)]
    found = term_hits([Probe.of(t) for t in terms], DOCS)
    for term, mask in zip(terms, found, strict=True):
        expected = sum(1 << i for i, p in enumerate(PAPERS) if has_term(term, p))
        assert mask == expected
        assert (
            0 < bin(mask).count("1") < len(PAPERS)
        )  # the terms chosen are neither rare nor everywhere
