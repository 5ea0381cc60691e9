"""Learning from the subscriber, the pure part: a stored profile and its feedback as the matcher's
``ProfileSpec`` (the one place that builds it), and the example papers a new profile starts from
(``like:ID,ID``) as people paste them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from paperboy.errors import InputError
from paperboy.profiles.matcher import ProfileSpec
from paperboy.subscribers import shown
from scraper.fields import arxiv_id
from store.feedback import FeedbackStore, Signals
from store.types import Profile

MAX_EXAMPLES = 20  # example papers a profile may start from
MAX_CLOSENESS = 5  # closeness steps either way (broader < 0 < narrower), as `profile test` takes
# What people paste: 2401.00001, arXiv:2401.00001v2, https://arxiv.org/abs/2401.00001,
# https://arxiv.org/pdf/2401.00001v1.pdf, https://huggingface.co/papers/2401.00001.
_PREFIX = re.compile(
    r"^(?:arxiv:|https?://(?:www\.)?(?:arxiv\.org/(?:abs|pdf)/|huggingface\.co/papers/))",
    re.IGNORECASE,
)
_SUFFIX = re.compile(r"(?:v[0-9]{1,3})?(?:\.pdf)?/?$")
_SEPARATORS = re.compile(r"[\s,;]+")


def closeness_step(step: int) -> int:
    """A closeness setting as stored: InputError outside -MAX_CLOSENESS..MAX_CLOSENESS."""
    if not -MAX_CLOSENESS <= step <= MAX_CLOSENESS:
        raise InputError(
            f"closeness {step} is out of range",
            hint=f"use -{MAX_CLOSENESS} (broadest) to {MAX_CLOSENESS} (narrowest), 0 the default",
        )
    return step


def spec(profile: Profile, signals: Signals | None = None) -> ProfileSpec:
    """The matcher's view of a stored profile, shaped by what its subscriber liked and rejected."""
    told = signals or Signals()
    return ProfileSpec(
        profile.id,
        profile.subscriber_id,
        profile.name,
        profile.query,
        closeness=profile.closeness,
        liked=told.liked,
        rejected=told.rejected,
        closeness_model=profile.closeness_model,
    )


def specs(profiles: Sequence[Profile], feedback: FeedbackStore) -> list[ProfileSpec]:
    """``spec`` of each profile, in order, their feedback read in one query."""
    told = feedback.for_profiles(p.id for p in profiles)
    return [spec(p, told.get(p.id)) for p in profiles]


def example_id(text: str) -> str:
    """One arXiv id as pasted (a bare id, ``arXiv:`` id or an arXiv / Hugging Face URL), without
    its version; InputError if it is not one."""
    cleaned = _SUFFIX.sub("", _PREFIX.sub("", text.strip()), count=1)
    found = arxiv_id(cleaned)
    if found is None:
        raise InputError(
            f"{shown(text.strip())} is not an arXiv id",
            hint="write it as 2401.00001 (or paste the paper's arXiv link)",
        )
    return found


def example_ids(text: str) -> tuple[str, ...]:
    """The arXiv ids pasted in ``text`` (separated by spaces, commas or new lines), each once,
    in order; InputError for one that is not an id, or more than ``MAX_EXAMPLES``."""
    ids: dict[str, None] = {}
    for pasted in _SEPARATORS.split(text):
        if pasted:
            ids[example_id(pasted)] = None
        if len(ids) > MAX_EXAMPLES:  # stop here: a huge paste costs no more than this
            raise InputError(
                "too many example papers", hint=f"paste at most {MAX_EXAMPLES} arXiv ids"
            )
    return tuple(ids)


def example_query(ids: Sequence[str]) -> str:
    """The query of a profile started from example papers: ``like:ID,ID``."""
    return "like:" + ",".join(ids)
