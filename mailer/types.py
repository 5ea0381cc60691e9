"""What the mailer is handed: plain frozen values, never store rows."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One paper as a digest template sees it; every string is already safe to show."""

    arxiv_id: str
    title: str  # plain text
    title_html: Markup  # escaped, matched words in <mark>
    authors: str  # "A, B, C +5"
    organization: str | None
    upvotes: int
    blurb: str  # the AI summary, or the abstract trimmed
    blurb_html: Markup
    blurb_label: str  # what the blurb is: "Abstract", or the AI summary marked as not the authors'
    matched: tuple[str, ...]  # the terms that hit, as the query writes them
    hf_url: str
    arxiv_url: str
    pdf_url: str
    code_url: str | None
    stars: int | None
    project_url: str | None
    thumbnail_url: str | None
    text: str  # the paper's block in the plain-text part, wrapped at 76 columns


@dataclass(frozen=True, slots=True)
class ShownPaper:
    """One paper as one subscriber's digest shows it: the entry shared between subscribers,
    and what is theirs alone."""

    entry: DigestEntry
    rate_url: str | None = None  # the signed /r/ page: "More like this" / "Not interested"
    reasons: tuple[str, ...] = ()  # why meaning found it close, as the matcher says it
    reasons_text: str = ""  # the same, wrapped for the plain-text part ("" when none)


@dataclass(frozen=True, slots=True)
class DigestSection:
    profile: str
    papers: tuple[ShownPaper, ...]

    @property
    def entries(self) -> tuple[DigestEntry, ...]:
        return tuple(p.entry for p in self.papers)


@dataclass(frozen=True, slots=True)
class DigestContent:
    """Everything one digest mail shows."""

    recipient: str
    period_label: str  # "Thursday 2 July 2026" or "week 27, 2026"
    sections: tuple[DigestSection, ...]
    total: int  # matching papers, shown or not
    more: int  # matching papers not shown (see the archive)
    archive_url: str
    manage_url: str
    unsubscribe_url: str
    preheader: str = ""  # the line a mail app shows after the subject: what is inside
    why_text: str = ""  # the footer's "you get this because ... next one ...", wrapped
    thumbnails: bool = True  # a small thumbnail beside each title (False: none)

    @property
    def shown(self) -> int:
        return sum(len(s.papers) for s in self.sections)


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A rendered digest, ready to become MIME."""

    recipient: str
    subject: str
    text: str
    html: str
    message_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str


@dataclass(frozen=True, slots=True)
class Envelope:
    """A built message and who it goes from and to, as a transport needs it."""

    sender: str  # bare address, for MAIL FROM
    recipient: str  # bare address, for RCPT TO
    message_id: str
    data: bytes  # the whole message, CRLF line ends
