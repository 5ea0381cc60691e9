"""Digest composition: from a subscriber's matches to what the email shows (pure functions)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote

from markupsafe import Markup, escape

from mailer.render import MARK_STYLE
from mailer.types import DigestContent, DigestEntry, DigestSection, ShownPaper
from paperboy import plaintext
from paperboy.profiles.document import PaperLike
from paperboy.profiles.highlight import Span, spans
from paperboy.profiles.matcher import Hit, Match, Matcher, ProfileSpec, ranked
from paperboy.schedule import Timing
from paperboy.upcoming import Upcoming, upcoming
from scraper.fields import web_url
from store.types import DigestKind

AUTHORS_SHOWN = 3
OTHER_PAPERS = "Other papers of this digest"  # the archive's last section
BLURB_LIMIT = 420
# Hugging Face's summary is machine-written: never let it pass for the authors' abstract.
AI_SUMMARY = "TL;DR by Hugging Face's AI, not the authors"
ABSTRACT = "Abstract"
PREHEADER_LIMIT = 140  # mail apps show 40 to 140 characters of it

Feedback = Callable[[int, str], str]  # (profile id, arXiv id) -> the paper's signed /r/ URL


@dataclass(frozen=True, slots=True)
class Links:
    """Where the digest's own links point (signed tokens already inside); ``feedback`` gives
    each paper's "More like this" / "Not interested" page (None: the mail shows no such link)."""

    archive: str
    manage: str
    unsubscribe: str
    feedback: Feedback | None = None

    def with_archive(self, url: str) -> Links:
        """The same links, "view in browser" and "and N more" leading to ``url``."""
        return dataclasses.replace(self, archive=url)


Group = tuple[str, tuple[Match, ...]]  # a profile's name and its papers, ranked


@dataclass(frozen=True, slots=True)
class Selection:
    """Which papers a digest shows, in which sections, and how many it leaves to the archive."""

    sections: tuple[Group, ...]  # what the mail shows
    paper_ids: tuple[str, ...]  # every matching paper, best first
    shown: int
    groups: tuple[Group, ...] = ()  # every matching paper, each in its best profile's group

    @property
    def total(self) -> int:
        return len(self.paper_ids)


def best_first(matches: Sequence[Match]) -> list[Match]:
    """Each paper once, with its best profile's match, ranked."""
    best: dict[str, Match] = {}
    for match in ranked(matches):
        best.setdefault(match.paper.arxiv_id, match)
    return list(best.values())


def grouped(matches: Sequence[Match]) -> tuple[Group, ...]:
    """Each paper once, in its best profile's group; the groups in the order of their best
    paper, each ranked."""
    found: dict[str, list[Match]] = {}
    for match in best_first(matches):
        found.setdefault(match.profile_name, []).append(match)
    return tuple((name, tuple(papers)) for name, papers in found.items())


def shares(sizes: Sequence[int], limit: int) -> list[int]:
    """How many papers each group shows: one each in turn, so that every group gets at least
    its fair part of ``limit`` (the first groups one more when it does not divide) and the
    slots a small group cannot use go to the others."""
    taken = [0] * len(sizes)
    left = max(0, limit)
    while left and any(t < size for t, size in zip(taken, sizes, strict=True)):
        for i, size in enumerate(sizes):
            if left and taken[i] < size:
                taken[i] += 1
                left -= 1
    return taken


def select(matches: Sequence[Match], limit: int) -> Selection:
    """Each paper once (in its best profile's section), ranked; the cap shared between the
    profiles that matched (see ``shares``), so a broad profile never crowds out a narrow one."""
    paper_ids = tuple(m.paper.arxiv_id for m in best_first(matches))
    return _showing(grouped(matches), paper_ids, limit)


def trimmed(selection: Selection, shown: int) -> Selection:
    """The same digest showing fewer papers (to stay under the size limit), still shared."""
    return _showing(selection.groups, selection.paper_ids, shown)


def _showing(groups: tuple[Group, ...], paper_ids: tuple[str, ...], limit: int) -> Selection:
    counts = shares([len(found) for _, found in groups], limit)
    sections = tuple(
        (name, found[:count]) for (name, found), count in zip(groups, counts, strict=True) if count
    )
    return Selection(sections=sections, paper_ids=paper_ids, shown=sum(counts), groups=groups)


def archive_sections(
    papers: Sequence[PaperLike],
    profiles: Sequence[ProfileSpec],
    feedback: Feedback | None = None,
) -> tuple[DigestSection, ...]:
    """Every paper of a sent digest, as its page lists them: grouped by the subscriber's
    current profiles as the mail groups them (each paper once, in its best profile, ranked,
    the matched words marked), then the papers no current profile matches, in the digest's
    order. ``papers`` are the digest's, best first; a profile the matcher refuses is left out.
    ``feedback`` gives each matched paper its "More like this" / "Not interested" link.
    """
    found = Matcher(profiles).match(papers)
    matches = [m for sid in {p.subscriber_id for p in profiles} for m in found.for_subscriber(sid)]
    sections = [
        DigestSection(profile=name, papers=tuple(shown(m, entry(m), feedback) for m in found))
        for name, found in grouped(matches)
    ]
    matched = {m.paper.arxiv_id for m in matches}
    rest = tuple(ShownPaper(paper_entry(p)) for p in papers if p.arxiv_id not in matched)
    if rest:  # no current profile matched them: no profile to rate them for
        sections.append(DigestSection(profile=OTHER_PAPERS, papers=rest))
    return tuple(sections)


def entry(match: Match) -> DigestEntry:
    """What the template sees of one matched paper; scraped text is escaped here, once."""
    return paper_entry(match.paper, match.hits)


def paper_entry(paper: PaperLike, hits: Sequence[Hit] = ()) -> DigestEntry:
    """What a template sees of one paper, the words ``hits`` found marked; escaped here, once."""
    wanted = [(h.words, h.prefix) for h in hits]
    title = " ".join(paper.title.split())  # no line breaks from scraped text, even in plain text
    ai = " ".join((paper.ai_summary or "").split())
    blurb = _blurb(ai or " ".join((paper.summary or "").split()))
    authors = ", ".join(paper.authors[:AUTHORS_SHOWN])
    extra = len(paper.authors) - AUTHORS_SHOWN
    arxiv_id = quote(paper.arxiv_id, safe="./")
    entry = DigestEntry(
        arxiv_id=paper.arxiv_id,
        title=title,
        title_html=marked(title, spans(title, wanted)),
        authors=authors + (f" +{extra}" if extra > 0 else ""),
        organization=paper.organization,
        upvotes=paper.upvotes,
        blurb=blurb,
        blurb_html=marked(blurb, spans(blurb, wanted)),
        blurb_label=AI_SUMMARY if ai else ABSTRACT,
        matched=tuple(dict.fromkeys(h.term for h in hits)),
        hf_url=f"https://huggingface.co/papers/{arxiv_id}",
        arxiv_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        code_url=web_url(paper.github_repo),
        stars=paper.github_stars,
        project_url=web_url(paper.project_page),
        thumbnail_url=web_url(getattr(paper, "thumbnail", None)),
        text="",
    )
    return dataclasses.replace(entry, text=_text_block(entry))


def _text_block(e: DigestEntry) -> str:
    meta = " · ".join(x for x in (e.authors, e.organization, f"{e.upvotes} upvotes") if x)
    links = [("", e.hf_url), ("arXiv", e.arxiv_url), ("PDF", e.pdf_url)]
    if e.code_url:
        links.append(("Code" + (f" ({e.stars} stars)" if e.stars is not None else ""), e.code_url))
    if e.project_url:
        links.append(("Project page", e.project_url))
    return plaintext.paper_block(
        title=e.title,
        meta=meta,
        blurb_label=e.blurb_label,
        blurb=e.blurb,
        links=tuple(links),
        matched=e.matched,
    )


def shown(match: Match, entry: DigestEntry, feedback: Feedback | None) -> ShownPaper:
    """One paper as this subscriber's digest shows it: the shared ``entry``, its feedback link
    (for the profile that matched it) and why meaning found it close."""
    rate = feedback(match.profile_id, match.paper.arxiv_id) if feedback else None
    reasons = tuple(_why(r) for r in match.reasons)
    text = plaintext.reasons_block(reasons) if reasons else ""
    return ShownPaper(entry, rate_url=rate, reasons=reasons, reasons_text=text)


def _why(reason: str) -> str:
    """A sentence of the abstract is quoted; "close to <title>" says itself."""
    return reason if reason.startswith("close to ") else f"“{reason}”"


def marked(text: str, found: Sequence[Span]) -> Markup:
    """``text`` escaped, with the found spans wrapped in <mark>."""
    parts: list[str] = []
    cursor = 0
    for start, end in found:
        parts.append(str(escape(text[cursor:start])))
        parts.append(f'<mark style="{MARK_STYLE}">{escape(text[start:end])}</mark>')
        cursor = end
    parts.append(str(escape(text[cursor:])))
    return Markup("".join(parts))  # noqa: S704  (every piece above is escaped)


def _blurb(text: str) -> str:
    if len(text) <= BLURB_LIMIT:
        return text
    cut = text[:BLURB_LIMIT].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def content(
    recipient: str,
    period: str,
    selection: Selection,
    links: Links,
    cache: dict[object, DigestEntry],
    *,
    timing: Timing | None = None,
    now: datetime | None = None,
    thumbnails: bool = True,
) -> DigestContent:
    """The digest's content; ``cache`` shares rendered entries between subscribers in a run.

    ``timing`` and ``now`` (the subscriber's schedule, the composition's time) let the footer
    say when the next digest comes; ``thumbnails`` False shows none.
    """
    sections = []
    for name, found in selection.sections:
        papers = []
        for match in found:
            key = (match.paper.arxiv_id, tuple((h.words, h.prefix, h.term) for h in match.hits))
            if key not in cache:
                cache[key] = entry(match)
            papers.append(shown(match, cache[key], links.feedback))
        sections.append(DigestSection(profile=name, papers=tuple(papers)))
    coming = upcoming(timing, period, now) if timing is not None and now is not None else None
    return DigestContent(
        recipient=recipient,
        period_label=period_label(period),
        sections=tuple(sections),
        total=selection.total,
        more=selection.total - selection.shown,
        archive_url=links.archive,
        manage_url=links.manage,
        unsubscribe_url=links.unsubscribe,
        preheader=preheader(selection, coming),
        why_text=why_text(recipient, coming),
        thumbnails=thumbnails,
    )


def preheader(selection: Selection, coming: Upcoming | None = None) -> str:
    """What the mail app shows after the subject (which names the count and the top paper):
    how many papers each profile found, then the next titles; or, for a "nothing new" note,
    when the next digest comes."""
    if not selection.total:
        after = f" The next digest comes on {coming.label}." if coming else ""
        return f"No new paper matched your profiles this time.{after}"
    counts = ", ".join(
        f"{len(found)} for {n}" for n, found in selection.groups or selection.sections
    )
    titles = [m.paper.title for _, found in selection.sections for m in found][1:4]
    text = " ".join(
        (f"{counts}." + (" Also inside: " + "; ".join(titles) if titles else "")).split()
    )
    return text if len(text) <= PREHEADER_LIMIT else text[: PREHEADER_LIMIT - 1].rstrip() + "…"


def why_text(recipient: str, coming: Upcoming | None) -> str:
    """The footer's first sentences: why this mail came, and when the next one will (wrapped;
    only the line naming the recipient is wrapped anew for each mail)."""
    why = plaintext.filled(f"You get this because {recipient} subscribed to Paperboy")
    if coming is None:
        return why + "."
    when = f"a digest {coming.cadence}. The next one comes on {coming.label}."
    return f"{why},\n{plaintext.wrapped(when, '', '')}"


def period_label(period: str) -> str:
    """2026-07-02 -> "Thursday 2 July 2026"; 2026-W27 -> "week 27, 2026"."""
    if "-W" in period:
        year, week = period.split("-W")
        return f"week {int(week)}, {year}"
    day = date.fromisoformat(period)
    return f"{day:%A} {day.day} {day:%B %Y}"


def subject(selection: Selection, period: str) -> str:
    if not selection.total:
        return f"Paperboy · nothing new matched · {period_label(period)}"
    top = selection.sections[0][1][0].paper.title
    count = f"{selection.total} new paper{'s' if selection.total != 1 else ''}"
    return f"Paperboy · {count}: {top}"


def in_window(match: Match, start: datetime, end: datetime) -> bool:
    first_seen = getattr(match.paper, "first_seen_at", None)
    return first_seen is None or start < first_seen <= end


def kind(selection: Selection, send_empty: bool) -> DigestKind:
    """The one composition decision compose, preview and the dry run share: papers, a
    "nothing" note for those who asked for one, or skipped (recorded, never mailed)."""
    if selection.total:
        return DigestKind.PAPERS
    return DigestKind.NOTHING if send_empty else DigestKind.SKIPPED
