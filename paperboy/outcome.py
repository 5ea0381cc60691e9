"""What becomes of a delivery after one try: pure functions of (the relay's answer, attempts,
deadline, now), no I/O. The sender (paperboy.sending) records what they decide.

- accepted (2xx) -> ``sent``;
- the whole message went out and no final reply came -> ``unknown`` (at most once: never again);
- our relay or our own sender refused -> ``released``: the claim is given back, its attempt not
  counted, and the run stops (nobody's delivery is at fault);
- a permanent refusal of the recipient -> ``perm_failed`` (the only state the bounce rule counts);
- anything else (a 4xx, 552, a timeout or cut before DATA) -> ``temp_failed`` with the next
  attempt after a backoff, or ``expired`` when that would be at or past the deadline (the next
  digest is due by then).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from mailer.transports import RelayError, SendError, Unconfirmed
from store.types import RELEASED, DeliveryState, Released

BOUNCE_AFTER = 3  # permanent failures in a row before an address is suppressed
BACKOFF_CAP_MINUTES = 60.0
GAVE_UP = "gave up: the next digest is due"


class Tally(StrEnum):
    """The counter of paperboy.mailrun.Report one try adds 1 to (its field's name)."""

    SENT = "sent"
    UNCONFIRMED = "unconfirmed"
    RETRYING = "retrying"
    FAILED = "failed"
    EXPIRED = "expired"
    BOUNCED = "bounced"  # failed, and the address suppressed
    REQUEUED = "requeued"  # another sender took it over before DATA
    NONE = ""  # released: the run stops, nothing counted


@dataclass(frozen=True, slots=True)
class NextState:
    """A delivery's state after one try, and what the report counts it as."""

    state: DeliveryState | Released  # sent, unknown, perm_failed, temp_failed, expired; released
    counted: Tally
    code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None  # when it would be tried again (temp_failed, expired)

    @property
    def refused(self) -> bool:
        """The relay refused this message (not us, and not after taking it whole)."""
        return self.state in _REFUSED

    @property
    def stops_run(self) -> bool:
        """The relay refused us: no other message may go through it this run."""
        return self.state == RELEASED


_REFUSED = (DeliveryState.PERM_FAILED, DeliveryState.TEMP_FAILED, DeliveryState.EXPIRED)


def backoff(attempts: int, jitter: float) -> timedelta:
    """1, 2, 4, ... minutes (capped at an hour) after the ``attempts``-th try, each with up to
    50% more: ``jitter`` in [0, 1) (a random number, so that senders spread out)."""
    base = min(BACKOFF_CAP_MINUTES, 2.0 ** max(0, attempts - 1))
    return timedelta(minutes=base * (1 + jitter / 2))


def accepted(code: int) -> NextState:
    return NextState(DeliveryState.SENT, Tally.SENT, code=code)


def after_error(
    error: SendError, *, attempts: int, deadline: datetime, now: datetime, jitter: float
) -> NextState:
    """The next state of a delivery the transport did not take (``error``), tried
    ``attempts`` times so far (this try included)."""
    if isinstance(error, RelayError):
        return NextState(RELEASED, Tally.NONE, code=error.code, error=error.message)
    if isinstance(error, Unconfirmed):
        return NextState(DeliveryState.UNKNOWN, Tally.UNCONFIRMED, error=error.message)
    if error.permanent and error.recipient_refused:
        return NextState(DeliveryState.PERM_FAILED, Tally.FAILED, error.code, error.message)
    retry_at = now + backoff(attempts, jitter)
    if retry_at < deadline:
        return NextState(
            DeliveryState.TEMP_FAILED, Tally.RETRYING, error.code, error.message, retry_at
        )
    return NextState(
        DeliveryState.EXPIRED,
        Tally.EXPIRED,
        code=error.code,
        error=f"{error.message} ({GAVE_UP})",
        retry_at=retry_at,
    )


def bounced(permanent_failures_in_a_row: int) -> bool:
    """Whether a recipient refused for good this often in a row is suppressed."""
    return permanent_failures_in_a_row >= BOUNCE_AFTER
