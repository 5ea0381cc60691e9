"""Deliver what is due: claim, send, record, under leases; any number of senders can run at once.

The thin I/O around paperboy.outcome, which decides each delivery's next state. A sender runs
every connection on one event loop; the ledger's calls, which block, run in order on one thread
of their own (see _LedgerThread). Re-running after a crash never sends a message twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import ParamSpec, Protocol, TypeVar

from mailer.transports import RelayError, SendError, Transport
from mailer.types import Envelope
from paperboy import outcome
from paperboy.breaker import Breaker, Watched
from paperboy.clock import Clock
from paperboy.errors import PaperboyError
from paperboy.mailrun import MailConfig, Report
from store.types import Action, Claim, Delivered, DeliveryState, Status, Subscriber, transition

log = logging.getLogger(__name__)
# What the operator reads when the relay refused us and its error says nothing more specific.
RELAY_HINT = (
    "check the relay and PAPERBOY_SMTP_* and PAPERBOY_MAIL_FROM (`paperboy doctor` tries the "
    "login); the digests wait and go out on the next run"
)
P = ParamSpec("P")
T = TypeVar("T")


class DeliveryLedger(Protocol):
    """What delivering needs of the ledger (store.ledger.Ledger)."""

    def reclaim(self, now: datetime) -> tuple[int, int]: ...

    def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[Claim]: ...

    def data_started_many(
        self, marks: Sequence[tuple[Claim, Delivered | None]], now: datetime
    ) -> list[bool]: ...

    def release(self, claim: Claim, now: datetime) -> bool: ...

    def sent(self, delivered: Delivered) -> bool: ...

    def record_outcome(self, claim: Claim, decided: outcome.NextState, now: datetime) -> bool: ...

    def permanent_failures_in_a_row(self, recipient: str) -> int: ...


class Suppressor(Protocol):
    """What delivering needs of the subscribers: suppressing an address that bounces."""

    def require(self, email: str) -> Subscriber: ...

    def set_status(self, email: str, status: Status, now: datetime) -> Subscriber: ...


class LeaseLost(Exception):
    """Another sender took this delivery over: stop before DATA."""


class Sender:
    def __init__(
        self,
        *,
        ledger: DeliveryLedger,
        people: Suppressor,
        config: MailConfig,
        clock: Clock,
        stopping: threading.Event | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._ledger, self._people, self._config, self._clock = ledger, people, config, clock
        self._rng = rng or random.Random()
        self._sender = parseaddr(config.sender)[1]  # the bare address, for MAIL FROM
        self.stopping = stopping or threading.Event()  # SIGTERM: finish the message in hand

    def deliver(self, transports: Callable[[], Transport], *, workers: int | None = None) -> Report:
        """Send every due delivery over a few connections at once, each reused for many.

        Never hangs on a failure: a store that refuses writes, a transport that cannot take
        messages, or the breaker (``breaker_after`` relay failures in a row) stops the whole
        run; the connections finish the message in hand, every claim not started is given back,
        and the report says why (``errors``, ``breaker``). So does ``stopping`` (SIGTERM).
        """
        report = Report()
        report.requeued, report.unknown = self._ledger.reclaim(self._clock())
        count = max(1, workers or self._config.workers)
        asyncio.run(self._deliver(transports, count, report))
        return report

    async def _deliver(
        self, transports: Callable[[], Transport], count: int, report: Report
    ) -> None:
        # One feeder claims batches ahead into a short queue that every connection takes from:
        # a connection never waits for a claim of its own, and claims (which read their
        # messages) never pile up in front of the ledger calls that messages wait on.
        queue: asyncio.Queue[Claim | None] = asyncio.Queue(maxsize=2 * self._config.batch)
        halted = asyncio.Event()
        with _LedgerThread() as ledger:
            marks = _StartMarks(self._ledger, ledger, self._clock)
            breaker = Breaker(self._config.breaker_after, halted)
            run = _Sending(ledger, marks, report, breaker, halted, self.stopping)
            feeder = asyncio.create_task(self._feed(queue, count, run))
            outcomes = await asyncio.gather(
                *(self._worker(transports, queue, run) for _ in range(count)),
                return_exceptions=True,
            )
            # Every connection is done. The feeder may wait for room in the queue or for a
            # claim: make room and let it finish (cancelling it mid-claim would strand that
            # claim), then give back whatever was claimed and never started.
            halted.set()
            left = _drain(queue)
            outcomes.append((await asyncio.gather(feeder, return_exceptions=True))[0])
            left += _drain(queue)
            outcomes.append(await self._give_back(left, ledger))
        report.breaker = report.breaker or breaker.reason
        for result in outcomes:
            if isinstance(result, RelayError):  # the transport refused us: said as breaker
                said = f"{result.message} ({result.hint or RELAY_HINT})"
                report.breaker = report.breaker or said
            elif isinstance(result, PaperboyError):  # the store failed: the CLI says why
                hint = f" ({result.hint})" if result.hint else ""
                report.errors.append(f"{result.message}{hint}")
            elif isinstance(result, BaseException) and not isinstance(
                result, asyncio.CancelledError
            ):
                raise result  # a bug, not a refusal or a store error: let it be seen

    async def _give_back(self, claims: list[Claim], ledger: _LedgerThread) -> BaseException | None:
        """Claimed, never started: back to the queue at once (else when their lease runs out)."""
        try:
            for claim in claims:
                await ledger(self._ledger.release, claim, self._clock())
        except PaperboyError as e:
            return e
        return None

    async def _feed(self, queue: asyncio.Queue[Claim | None], count: int, run: _Sending) -> None:
        try:
            while not run.stopped() and (
                claims := await run.ledger(
                    self._ledger.claim,
                    self._clock(),
                    lease=self._config.lease,
                    limit=self._config.batch,
                )
            ):
                for claim in claims:
                    await queue.put(claim)
        except BaseException as e:
            _stop_run(run, "claiming deliveries", e)
            raise
        finally:
            for _ in range(count):  # one "no more" for each connection
                if run.stopped():  # nobody may read them: never wait for room
                    _offer(queue, None)
                else:
                    await queue.put(None)

    async def _worker(
        self, transports: Callable[[], Transport], queue: asyncio.Queue[Claim | None], run: _Sending
    ) -> None:
        # The last message the server accepted, not yet marked sent: that mark rides along with
        # the next message's "DATA started" (one commit per message), or is written on its own
        # when there is no next one. A crash in between leaves it "unknown", never sent twice.
        pending: list[Delivered] = []
        transport: Transport | None = None
        try:
            transport = Watched(transports(), run.breaker)
            while not run.stopped() and (claim := await queue.get()) is not None:
                if run.stopped():  # not started: back to the queue, at once
                    await run.ledger(self._ledger.release, claim, self._clock())
                    break
                counted = await self._send_one(transport, claim, pending, run)
                setattr(run.report, counted, getattr(run.report, counted) + 1)
        except BaseException as e:  # one connection's failure stops them all, never silently
            _stop_run(run, "sending", e)
            raise
        finally:
            if run.stopped():  # wake the next connection waiting for a claim, if any
                _offer(queue, None)
            try:
                await run.ledger(self._flush, pending)
            finally:
                if transport is not None:
                    await transport.close()

    async def _send_one(
        self, transport: Transport, claim: Claim, pending: list[Delivered], run: _Sending
    ) -> outcome.Tally:
        message = Envelope(
            sender=self._sender,
            recipient=claim.recipient,
            message_id=claim.message_id,
            data=claim.message,
        )

        async def before_data() -> None:
            delivered = pending.pop() if pending else None
            try:
                started = await run.marks(claim, delivered)
            except BaseException:  # the store failed: the mark is tried again on the way out
                pending.extend([delivered] if delivered else [])
                raise
            if not started:
                raise LeaseLost

        try:
            code = await transport.send(message, before_data)
        except LeaseLost:
            return outcome.Tally.REQUEUED
        except SendError as e:
            # Refused, or no final reply: the previous message's mark is written on its own.
            await run.ledger(self._flush, pending)
            next_state, counted = await run.ledger(self._record, claim, e)
            if next_state.refused:  # why messages were not handed over, for the operator
                run.report.refusals[e.message] += 1
            return counted
        pending.append(Delivered(claim, self._clock(), code))
        return outcome.accepted(code).counted

    def _flush(self, pending: list[Delivered]) -> None:
        while pending:
            self._ledger.sent(pending.pop())

    def _record(self, claim: Claim, error: SendError) -> tuple[outcome.NextState, outcome.Tally]:
        """Record what outcome.after_error decides (the ledger only writes it down); with the
        Report counter it counts as."""
        now = self._clock()
        next_state = outcome.after_error(
            error,
            attempts=claim.attempts,
            deadline=claim.deadline,
            now=now,
            jitter=self._rng.random(),
        )
        self._ledger.record_outcome(claim, next_state, now)
        if next_state.stops_run:
            # Our relay or our own sender refused: nobody's delivery is at fault. It waits (its
            # attempt not counted) and the run stops, like the breaker, with the operator told.
            # (_deliver says why in the report's ``breaker``.)
            log.error("delivery stopped: %s (%s)", error.message, error.hint or RELAY_HINT)
            raise error
        # At most once: it may have arrived, so never again.
        if next_state.state == DeliveryState.UNKNOWN:
            log.warning("delivery %s to %s: %s", claim.delivery_id, claim.recipient, error)
            return next_state, next_state.counted
        log.warning(
            "delivery %s to %s: %s (%s)",
            claim.delivery_id,
            claim.recipient,
            error,
            next_state.state,
        )
        if next_state.state == DeliveryState.PERM_FAILED and outcome.bounced(
            self._ledger.permanent_failures_in_a_row(claim.recipient)
        ):
            current = self._people.require(claim.recipient).status
            self._people.set_status(claim.recipient, transition(current, Action.BOUNCE), now)
            return next_state, outcome.Tally.BOUNCED
        return next_state, next_state.counted


class _StartMarks:
    """Group commit of the "DATA started" marks: the marks asked for while one commit runs go
    together in the next, each with its own answer. A commit is most of a mark's cost (and on
    PostgreSQL a flush of its log), and every connection waits on its mark before DATA."""

    def __init__(self, ledger: DeliveryLedger, thread: _LedgerThread, clock: Clock) -> None:
        self._ledger, self._thread, self._clock = ledger, thread, clock
        self._waiting: list[tuple[Claim, Delivered | None, asyncio.Future[bool]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def __call__(self, claim: Claim, delivered: Delivered | None) -> bool:
        """Mark ``claim`` (and ``delivered`` as sent); False if its lease was lost."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((claim, delivered, answer))
        if self._committing is None:
            self._committing = asyncio.create_task(self._commit())
        return await answer

    async def _commit(self) -> None:
        batch: list[tuple[Claim, Delivered | None, asyncio.Future[bool]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                marks = [(claim, delivered) for claim, delivered, _ in batch]
                try:
                    started = await self._thread(
                        self._ledger.data_started_many, marks, self._clock()
                    )
                except Exception as e:  # every mark of the batch failed with its transaction
                    for *_, answer in batch:
                        if not answer.done():
                            answer.set_exception(e)
                else:
                    for (*_, answer), one in zip(batch, started, strict=True):
                        if not answer.done():
                            answer.set_result(one)
        finally:
            self._committing = None
            for *_, answer in batch + self._waiting:  # left only when the run is torn down
                answer.cancel()
            self._waiting = []


@dataclass(frozen=True, slots=True)
class _Sending:
    """What every connection of one delivery run shares."""

    ledger: _LedgerThread
    marks: _StartMarks
    report: Report
    breaker: Breaker
    halted: asyncio.Event  # a failure or the breaker stopped the run
    stopping: threading.Event  # a signal asked the run to stop

    def stopped(self) -> bool:
        """Take no more messages: finish the one in hand, give back the rest."""
        return self.halted.is_set() or self.stopping.is_set()


def _stop_run(run: _Sending, doing: str, error: BaseException) -> None:
    """A connection or the feeder failed: every other connection stops too, and says why."""
    run.halted.set()
    if isinstance(error, PaperboyError):
        log.error("delivery stopped while %s: %s", doing, error.message)
    elif not isinstance(error, asyncio.CancelledError):
        log.error("delivery stopped while %s", doing, exc_info=error)


def _offer(queue: asyncio.Queue[Claim | None], item: Claim | None) -> None:
    """Put without waiting: a full queue already wakes whoever waits on it."""
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(item)


def _drain(queue: asyncio.Queue[Claim | None]) -> list[Claim]:
    """Everything waiting in the queue, without its "no more" marks."""
    claims = []
    while not queue.empty():
        if (claim := queue.get_nowait()) is not None:
            claims.append(claim)
    return claims


class _LedgerThread:
    """Runs the ledger's calls, which block (SQLAlchemy on SQLite or psycopg), in order on one
    thread of their own, so that the event loop keeps every connection moving meanwhile."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ledger")

    async def __call__(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(call, *args, **kwargs))

    def __enter__(self) -> _LedgerThread:
        return self

    def __exit__(self, *_: object) -> None:
        self._executor.shutdown()
