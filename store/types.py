"""Frozen types crossing the store's boundary: write intents in, plain records out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from base.errors import InputError
from scraper.models import ParsePath, ScrapedPaper, Verdict, View


class DeliveryState(StrEnum):
    """A delivery row's state: pending -> sending -> sent | temp_failed | expired | perm_failed
    | unknown (store/ledger.py moves them; paperboy/outcome.py decides)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    TEMP_FAILED = "temp_failed"
    EXPIRED = "expired"
    PERM_FAILED = "perm_failed"
    UNKNOWN = "unknown"


class Status(StrEnum):
    """A subscriber's stored status; the moves between them: paperboy.subscribers.transition."""

    PENDING = "pending"  # signed up, not confirmed yet
    ACTIVE = "active"
    PAUSED = "paused"
    UNSUBSCRIBED = "unsubscribed"  # kept so we never mail them again, until forgotten
    BOUNCED = "bounced"  # suppressed after repeated permanent failures


class Action(StrEnum):
    """What may happen to a subscriber's status; ``transition`` says from where, and to what."""

    CONFIRM = "confirm"  # the confirmation page's button
    SIGN_UP_AGAIN = "sign_up_again"  # a pending or unsubscribed address signs up anew
    PAUSE = "pause"
    RESUME = "resume"
    UNSUBSCRIBE = "unsubscribe"  # from any status: a one-click unsubscribe is always honoured
    UNDO = "undo"  # of an unsubscribe, from the page it leads to
    BOUNCE = "bounce"  # the sender suppresses an address refused too often, whatever it was


_EVERY = frozenset(Status)
_MOVES: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.CONFIRM: (frozenset({Status.PENDING}), Status.ACTIVE),
    Action.SIGN_UP_AGAIN: (frozenset({Status.PENDING, Status.UNSUBSCRIBED}), Status.PENDING),
    Action.PAUSE: (frozenset({Status.ACTIVE, Status.PAUSED}), Status.PAUSED),
    Action.RESUME: (frozenset({Status.ACTIVE, Status.PAUSED}), Status.ACTIVE),
    Action.UNSUBSCRIBE: (_EVERY, Status.UNSUBSCRIBED),
    Action.UNDO: (frozenset({Status.UNSUBSCRIBED}), Status.ACTIVE),
    Action.BOUNCE: (_EVERY, Status.BOUNCED),
}


def allows(current: Status, action: Action) -> bool:
    """Whether a subscriber who is ``current`` may take ``action`` (see ``transition``)."""
    return current in _MOVES[action][0]


def transition(current: Status, action: Action, *, operator: bool = False) -> Status:
    """The status ``action`` leads to from ``current``; InputError for a move not allowed.

    Every status change goes through here: the CLI, the manage and unsubscribe pages, sign-up
    and its confirmation (store.subscribers), the sender's bounce rule. ``operator``: the
    operator (the CLI) may pause or resume from any status (resuming an unsubscribed address
    is the CLI's own --force question)."""
    sources, target = _MOVES[action]
    if current in sources or (operator and action in (Action.PAUSE, Action.RESUME)):
        return target
    raise InputError(
        f"a subscriber who is {current} cannot {action.replace('_', ' ')}",
        hint=f"allowed from: {', '.join(sorted(sources))}",
    )


class Frequency(StrEnum):
    """How often a subscriber gets a digest (paperboy.schedule says when)."""

    DAILY = "daily"
    WEEKDAYS = "weekdays"  # Monday to Friday
    WEEKLY = "weekly"  # on the chosen weekday


class DigestKind(StrEnum):
    """What a stored digest is (paperboy.digest.kind decides)."""

    PAPERS = "papers"
    NOTHING = "nothing"  # a "nothing new" note, for those who asked for one
    SKIPPED = "skipped"  # recorded so the period counts as done, never mailed


class RunKind(StrEnum):
    """Which job a run was: the heartbeat's rows (``paperboy status``) and the job reports."""

    RUN_ONCE = "run-once"
    FETCH = "fetch"
    DISPATCH = "dispatch"
    SEND = "send"  # `paperboy send`: reported, not kept as a heartbeat


Released = Literal["released"]
# Not a stored state: a claim given back (pending again, its attempt not counted); what
# paperboy.outcome decides when our own relay or sender refused, and the ledger records so.
RELEASED: Final[Released] = "released"


@dataclass(frozen=True, slots=True)
class PaperUpsert:
    """Intent: this paper was seen at ``seen_at``; insert it or refresh its mutable fields."""

    paper: ScrapedPaper
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class ObservationUpsert:
    """Intent: the paper stood at ``rank`` with ``upvotes`` in (view, period) at ``seen_at``."""

    arxiv_id: str
    view: View
    period: str
    upvotes: int
    rank: int
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """Intent: one fetch happened; recorded whatever its verdict."""

    source: View
    period: str
    url: str
    verdict: Verdict
    started_at: datetime
    finished_at: datetime
    path: ParsePath | None = None
    status_code: int | None = None
    paper_count: int = 0
    error: str | None = None
    error_kind: str | None = None
    requests: int = 0
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """Everything one fetch writes, in one transaction."""

    fetch: FetchRecord
    papers: tuple[PaperUpsert, ...] = ()
    observations: tuple[ObservationUpsert, ...] = ()


@dataclass(frozen=True, slots=True)
class IngestResult:
    fetch_id: int
    new_papers: int
    updated_papers: int


@dataclass(frozen=True, slots=True)
class Paper:
    """A stored paper."""

    arxiv_id: str
    title: str
    upvotes: int
    first_seen_at: datetime
    last_seen_at: datetime
    summary: str | None
    authors: tuple[str, ...]
    author_count: int
    organization: str | None
    organization_slug: str | None
    published_at: datetime | None
    submitted_on_daily_at: datetime | None
    submitter: str | None
    num_comments: int | None
    github_repo: str | None
    github_stars: int | None
    project_page: str | None
    ai_summary: str | None
    ai_keywords: tuple[str, ...]
    thumbnail: str | None
    media_urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Observation:
    """Where and how high a paper stood in one (view, period)."""

    arxiv_id: str
    view: View
    period: str
    upvotes: int
    rank: int
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class Fetch:
    """A stored fetch row."""

    id: int
    source: View
    period: str
    url: str
    verdict: Verdict
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    path: ParsePath | None
    status_code: int | None
    paper_count: int
    new_papers: int
    error: str | None
    error_kind: str | None
    requests: int


@dataclass(frozen=True, slots=True)
class PaperFilter:
    """Which stored papers to list."""

    text: str | None = None  # substring of title or abstract, case-insensitive
    min_upvotes: int = 0
    seen_since: datetime | None = None  # first seen at or after
    view: View | None = None  # observed in this view ...
    period: str | None = None  # ... and period
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A stored subscriber."""

    id: int
    email: str
    status: Status
    time_zone: str
    send_hour: int
    frequency: Frequency
    weekday: int
    max_papers: int
    send_empty: bool
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    send_minute: int = 0
    link_key: str = ""  # the random key every link names; rotated when old links must die
    thumbnails: bool = True  # a small thumbnail beside each title in the mail (False: none)


@dataclass(frozen=True, slots=True)
class Profile:
    """A stored profile: its query, and how close counts for its about:/like: terms (a step,
    < 0 broader, > 0 narrower, and the model it was set for: another model's step counts as 0)."""

    id: int
    subscriber_id: int
    name: str
    query: str
    created_at: datetime
    updated_at: datetime
    closeness: int = 0
    closeness_model: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriberSettings:
    """The part of a subscriber a person chooses (validated before it reaches the store)."""

    time_zone: str = "UTC"
    send_hour: int = 8
    frequency: Frequency = Frequency.DAILY
    weekday: int = 0
    max_papers: int = 20
    send_empty: bool = False
    send_minute: int = 0
    thumbnails: bool = True


@dataclass(frozen=True, slots=True)
class NewProfile:
    name: str
    query: str


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    """Intent: store this (validated) subscriber with these profiles."""

    email: str
    status: Status
    settings: SubscriberSettings
    profiles: tuple[NewProfile, ...] = ()


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """Intent: this digest was composed for (subscriber, period); keep it and, unless it is a
    skipped (empty) one, queue its delivery."""

    subscriber_id: int
    recipient: str
    period: str
    kind: DigestKind
    window_start: datetime
    window_end: datetime
    paper_ids: tuple[str, ...]
    shown: int
    subject: str
    message_id: str
    html: str  # for a preview; the store keeps neither (the archive page is rendered anew)
    text: str
    message: bytes  # the whole MIME message, built once
    created_at: datetime
    deadline: datetime  # retry until then


@dataclass(frozen=True, slots=True)
class Digest:
    id: int
    subscriber_id: int
    period: str
    kind: DigestKind
    window_start: datetime
    window_end: datetime
    paper_ids: tuple[str, ...]
    shown: int
    subject: str
    message_id: str
    message: bytes | None  # None once the delivery is final, or for a skipped digest
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this sender holds the lease on."""

    delivery_id: int
    token: str  # fencing token: every update must carry it
    digest_id: int
    subscriber_id: int
    message_id: str
    message: bytes  # the built message, sent as is
    recipient: str
    attempts: int
    deadline: datetime


@dataclass(frozen=True, slots=True)
class Delivered:
    """A claim the server accepted (``code`` at ``at``) whose ledger row still says sending."""

    claim: Claim
    at: datetime
    code: int


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    digest_id: int
    recipient: str
    period: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_code: int | None
    last_error: str | None
    sent_at: datetime | None
    updated_at: datetime
