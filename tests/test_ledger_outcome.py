"""The ledger records what paperboy.outcome decided and decides nothing itself: each next state
lands in its columns as given, fenced by the claim's token, the message bytes go with a final
state, and anything that is not a recorded outcome is refused. Both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailer.transports import RelayError, SendError, Unconfirmed
from paperboy import outcome
from paperboy.outcome import NextState
from store.types import Claim, Delivery
from tests.world import NOW, World, world

LEASE = timedelta(minutes=5)


def claimed(w: World, count: int = 1) -> list[Claim]:
    for n in range(count):
        w.subscribe(f"r{n}@example.org")
    w.dispatcher().compose()
    return w.ledger.claim(NOW, lease=LEASE, limit=count)


def row(w: World, claim: Claim) -> Delivery:
    (found,) = [d for d in w.ledger.deliveries(limit=100) if d.id == claim.delivery_id]
    return found


def decided(claim: Claim, error: SendError, *, now_after: timedelta) -> NextState:
    return outcome.after_error(
        error, attempts=claim.attempts, deadline=claim.deadline, now=NOW + now_after, jitter=0.0
    )


@pytest.mark.parametrize(
    ("error", "later", "state"),
    [
        (SendError("451 later", code=451, permanent=False), timedelta(0), "temp_failed"),
        (SendError("451 later", code=451, permanent=False), timedelta(days=9), "expired"),
        (
            SendError("550 no such user", code=550, permanent=True, recipient_refused=True),
            timedelta(0),
            "perm_failed",
        ),
        (Unconfirmed("no reply to the dot"), timedelta(0), "unknown"),
    ],
)
def test_the_decided_state_is_recorded_as_is(
    database_url: str, error: SendError, later: timedelta, state: str
) -> None:
    with world(database_url) as w:
        (claim,) = claimed(w)
        next_state = decided(claim, error, now_after=later)
        assert next_state.state == state
        assert w.ledger.record_outcome(claim, next_state, NOW + later)
        found = row(w, claim)
        assert (found.state, found.last_code, found.last_error) == (
            state,
            next_state.code,
            next_state.error,
        )
        if state == "temp_failed":
            assert found.next_attempt_at == next_state.retry_at
        else:  # never tried again: when it would have been is not written
            assert found.next_attempt_at <= NOW
        digest = w.ledger.digest(claim.digest_id)
        assert digest is not None
        assert (digest.message is None) == (state != "temp_failed")  # final: bytes gone


def test_a_released_claim_waits_with_its_attempt_given_back(database_url: str) -> None:
    with world(database_url) as w:
        (claim,) = claimed(w)
        assert claim.attempts == 1
        relay = RelayError("530 authentication required", code=530, step="AUTH")
        released = decided(claim, relay, now_after=timedelta(0))
        assert released.stops_run
        assert w.ledger.record_outcome(claim, released, NOW)
        (again,) = w.ledger.claim(NOW, lease=LEASE, limit=1)
        assert (again.delivery_id, again.attempts) == (claim.delivery_id, 1)


def test_an_outcome_is_fenced_by_the_claim_token(database_url: str) -> None:
    with world(database_url) as w:
        (claim,) = claimed(w)
        assert w.ledger.reclaim(NOW + LEASE + timedelta(seconds=1)) == (1, 0)
        (taken,) = w.ledger.claim(NOW + LEASE * 2, lease=LEASE, limit=1)
        assert taken.delivery_id == claim.delivery_id
        refused = NextState("perm_failed", "failed", code=550, error="no such user")
        assert not w.ledger.record_outcome(claim, refused, NOW + LEASE * 2)  # lease lost
        assert row(w, claim).state == "sending"  # the new holder's, untouched
        digest = w.ledger.digest(claim.digest_id)
        assert digest is not None
        assert digest.message is not None


@pytest.mark.parametrize(
    "next_state",
    [
        NextState("sent", "sent", code=250),  # a success goes through sent / data_started_many
        NextState("pending", ""),
        NextState("temp_failed", "retrying", code=451, error="later"),  # no retry_at
    ],
)
def test_what_is_not_a_decided_outcome_is_refused(database_url: str, next_state: NextState) -> None:
    with world(database_url) as w:
        (claim,) = claimed(w)
        with pytest.raises(ValueError, match="outcome"):
            w.ledger.record_outcome(claim, next_state, NOW)
        assert row(w, claim).state == "sending"
