"""The tables (SQLAlchemy Core, on one MetaData). Only the store's modules touch these; everyone
else gets frozen types."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)

from store.columns import UTCDateTime
from store.types import DeliveryState

# Deliveries a sender may claim (a partial index's predicate: the text the migrations wrote).
WAITING = f"state IN ('{DeliveryState.PENDING}', '{DeliveryState.TEMP_FAILED}')"
FINAL = frozenset(
    {DeliveryState.SENT, DeliveryState.PERM_FAILED, DeliveryState.EXPIRED, DeliveryState.UNKNOWN}
)  # never sent (again)

METADATA = MetaData()  # what the migrations must build (store/migrations/env.py, tests)


def _id() -> Column[Any]:
    return Column("id", Integer, primary_key=True)


def _utc(name: str, *, nullable: bool = False, index: bool = False) -> Column[Any]:
    return Column(name, UTCDateTime(), nullable=nullable, index=index)


def _json(name: str) -> Column[Any]:
    return Column(name, JSON, nullable=False)


def _text(name: str, *, nullable: bool = True) -> Column[Any]:
    return Column(name, Text, nullable=nullable)


def _str(name: str, length: int, *, nullable: bool = False, index: bool = False) -> Column[Any]:
    return Column(name, String(length), nullable=nullable, index=index)


def _paper_key() -> Column[Any]:
    """The paper a row is about, part of its primary key; erasing the paper erases the row."""
    return Column(
        "arxiv_id",
        String(32),
        ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    )


def _owner() -> Column[Any]:
    """The subscriber a row belongs to; erasing the subscriber erases the row."""
    return Column(
        "subscriber_id",
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


def _int(name: str, default: int | None = None) -> Column[Any]:
    """An integer column: NOT NULL with its default, nullable without one."""
    return Column(name, Integer, nullable=default is None, default=default)


# One row per arXiv id; mutable fields follow the latest fetch, first_seen_at never moves.
PAPERS = Table(
    "papers",
    METADATA,
    Column("arxiv_id", String(32), primary_key=True),
    _text("title", nullable=False),
    _text("summary"),
    _json("authors"),  # list[str]
    _int("author_count", 0),
    _str("organization", 200, nullable=True),
    _str("organization_slug", 200, nullable=True),
    _utc("published_at", nullable=True),
    _utc("submitted_on_daily_at", nullable=True),
    _str("submitter", 200, nullable=True),
    _int("upvotes", 0),
    _int("num_comments"),
    _text("github_repo"),
    _int("github_stars"),
    _text("project_page"),
    _text("ai_summary"),
    _json("ai_keywords"),  # list[str]
    _text("thumbnail"),
    _json("media_urls"),  # list[str]
    _utc("first_seen_at", index=True),
    _utc("last_seen_at"),
)

# One row per fetch of one source, whatever its verdict.
FETCHES = Table(
    "fetches",
    METADATA,
    _id(),
    _str("source", 16),  # a View (scraper.models): day, week, ..., feed
    _str("period", 300),  # 2026-07-02 | 2026-W27 | 2026-07 | the search query
    _text("url", nullable=False),
    _str("path", 16, nullable=True),  # a ParsePath (scraper.models)
    _int("status_code"),
    _str("verdict", 16, index=True),  # a Verdict (scraper.models)
    _int("paper_count", 0),
    _int("new_papers", 0),
    _text("error"),
    _str("error_kind", 32, nullable=True),
    _int("requests", 0),
    _utc("started_at", index=True),
    _utc("finished_at"),
    _int("duration_ms", 0),
    _text("etag"),
    _str("last_modified", 64, nullable=True),
    Index("ix_fetches_source_period", "source", "period"),
)

# A paper's latest upvotes and rank in one (view, period): "it trended in week 27".
OBSERVATIONS = Table(
    "observations",
    METADATA,
    _paper_key(),
    Column("view", String(16), primary_key=True),  # a View (scraper.models)
    Column("period", String(300), primary_key=True),
    _int("upvotes", 0),
    _int("rank", 0),
    _utc("first_seen_at"),
    _utc("last_seen_at"),
    Column("fetch_id", Integer, ForeignKey("fetches.id", ondelete="SET NULL"), nullable=True),
    Index("ix_observations_view_period", "view", "period"),
)

# A subscriber; unsubscribed ones are kept (suppression) until forgotten.
SUBSCRIBERS = Table(
    "subscribers",
    METADATA,
    _id(),
    # normalised, compared case-insensitively
    Column("email", String(320), nullable=False, unique=True),
    # What every link in a mail names (never the id): random, rotated when old links must die.
    _str("link_key", 32),
    _str("status", 16, index=True),  # a Status (store.types)
    _str("time_zone", 64),  # IANA name
    Column("send_hour", Integer, nullable=False),  # 0..23, local time
    Column("send_minute", Integer, nullable=False, default=0, server_default="0"),  # 0..59
    _str("frequency", 16),  # a Frequency (store.types)
    _int("weekday", 0),  # 0 = Monday; used by weekly
    _int("max_papers", 20),
    # send a short "nothing today" mail when nothing matched
    Column("send_empty", Boolean, nullable=False, default=False),
    # a small thumbnail beside each title in the mail (False: none)
    Column("thumbnails", Boolean, nullable=False, default=True, server_default=true()),
    _utc("created_at"),
    _utc("updated_at"),
    _utc("confirmed_at", nullable=True),
    _utc("unsubscribed_at", nullable=True),
    UniqueConstraint("link_key", name="uq_subscribers_link_key"),
    sqlite_autoincrement=True,  # a deleted id is never handed out again
)

# A named keyword profile of one subscriber.
PROFILES = Table(
    "profiles",
    METADATA,
    _id(),
    _owner(),
    _str("name", 64),
    _text("query", nullable=False),
    # How close a paper must be to the profile's about:/like: (0 = the default; negative is
    # broader, positive narrower), valid for the model it was set with (paperboy.semantic).
    Column("closeness", Integer, nullable=False, default=0, server_default="0"),
    _str("closeness_model", 64, nullable=True),
    _utc("created_at"),
    _utc("updated_at"),
    UniqueConstraint("subscriber_id", "name", name="uq_profiles_subscriber_name"),
)

# One vector per (paper, model): float16 bytes, and a hash of the text it was computed from
# (recomputed when the title or abstract changes).
EMBEDDINGS = Table(
    "embeddings",
    METADATA,
    _paper_key(),
    Column("model", String(64), primary_key=True),
    _str("text_hash", 64),
    Column("vector", LargeBinary, nullable=False),
    _utc("created_at"),
)

# The vector of a topic text (an ``about:`` or a profile's description) per model, so a cold
# process does not embed every profile's topic again.
TOPIC_VECTORS = Table(
    "topic_vectors",
    METADATA,
    Column("text_hash", String(64), primary_key=True),
    Column("model", String(64), primary_key=True),
    Column("vector", LargeBinary, nullable=False),
    _utc("created_at"),
)

# A subscriber's signal on one paper for one profile: "like" (more like this) or "reject" (not
# interested). One per (profile, paper): the latest signal wins, undo deletes it.
FEEDBACK = Table(
    "feedback",
    METADATA,
    _id(),
    Column("profile_id", ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False, index=True),
    _str("arxiv_id", 32),
    _str("signal", 8),  # a Signal (store.feedback): like | reject
    _utc("created_at"),
    UniqueConstraint("profile_id", "arxiv_id", name="uq_feedback_profile_paper"),
)

# One digest per (subscriber, period): what was decided, kept compact for the archive page
# (rendered on demand from ``paper_ids``). Its message bytes are a ``messages`` row.
DIGESTS = Table(
    "digests",
    METADATA,
    _id(),
    _owner(),
    _str("period", 16),  # 2026-07-02 or 2026-W27, in the subscriber's zone
    _str("kind", 16),  # a DigestKind (store.types): papers | nothing | skipped
    _utc("window_start"),  # papers first seen after this ...
    _utc("window_end"),  # ... and up to this
    _json("paper_ids"),  # every matching paper, ranked; the mail shows the first ones
    _int("shown", 0),
    _text("subject", nullable=False),
    _str("message_id", 255),
    _utc("created_at", index=True),
    UniqueConstraint("subscriber_id", "period", name="uq_digests_subscriber_period"),
    # Each due subscriber's previous window end, read from the index alone (migration 0012).
    Index("ix_digests_subscriber_window", "subscriber_id", "window_end"),
)

# A digest's MIME message, built once and sent as is: kept only while its delivery may send it
# (deleted in the update that makes the delivery final; never made for a skipped digest).
#
# A table of its own so the digest rows stay small and dense: bytes kept in the digest row left a
# nearly empty page per digest once cleared (bench/RESULTS.md).
MESSAGES = Table(
    "messages",
    METADATA,
    Column(
        "digest_id",
        ForeignKey("digests.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("message", LargeBinary, nullable=False),
)

# The delivery ledger: pending -> sending -> sent | temp_failed | expired | perm_failed | unknown
# (see store.ledger: only perm_failed, a refusal of the recipient, is a bounce).
DELIVERIES = Table(
    "deliveries",
    METADATA,
    _id(),
    Column("digest_id", ForeignKey("digests.id", ondelete="CASCADE"), nullable=False, unique=True),
    _str("recipient", 320),
    _str("state", 16, index=True),  # a DeliveryState (store.types)
    _int("attempts", 0),
    _utc("next_attempt_at"),  # claims read the partial ix_deliveries_due
    _utc("deadline"),  # retries stop here: the next digest is due
    _str("lease_owner", 64, nullable=True),
    _utc("lease_until", nullable=True),
    _utc("data_started_at", nullable=True),  # DATA began: a crash now is "unknown"
    _int("last_code"),
    _text("last_error"),
    _utc("sent_at", nullable=True),
    _utc("updated_at"),
    Index(  # the waiting deliveries in claiming order (migration 0006)
        "ix_deliveries_due",
        "next_attempt_at",
        "id",
        sqlite_where=text(WAITING),
        postgresql_where=text(WAITING),
    ),
)

# The heartbeat: one row per unattended run, with its counters.
RUNS = Table(
    "runs",
    METADATA,
    _id(),
    _str("run_id", 16, index=True),
    _str("kind", 16),  # a RunKind (store.types): run-once | fetch | dispatch
    _utc("started_at", index=True),
    _utc("finished_at"),
    _json("counters"),  # dict[str, int]
)

# An incident the operator was told about: opened once, closed when it recovers.
ALERTS = Table(
    "alerts",
    METADATA,
    _id(),
    _str("key", 64, index=True),  # broken:day | stale
    _text("message", nullable=False),
    _utc("opened_at"),
    _utc("closed_at", nullable=True),
    _utc("mailed_at", nullable=True),
)
