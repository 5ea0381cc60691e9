"""The digest archive and the delivery ledger, with leases so several senders can share work.

States: pending -> sending -> sent | temp_failed (retried) | expired | perm_failed | unknown.
``perm_failed`` is a permanent refusal of the recipient, the only state the bounce rule counts;
``expired`` a temporary failure still failing when the next digest was due (not the reader's
fault); ``unknown`` a message that may have been delivered (never sent again).
A claim writes a unique token into ``lease_owner``; every later update is fenced on it, so a
sender whose lease was taken over cannot overwrite the new owner's result. Just before the
point of no return (SMTP DATA) a sender marks ``data_started_at``: a lease that expires
without it is requeued (the message never left); one that expires with it becomes ``unknown``
(it may have been delivered) and is not sent again automatically.

A digest's message bytes (a ``messages`` row) are kept only while its delivery may still send
them: the update that makes a delivery final deletes them. ``prune`` deletes old digests (and
their deliveries) in short batches, never one still waiting and never a subscriber's latest.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    Executable,
    and_,
    bindparam,
    desc,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from store.base import Repository
from store.batching import chunks, compiled_once
from store.columns import UTCDateTime, driver_instant
from store.errors import MessageMissing
from store.tables import DELIVERIES, DIGESTS, FINAL, MESSAGES, WAITING
from store.types import (
    RELEASED,
    Claim,
    Delivered,
    Delivery,
    DeliveryState,
    Digest,
    DigestKind,
    DigestRecord,
    Released,
)


class Ledger(Repository):
    """The digest archive and the delivery ledger."""

    # -- digests -----------------------------------------------------------------------------

    def record(self, digest: DigestRecord) -> int | None:
        """Keep the digest and queue its delivery atomically; None if its period is taken."""
        values = asdict(digest)
        deadline = values.pop("deadline")
        recipient = values.pop("recipient")
        message = values.pop("message")
        del values["html"], values["text"]  # the archive page is rendered on demand
        values["paper_ids"] = list(digest.paper_ids)
        try:
            with self._begin() as connection:
                digest_id = connection.execute(
                    DIGESTS.insert().values(**values).returning(DIGESTS.c.id)
                ).scalar_one()
                # A skipped digest is never sent: no bytes kept.
                if digest.kind != DigestKind.SKIPPED:
                    connection.execute(
                        MESSAGES.insert().values(digest_id=digest_id, message=message)
                    )
                    connection.execute(
                        DELIVERIES.insert().values(
                            digest_id=digest_id,
                            recipient=recipient,
                            state=DeliveryState.PENDING,
                            attempts=0,
                            next_attempt_at=digest.created_at,
                            deadline=deadline,
                            updated_at=digest.created_at,
                        )
                    )
        except IntegrityError:
            return None  # (subscriber, period) is taken: another run composed it first
        return int(digest_id)

    def periods(self, subscriber_ids: Sequence[int]) -> dict[int, frozenset[str]]:
        found: dict[int, set[str]] = {}
        for chunk in chunks(subscriber_ids, 500):
            query = select(DIGESTS.c.subscriber_id, DIGESTS.c.period).where(
                DIGESTS.c.subscriber_id.in_(chunk)
            )
            for row in self._rows(query):
                found.setdefault(row.subscriber_id, set()).add(row.period)
        return {k: frozenset(v) for k, v in found.items()}

    def window_ends(self, subscriber_ids: Sequence[int]) -> dict[int, datetime]:
        """Where each subscriber's previous digest stopped looking."""
        found: dict[int, datetime] = {}
        for chunk in chunks(subscriber_ids, 500):
            query = (
                select(DIGESTS.c.subscriber_id, func.max(DIGESTS.c.window_end).label("end"))
                .where(DIGESTS.c.subscriber_id.in_(chunk))
                .group_by(DIGESTS.c.subscriber_id)
            )
            for row in self._rows(query):
                found[row.subscriber_id] = _aware(row.end)
        return found

    def digest(self, digest_id: int) -> Digest | None:
        return self._one_digest(_DIGEST.where(DIGESTS.c.id == digest_id))

    def digest_for(self, subscriber_id: int, period: str) -> Digest | None:
        query = _DIGEST.where(DIGESTS.c.subscriber_id == subscriber_id, DIGESTS.c.period == period)
        return self._one_digest(query)

    def _one_digest(self, query: Any) -> Digest | None:
        row = self._first(query)
        return _digest(row) if row is not None else None

    # -- deliveries --------------------------------------------------------------------------

    def reclaim(self, now: datetime) -> tuple[int, int]:
        """Expired leases: back to pending if DATA never started, else ``unknown``."""
        expired = and_(DELIVERIES.c.state == DeliveryState.SENDING, DELIVERIES.c.lease_until < now)
        with self._begin() as connection:
            requeued = connection.execute(
                update(DELIVERIES)
                .where(expired, DELIVERIES.c.data_started_at.is_(None))
                .values(
                    state=DeliveryState.PENDING, lease_owner=None, lease_until=None, updated_at=now
                )
            ).rowcount
            started = and_(expired, DELIVERIES.c.data_started_at.is_not(None))
            digest_ids = list(
                connection.execute(select(DELIVERIES.c.digest_id).where(started)).scalars()
            )
            unknown = connection.execute(
                update(DELIVERIES)
                .where(started)
                .values(
                    state=DeliveryState.UNKNOWN,
                    lease_owner=None,
                    lease_until=None,
                    last_error="the sender stopped after DATA began: it may have been delivered",
                    updated_at=now,
                )
            ).rowcount
            if digest_ids:  # never sent again: the bytes are not needed
                connection.execute(MESSAGES.delete().where(MESSAGES.c.digest_id.in_(digest_ids)))
        return requeued, unknown

    def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[Claim]:
        """Take up to ``limit`` due deliveries under a fresh lease token."""
        token = uuid.uuid4().hex
        with self._begin() as connection:
            ids = list(
                connection.execute(
                    _due(connection.dialect.name), {"now": now, "limit": limit}
                ).scalars()
            )
            if not ids:
                return []
            connection.execute(
                _CLAIM, {"ids": ids, "now": now, "token": token, "until": now + lease}
            )
        # Read the messages after the claim committed: the write lock is held for the ids only,
        # not for reading a batch of 60 KB messages (other senders wait for that lock).
        return [_claim(r, token) for r in self._rows(_CLAIMED.params(ids=ids, token=token))]

    def data_started_many(
        self, marks: Sequence[tuple[Claim, Delivered | None]], now: datetime
    ) -> list[bool]:
        """Mark each claim's point of no return (SMTP DATA) in one transaction: False for one
        whose lease was lost (then do not send it). A group commit: senders that ask at the same
        moment share one commit; each answer is its own. A mark's ``Delivered``, that sender's
        previous message, is recorded as sent in the same transaction: one commit per message
        instead of two."""
        with self._begin() as connection:
            started = []
            for claim, delivered in marks:
                if delivered is not None:
                    self._fenced_in(connection, delivered.claim, _sent_values(delivered))
                values = {"data_started_at": now, "updated_at": now}
                started.append(self._fenced_in(connection, claim, values))
            return started

    def release(self, claim: Claim, now: datetime) -> bool:
        """Give back a claimed delivery that was never started (a clean shutdown)."""
        return self._fenced(claim, _released_values(claim, now))

    def sent(self, delivered: Delivered) -> bool:
        return self._fenced(delivered.claim, _sent_values(delivered))

    def record_outcome(self, claim: Claim, decided: Decided, now: datetime) -> bool:
        """Record the next state paperboy.outcome decided for a message the relay did not take
        (``released``, ``temp_failed``, ``expired``, ``perm_failed``, ``unknown``); False if
        the lease was lost. Nothing is decided here: a ``sent`` goes through ``sent`` or
        ``data_started_many`` (one commit per message)."""
        return self._fenced(claim, _outcome_values(claim, decided, now))

    def _fenced(self, claim: Claim, values: dict[str, Any]) -> bool:
        with self._begin() as connection:
            return self._fenced_in(connection, claim, values)

    def _fenced_in(self, connection: Connection, claim: Claim, values: dict[str, Any]) -> bool:
        """Update the delivery only while this claim still holds its lease.

        Run through the driver with values converted beforehand: on SQLite this runs while the
        one write lock is held, which every other sender is waiting for.
        """
        sqlite_style = connection.dialect.name == "sqlite"
        params = {
            f"new_{name}": driver_instant(v, sqlite_style) if isinstance(v, datetime) else v
            for name, v in values.items()
        }
        params |= {"fence_id": claim.delivery_id, "fence_token": claim.token}
        sql, order = _fenced_sql(connection, tuple(values))
        bound: Any = tuple(params[name] for name in order) if order is not None else params
        done = bool(connection.exec_driver_sql(sql, bound).rowcount)
        if done and values.get("state") in FINAL:  # final: the bytes will never be sent again
            connection.execute(_DROP_MESSAGE, {"digest_id": claim.digest_id})
        return done

    def permanent_failures_in_a_row(self, recipient: str) -> int:
        """Consecutive permanent refusals of an address, newest first, until a success; expired,
        unknown and waiting deliveries neither count nor break the run."""
        query = (
            select(DELIVERIES.c.state)
            .where(
                DELIVERIES.c.recipient == recipient,
                DELIVERIES.c.state.in_((DeliveryState.SENT, DeliveryState.PERM_FAILED)),
            )
            .order_by(desc(DELIVERIES.c.id))
            .limit(20)
        )
        count = 0
        for row in self._rows(query):
            if row.state != DeliveryState.PERM_FAILED:
                break
            count += 1
        return count

    def deliveries(self, *, limit: int = 30, state: DeliveryState | None = None) -> list[Delivery]:
        query = (
            select(DELIVERIES, DIGESTS.c.period)
            .join(DIGESTS, DIGESTS.c.id == DELIVERIES.c.digest_id)
            .order_by(desc(DELIVERIES.c.id))
            .limit(limit)
        )
        if state is not None:
            query = query.where(DELIVERIES.c.state == state)
        return [
            Delivery(
                id=r.id,
                digest_id=r.digest_id,
                recipient=r.recipient,
                period=r.period,
                state=DeliveryState(r.state),
                attempts=r.attempts,
                next_attempt_at=_aware(r.next_attempt_at),
                last_code=r.last_code,
                last_error=r.last_error,
                sent_at=_aware(r.sent_at) if r.sent_at else None,
                updated_at=_aware(r.updated_at),
            )
            for r in self._rows(query)
        ]

    # -- retention ---------------------------------------------------------------------------

    def prune(self, before: datetime, *, batch: int = 500) -> int:
        """Delete the digests made before ``before``, with their deliveries; how many went.

        Kept: a digest whose delivery still waits (pending, sending, temp_failed) and each
        subscriber's latest digest (where the next one's window starts). The candidates are
        read outside any transaction, walking the ``created_at`` index from the oldest, each
        batch from where the last one stopped (nothing to prune reads a few index entries);
        each batch is then deleted in its own short write transaction (a delivery that is final
        stays final, so what was read still holds).
        """
        pruned, after = 0, None
        while True:
            rows = self._rows(_prunable(after, before, batch))
            if not rows:
                return pruned
            ids = [r.id for r in rows]
            with self._begin() as connection:  # a final delivery has no message left: a no-op
                connection.execute(MESSAGES.delete().where(MESSAGES.c.digest_id.in_(ids)))
                connection.execute(DELIVERIES.delete().where(DELIVERIES.c.digest_id.in_(ids)))
                pruned += connection.execute(DIGESTS.delete().where(DIGESTS.c.id.in_(ids))).rowcount
            after = (rows[-1].created_at, rows[-1].id)

    def counts(self) -> dict[str, int]:
        query = select(DELIVERIES.c.state, func.count()).group_by(DELIVERIES.c.state)
        return {row[0]: int(row[1]) for row in self._rows(query)}


def _prunable(after: tuple[datetime, int] | None, before: datetime, batch: int) -> Any:
    """The next ``batch`` digests ``prune`` may delete, in (created_at, id) order after
    ``after``: a range of the ``created_at`` index (a keyset, never a walk of every digest)."""
    later = DIGESTS.alias("later")
    waiting = DELIVERIES.c.state.in_(
        (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.TEMP_FAILED)
    )
    since: ColumnElement[bool] = true()
    if after is not None:  # the range starts at the index, the tie on created_at by id
        at, last = after
        since = and_(
            DIGESTS.c.created_at >= at,
            or_(DIGESTS.c.created_at > at, DIGESTS.c.id > last),
        )
    return (
        select(DIGESTS.c.id, DIGESTS.c.created_at)
        .where(
            since,
            DIGESTS.c.created_at < before,
            select(later.c.id)  # not the latest: Ledger.window_ends reads its window's end
            .where(
                later.c.subscriber_id == DIGESTS.c.subscriber_id,
                or_(
                    later.c.window_end > DIGESTS.c.window_end,
                    and_(later.c.window_end == DIGESTS.c.window_end, later.c.id > DIGESTS.c.id),
                ),
            )
            .exists(),
            ~select(DELIVERIES.c.id)
            .where(DELIVERIES.c.digest_id == DIGESTS.c.id, waiting)
            .exists(),
        )
        .order_by(DIGESTS.c.created_at, DIGESTS.c.id)
        .limit(batch)
    )


class Decided(Protocol):
    """A delivery's next state as paperboy.outcome decides it (its ``NextState``)."""

    @property
    def state(self) -> DeliveryState | Released: ...

    @property
    def code(self) -> int | None: ...

    @property
    def error(self) -> str | None: ...

    @property
    def retry_at(self) -> datetime | None: ...


def _outcome_values(claim: Claim, decided: Decided, now: datetime) -> dict[str, Any]:
    """The columns that hold ``decided``: the state, why, and when it is tried again."""
    state = decided.state
    if state == RELEASED:
        return _released_values(claim, now)
    if state not in (
        DeliveryState.TEMP_FAILED,
        DeliveryState.EXPIRED,
        DeliveryState.PERM_FAILED,
        DeliveryState.UNKNOWN,
    ):
        raise ValueError(f"not an outcome the ledger records: {str(state)!r}")
    values: dict[str, Any] = {
        "state": state,
        "last_code": decided.code,
        "last_error": (decided.error or "")[:2000],
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
    }
    if state == DeliveryState.UNKNOWN:  # its data_started_at mark stays, as after a crash
        return values
    values["data_started_at"] = None
    if state == DeliveryState.TEMP_FAILED:
        if decided.retry_at is None:
            raise ValueError("a temp_failed outcome needs its retry_at")
        values["next_attempt_at"] = decided.retry_at
    return values


def _released_values(claim: Claim, now: datetime) -> dict[str, Any]:
    """Back to pending, its attempt not counted."""
    return {
        "state": DeliveryState.PENDING,
        "lease_owner": None,
        "lease_until": None,
        "attempts": claim.attempts - 1,
        "updated_at": now,
    }


def _sent_values(delivered: Delivered) -> dict[str, Any]:
    return {
        "state": DeliveryState.SENT,
        "sent_at": delivered.at,
        "last_code": delivered.code,
        "last_error": None,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": delivered.at,
    }


# The next due deliveries, read from the partial index of waiting ones (migration 0006): a few
# index entries instead of sorting every waiting row while holding the write lock. SQLite's
# planner prefers the plain state index unless told (INDEXED BY fails loudly should the query
# stop matching the index's condition); PostgreSQL skips rows other senders lock.
_DUE_SQLITE = text(
    "SELECT id FROM deliveries INDEXED BY ix_deliveries_due "  # noqa: S608 (constants only)
    f"WHERE {WAITING} AND next_attempt_at <= :now ORDER BY next_attempt_at, id LIMIT :limit"
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("limit"))
_DUE = (
    select(DELIVERIES.c.id)
    .where(text(WAITING), DELIVERIES.c.next_attempt_at <= bindparam("now"))
    .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


def _due(dialect: str) -> Executable:
    return _DUE_SQLITE if dialect == "sqlite" else _DUE


# Built once: a claim runs every few messages, and building these anew (coercing every clause)
# cost more than running them.
_CLAIM = (
    update(DELIVERIES)
    .where(  # re-checked: another sender may have claimed and finished it meanwhile
        DELIVERIES.c.id.in_(bindparam("ids", expanding=True)),
        text(WAITING),
        DELIVERIES.c.next_attempt_at <= bindparam("now", type_=UTCDateTime()),
    )
    .values(
        state=DeliveryState.SENDING,
        lease_owner=bindparam("token"),
        lease_until=bindparam("until", type_=UTCDateTime()),
        data_started_at=None,
        attempts=DELIVERIES.c.attempts + 1,
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
)
_CLAIMED = (
    select(  # only what sending needs
        DELIVERIES.c.id,
        DELIVERIES.c.recipient,
        DELIVERIES.c.attempts,
        DELIVERIES.c.deadline,
        DIGESTS.c.id.label("digest_id"),
        DIGESTS.c.subscriber_id,
        DIGESTS.c.message_id,
        MESSAGES.c.message,
    )
    .join(DIGESTS, DIGESTS.c.id == DELIVERIES.c.digest_id)
    .outerjoin(MESSAGES, MESSAGES.c.digest_id == DELIVERIES.c.digest_id)
    .where(  # by key (lease_owner has no index: the ledger keeps every delivery ever made)
        DELIVERIES.c.id.in_(bindparam("ids", expanding=True)),
        DELIVERIES.c.lease_owner == bindparam("token"),
    )
    .order_by(DELIVERIES.c.id)
)


_DROP_MESSAGE = MESSAGES.delete().where(MESSAGES.c.digest_id == bindparam("digest_id"))
_DIGEST = select(DIGESTS, MESSAGES.c.message).outerjoin(
    MESSAGES, MESSAGES.c.digest_id == DIGESTS.c.id
)


def _claim(r: Any, token: str) -> Claim:
    if r.message is None:  # cannot happen: the bytes go only with a final state
        raise MessageMissing(r.id, r.digest_id)
    return Claim(
        delivery_id=r.id,
        token=token,
        digest_id=r.digest_id,
        subscriber_id=r.subscriber_id,
        message_id=r.message_id,
        message=bytes(r.message),
        recipient=r.recipient,
        attempts=r.attempts,
        deadline=_aware(r.deadline),
    )


def _fenced_sql(
    connection: Connection, names: tuple[str, ...]
) -> tuple[str, tuple[str, ...] | None]:
    """``UPDATE deliveries SET <names> WHERE <the claim's fence>`` compiled once per dialect and
    column set, with the parameter order for positional drivers (None: named parameters).

    Two of these run per message sent; building the statement anew each time was most of the
    sender's CPU (bench/RESULTS.md).
    """

    def build() -> Executable:
        return (
            update(DELIVERIES)
            .where(
                DELIVERIES.c.id == bindparam("fence_id"),
                DELIVERIES.c.lease_owner == bindparam("fence_token"),
                DELIVERIES.c.state == literal_column("'sending'"),
            )
            .values({name: bindparam(f"new_{name}") for name in names})
        )

    found = compiled_once(connection, ("fenced update", names), build)
    return found.sql, found.names


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _digest(m: Any) -> Digest:
    values = {name: m[name] for name in Digest.__dataclass_fields__}
    values["paper_ids"] = tuple(values["paper_ids"] or ())
    values["kind"] = DigestKind(values["kind"])
    return Digest(**values)
