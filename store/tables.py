"""The SQLModel tables. Only the store's modules touch these; everyone else gets frozen types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlmodel import Field, SQLModel

from store.columns import UTCDateTime
from store.types import DeliveryState

# Deliveries a sender may claim (a partial index's predicate: the text the migrations wrote).
WAITING = f"state IN ('{DeliveryState.PENDING}', '{DeliveryState.TEMP_FAILED}')"
FINAL = frozenset(
    {DeliveryState.SENT, DeliveryState.PERM_FAILED, DeliveryState.EXPIRED, DeliveryState.UNKNOWN}
)  # never sent (again)


def _utc(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json() -> Any:
    return Field(sa_column=Column(JSON, nullable=False))


def _text(*, nullable: bool = True) -> Any:
    return Field(sa_column=Column(Text, nullable=nullable))


def core(row: type[SQLModel]) -> Table:
    """A row class's Core table, typed: SQLModel builds it as ``row.__table__`` but declares no
    type for that, so it is looked up in the metadata under the row's table name."""
    name = row.__tablename__
    assert isinstance(name, str)  # every row here names its table
    return row.metadata.tables[name]


class PaperRow(SQLModel, table=True):
    """One row per arXiv id; mutable fields follow the latest fetch, first_seen_at never moves."""

    __tablename__ = "papers"

    arxiv_id: str = Field(sa_column=Column(String(32), primary_key=True))
    title: str = _text(nullable=False)
    summary: str | None = _text()
    authors: list[str] = _json()
    author_count: int = 0
    organization: str | None = Field(default=None, max_length=200)
    organization_slug: str | None = Field(default=None, max_length=200)
    published_at: datetime | None = _utc(nullable=True)
    submitted_on_daily_at: datetime | None = _utc(nullable=True)
    submitter: str | None = Field(default=None, max_length=200)
    upvotes: int = 0
    num_comments: int | None = None
    github_repo: str | None = _text()
    github_stars: int | None = None
    project_page: str | None = _text()
    ai_summary: str | None = _text()
    ai_keywords: list[str] = _json()
    thumbnail: str | None = _text()
    media_urls: list[str] = _json()
    first_seen_at: datetime = _utc(index=True)
    last_seen_at: datetime = _utc()


class FetchRow(SQLModel, table=True):
    """One row per fetch of one source, whatever its verdict."""

    __tablename__ = "fetches"
    __table_args__ = (Index("ix_fetches_source_period", "source", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)  # a View (scraper.models): day, week, ..., feed
    period: str = Field(max_length=300)  # 2026-07-02 | 2026-W27 | 2026-07 | the search query
    url: str = _text(nullable=False)
    path: str | None = Field(default=None, max_length=16)  # a ParsePath (scraper.models)
    status_code: int | None = None
    verdict: str = Field(max_length=16, index=True)  # a Verdict (scraper.models)
    paper_count: int = 0
    new_papers: int = 0
    error: str | None = _text()
    error_kind: str | None = Field(default=None, max_length=32)
    requests: int = 0
    started_at: datetime = _utc(index=True)
    finished_at: datetime = _utc()
    duration_ms: int = 0
    etag: str | None = _text()
    last_modified: str | None = Field(default=None, max_length=64)


class ObservationRow(SQLModel, table=True):
    """A paper's latest upvotes and rank in one (view, period): "it trended in week 27"."""

    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_view_period", "view", "period"),)

    arxiv_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("papers.arxiv_id", ondelete="CASCADE"), primary_key=True
        )
    )
    view: str = Field(max_length=16, primary_key=True)  # a View (scraper.models)
    period: str = Field(max_length=300, primary_key=True)
    upvotes: int = 0
    rank: int = 0
    first_seen_at: datetime = _utc()
    last_seen_at: datetime = _utc()
    fetch_id: int | None = Field(default=None, foreign_key="fetches.id", ondelete="SET NULL")


class SubscriberRow(SQLModel, table=True):
    """A subscriber; unsubscribed ones are kept (suppression) until forgotten."""

    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("link_key", name="uq_subscribers_link_key"),
        {"sqlite_autoincrement": True},  # a deleted id is never handed out again
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)  # normalised, compared case-insensitively
    # What every link in a mail names (never the id): random, rotated when old links must die.
    link_key: str = Field(sa_column=Column(String(32), nullable=False))
    status: str = Field(max_length=16, index=True)  # a Status (store.types)
    time_zone: str = Field(max_length=64)  # IANA name
    send_hour: int  # 0..23, local time
    send_minute: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # 0..59
    frequency: str = Field(max_length=16)  # a Frequency (store.types)
    weekday: int = 0  # 0 = Monday; used by weekly
    max_papers: int = 20
    send_empty: bool = False  # send a short "nothing today" mail when nothing matched
    # a small thumbnail beside each title in the mail (False: none)
    thumbnails: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    confirmed_at: datetime | None = _utc(nullable=True)
    unsubscribed_at: datetime | None = _utc(nullable=True)


class ProfileRow(SQLModel, table=True):
    """A named keyword profile of one subscriber."""

    __tablename__ = "profiles"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "name", name="uq_profiles_subscriber_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(
        sa_column=Column(
            ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    name: str = Field(max_length=64)
    query: str = _text(nullable=False)
    # How close a paper must be to the profile's about:/like: (0 = the default; negative is
    # broader, positive narrower), valid for the model it was set with (paperboy.semantic).
    closeness: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    closeness_model: str | None = Field(default=None, max_length=64)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class EmbeddingRow(SQLModel, table=True):
    """One vector per (paper, model): float16 bytes, and a hash of the text it was computed from
    (recomputed when the title or abstract changes)."""

    __tablename__ = "embeddings"

    arxiv_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("papers.arxiv_id", ondelete="CASCADE"), primary_key=True
        )
    )
    model: str = Field(sa_column=Column(String(64), primary_key=True))
    text_hash: str = Field(max_length=64)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _utc()


class TopicVectorRow(SQLModel, table=True):
    """The vector of a topic text (an ``about:`` or a profile's description) per model, so a cold
    process does not embed every profile's topic again."""

    __tablename__ = "topic_vectors"

    text_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    model: str = Field(sa_column=Column(String(64), primary_key=True))
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _utc()


class FeedbackRow(SQLModel, table=True):
    """A subscriber's signal on one paper for one profile: "like" (more like this) or "reject"
    (not interested). One per (profile, paper): the latest signal wins, undo deletes it."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("profile_id", "arxiv_id", name="uq_feedback_profile_paper"),)

    id: int | None = Field(default=None, primary_key=True)
    profile_id: int = Field(
        sa_column=Column(ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    arxiv_id: str = Field(max_length=32)
    signal: str = Field(max_length=8)  # a Signal (store.feedback): like | reject
    created_at: datetime = _utc()


class DigestRow(SQLModel, table=True):
    """One digest per (subscriber, period): what was decided, kept compact for the archive page
    (rendered on demand from ``paper_ids``). Its message bytes are a ``messages`` row."""

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "period", name="uq_digests_subscriber_period"),
        # Each due subscriber's previous window end, read from the index alone (migration 0012).
        Index("ix_digests_subscriber_window", "subscriber_id", "window_end"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(
        sa_column=Column(
            ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    period: str = Field(max_length=16)  # 2026-07-02 or 2026-W27, in the subscriber's zone
    kind: str = Field(max_length=16)  # a DigestKind (store.types): papers | nothing | skipped
    window_start: datetime = _utc()  # papers first seen after this ...
    window_end: datetime = _utc()  # ... and up to this
    paper_ids: list[str] = _json()  # every matching paper, ranked; the mail shows the first ones
    shown: int = 0
    subject: str = _text(nullable=False)
    message_id: str = Field(max_length=255)
    created_at: datetime = _utc(index=True)


class MessageRow(SQLModel, table=True):
    """A digest's MIME message, built once and sent as is: kept only while its delivery may send
    it (deleted in the update that makes the delivery final; never made for a skipped digest).

    A table of its own so the digest rows stay small and dense: bytes kept in the digest row left
    a nearly empty page per digest once cleared (bench/RESULTS.md).
    """

    __tablename__ = "messages"

    digest_id: int = Field(
        sa_column=Column(
            ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
        )
    )
    message: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class DeliveryRow(SQLModel, table=True):
    """The delivery ledger: pending -> sending -> sent | temp_failed | expired | perm_failed |
    unknown (see store.ledger: only perm_failed, a refusal of the recipient, is a bounce)."""

    __tablename__ = "deliveries"
    __table_args__ = (  # the waiting deliveries in claiming order (migration 0006)
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            "id",
            sqlite_where=text(WAITING),
            postgresql_where=text(WAITING),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(
        sa_column=Column(ForeignKey("digests.id", ondelete="CASCADE"), nullable=False, unique=True)
    )
    recipient: str = Field(max_length=320)
    state: str = Field(max_length=16, index=True)  # a DeliveryState (store.types)
    attempts: int = 0
    next_attempt_at: datetime = _utc()  # claims read the partial ix_deliveries_due
    deadline: datetime = _utc()  # retries stop here: the next digest is due
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _utc(nullable=True)
    data_started_at: datetime | None = _utc(nullable=True)  # DATA began: a crash now is "unknown"
    last_code: int | None = None
    last_error: str | None = _text()
    sent_at: datetime | None = _utc(nullable=True)
    updated_at: datetime = _utc()


class RunRow(SQLModel, table=True):
    """The heartbeat: one row per unattended run, with its counters."""

    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=16, index=True)
    kind: str = Field(max_length=16)  # a RunKind (store.types): run-once | fetch | dispatch
    started_at: datetime = _utc(index=True)
    finished_at: datetime = _utc()
    counters: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))


class AlertRow(SQLModel, table=True):
    """An incident the operator was told about: opened once, closed when it recovers."""

    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, index=True)  # broken:day | stale
    message: str = _text(nullable=False)
    opened_at: datetime = _utc()
    closed_at: datetime | None = _utc(nullable=True)
    mailed_at: datetime | None = _utc(nullable=True)
