"""What a profile would have matched lately: the manage page's live preview and the feeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailer.types import DigestEntry
from paperboy.digest import entry
from paperboy.errors import ProfileSyntaxError
from paperboy.profiles.matcher import Match, Matcher, ProfileSpec, ranked
from paperboy.profiles.parser import parse
from store.repository import SqlStore
from store.types import Paper

PREVIEW_DAYS = 7
PREVIEW_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Preview:
    query: str
    entries: tuple[DigestEntry, ...] = ()
    total: int = 0  # how many matched (more than shown, perhaps)
    considered: int = 0  # papers first seen in the window
    days: int = PREVIEW_DAYS
    error: str | None = None  # the syntax error, naming the column


def matches(query: str, papers: Sequence[Paper]) -> list[Match]:
    return ranked(Matcher([ProfileSpec(0, 0, "preview", query)]).match(papers))


def preview(store: SqlStore, query: str, now: datetime, *, shown: int = PREVIEW_SHOWN) -> Preview:
    """The papers of the last week that ``query`` matches, best first, matched terms marked."""
    cleaned = " ".join(query.split())
    if not cleaned:
        return Preview(
            query="", error='write a query first, for example: diffusion OR "video generation"'
        )
    try:
        parse(cleaned, "preview")
    except ProfileSyntaxError as e:
        return Preview(query=cleaned, error=f"{e.problem} at column {e.column}")
    recent = store.papers_seen_between(now - timedelta(days=PREVIEW_DAYS), now)
    found = matches(cleaned, recent)
    return Preview(
        query=cleaned,
        entries=tuple(entry(m) for m in found[:shown]),
        total=len(found),
        considered=len(recent),
    )
