"""What the matcher asks of meaning: which papers of a batch are close to a topic, and why.

The matcher (paperboy.profiles.matcher) collects every distinct ``Want`` of its profiles (an
``about:``/``like:`` atom with the profile's closeness setting and feedback), then asks a
``Meaning`` once per batch for all of them, so 10,000 topic profiles cost one matrix product,
not 10,000 loops. Whether a paper is close never depends on which other papers share its batch:
the preview, the dry run and the send agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from paperboy.profiles.ast import Semantic, Term
from paperboy.profiles.document import PaperLike


@dataclass(frozen=True, slots=True)
class Want:
    """One semantic atom of one profile, as that profile's settings and feedback shape it."""

    atom: Semantic
    step: int = 0  # the closeness setting: 0 default, < 0 broader, > 0 narrower
    liked: tuple[str, ...] = ()  # arXiv ids clicked "More like this" for this profile
    rejected: tuple[str, ...] = ()  # arXiv ids clicked "Not interested" for this profile
    hints: tuple[Term, ...] = ()  # the ~terms beside it: not required, each one found counts


@dataclass(frozen=True, slots=True)
class Closeness:
    """One want over one batch: bit i of ``mask`` is set when papers[i] is close enough;
    ``scores[i]`` is how close (a calibrated number, higher is closer, comparable across
    wants for ranking). ``scores`` is read-only and may be a lazy view of a shared matrix:
    10,000 wants x 1,000 papers as tuples of floats took 3 s and 0.9 GB."""

    mask: int
    scores: Sequence[float]


class Meaning(Protocol):
    """Closeness of papers to topics and examples (the model, or the lexical fallback)."""

    @property
    def model_id(self) -> str: ...

    def close(self, wants: Sequence[Want], papers: Sequence[PaperLike]) -> list[Closeness]:
        """One ``Closeness`` per want, in order, over ``papers``."""
        ...

    def held_back(self, rejected: tuple[str, ...], papers: Sequence[PaperLike]) -> int:
        """The papers (a bitset over ``papers``) very close to one the subscriber rejected."""
        ...

    def why(self, want: Want, paper: PaperLike) -> str:
        """A short reason to show: the abstract's sentence closest to the topic, or
        "close to <title of the example>"."""
        ...
