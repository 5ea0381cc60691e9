"""Compose the digests that are due, then deliver them: the thin orchestrator around pure parts.

compose: who is due (paperboy.schedule) -> their new matching papers (paperboy.profiles) -> the
content (paperboy.digest) -> HTML and text (mailer.render) -> a digest row and a pending delivery
(store.ledger), one transaction each. deliver: claim, send, record, under leases; any number of
senders can run at once. Re-running either after a crash never sends a period twice.

Delivery runs every connection of a sender on one event loop; the ledger's calls, which block,
run in order on one thread of their own (see _LedgerThread).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import ParamSpec, TypeVar
from urllib.parse import quote, urlsplit

from mailer.message import build, clean_subject
from mailer.render import DigestRenderer
from mailer.transports import RelayError, SendError, Transport, Unconfirmed
from mailer.types import DigestEntry, Envelope, OutgoingEmail
from paperboy import digest as digests
from paperboy import freshness, schedule
from paperboy.breaker import Breaker, Watched
from paperboy.clock import Clock
from paperboy.errors import InputError, PaperboyError
from paperboy.profiles.matcher import Match, Matcher, ProfileSpec
from paperboy.tokens import MAX_AGE, Purpose, Tokens
from store.ledger import Ledger
from store.repository import SqlStore
from store.subscribers import SubscriberStore
from store.types import Claim, Delivered, DigestRecord, Subscriber

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
BOUNCE_AFTER = 3  # permanent failures in a row before an address is suppressed
LATEST_READ = 50  # recent daily-list fetches read for freshness (a backfill adds one a day)
BREAKER_AFTER = 3  # connection failures or timeouts in a row that stop a run for the relay


@dataclass(frozen=True, slots=True)
class MailConfig:
    sender: str  # the From header
    public_url: str  # where the web pages live, for links
    max_bytes: int = 95_000
    workers: int = 4
    lease: timedelta = timedelta(minutes=5)
    batch: int = 10  # deliveries claimed at a time (up to twice that wait, messages in memory)
    breaker_after: int = BREAKER_AFTER  # relay failures in a row that stop a delivery run
    retention: timedelta = timedelta(days=365)  # older digests are pruned (not the latest)

    @property
    def domain(self) -> str:
        address = parseaddr(self.sender)[1]
        return address.rpartition("@")[2] or (urlsplit(self.public_url).hostname or "localhost")


@dataclass
class Report:
    """What one dispatch did, for the CLI and the logs."""

    due: int = 0
    composed: int = 0
    matched: int = 0  # matching papers over all composed digests
    empty: int = 0
    skipped_reason: str | None = None
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    bounced: int = 0
    requeued: int = 0
    unknown: int = 0
    expired: int = 0  # still failing for a passing reason when the next digest was due
    unconfirmed: int = 0  # the relay never answered the final ".": unknown, never sent again
    expired_signups: int = 0  # sign-ups never confirmed, erased
    pruned: int = 0  # digests older than the retention, deleted with their deliveries
    previews: list[tuple[str, str, int]] = field(default_factory=list)  # (email, subject, papers)
    errors: list[str] = field(default_factory=list)  # a digest not built, a sender stopped
    breaker: str | None = None  # why delivery stopped for the relay (the rest wait)
    refusals: Counter[str] = field(default_factory=Counter)  # why messages were not handed over


class Dispatcher:
    def __init__(
        self,
        *,
        papers: SqlStore,
        people: SubscriberStore,
        ledger: Ledger,
        tokens: Tokens,
        config: MailConfig,
        clock: Clock,
        renderer: DigestRenderer | None = None,
    ) -> None:
        self._papers, self._people, self._ledger = papers, people, ledger
        self._tokens, self._config, self._clock = tokens, config, clock
        self._renderer = renderer or DigestRenderer()
        self._rng = random.Random()
        self._sender = parseaddr(config.sender)[1]  # the bare address, for MAIL FROM
        self.stopping = threading.Event()  # set on SIGTERM: finish the message, release the rest

    # -- compose -----------------------------------------------------------------------------

    def compose(self, *, dry_run: bool = False) -> Report:
        now = self._clock()
        report = Report()
        if not dry_run:
            expiry = timedelta(seconds=MAX_AGE[Purpose.CONFIRM] or 0)
            report.expired_signups = self._people.expire_pending(now - expiry)
            report.pruned = self._ledger.prune(now - self._config.retention)
        pairs = self._people.active_profiles()
        subscribers = {s.id: s for s, _ in pairs}
        sent = self._ledger.periods(list(subscribers))
        due = {
            sid: period
            for sid, s in subscribers.items()
            if (period := schedule.due_period(_timing(s), now, sent.get(sid, frozenset())))
        }
        report.due = len(due)
        if not due:
            return report
        stale = self._stale(now)
        if stale:  # never tell subscribers "nothing new" when we could not look
            report.skipped_reason = stale
            log.warning("not composing %d digests: %s", len(due), stale)
            return report
        ends = self._ledger.window_ends(list(due))
        starts = {
            sid: ends.get(sid) or now - schedule.default_window(_timing(subscribers[sid]))
            for sid in due
        }
        papers = self._papers.papers_seen_between(min(starts.values()), now)
        specs = [ProfileSpec(p.id, s.id, p.name, p.query) for s, p in pairs if s.id in due]
        matcher = Matcher(specs)
        unusable = _unusable(matcher)
        result = matcher.match(papers)
        cache: dict[object, DigestEntry] = {}
        for sid, period in due.items():
            subscriber = subscribers[sid]
            if sid in unusable:  # no digest rather than one that leaves a profile out
                for problem in unusable[sid]:
                    report.errors.append(f"no digest for {subscriber.email}: {problem}")
                    log.error("no digest for %s: %s", subscriber.email, problem)
                continue
            matches = [
                m for m in result.for_subscriber(sid) if digests.in_window(m, starts[sid], now)
            ]
            try:
                record = self._digest(subscriber, period, matches, starts[sid], now, cache)
            except InputError as e:  # one unusable row must not stop everybody's digest
                report.errors.append(f"no digest for {subscriber.email}: {e}")
                log.error("no digest for %s: %s", subscriber.email, e)
                continue
            if dry_run:  # counted exactly as send counts it; only real mails are listed
                _count(report, record)
                if record.kind != "skipped":
                    report.previews.append((subscriber.email, record.subject, record.shown))
                continue
            if self._ledger.record(record) is not None:
                _count(report, record)
        return report

    def preview(self, subscriber: Subscriber, *, archive_url: str | None = None) -> DigestRecord:
        """The digest this subscriber would get now, due or not; nothing is recorded.

        Its kind is the one send would record ("skipped": send mails nothing). ``archive_url``
        replaces the archive page in its links ("view in browser", "and N more"): a preview's
        period has no digest in the archive, so the real link would not work yet.
        """
        now = self._clock()
        timing = _timing(subscriber)
        start = self._ledger.window_ends([subscriber.id]).get(subscriber.id)
        start = start or now - schedule.default_window(timing)
        period = schedule.period_of(timing, now) or now.astimezone(UTC).date().isoformat()
        specs = [
            ProfileSpec(p.id, subscriber.id, p.name, p.query)
            for p in self._people.profiles(subscriber.id)
        ]
        matcher = Matcher(specs)
        if matcher.rejected:  # the same profile would stop this subscriber's real digest
            raise matcher.rejected[0][1]
        papers = self._papers.papers_seen_between(start, now)
        matches = matcher.match(papers).for_subscriber(subscriber.id)
        links = self.links(subscriber, period)
        if archive_url is not None:
            links = links.with_archive(archive_url)
        return self._digest(subscriber, period, matches, start, now, {}, links)

    def stale_reason(self) -> str | None:
        """Why compose would compose nothing now (fetching broken or stale), or None."""
        return self._stale(self._clock())

    def _stale(self, now: datetime) -> str | None:
        """Why nothing may be composed now (see paperboy.freshness), from the newest fetch and
        the newest good fetch of each list that can feed today's digests."""
        # The newest fetches of the daily list, whatever day each is filed under: a fetch of the
        # latest list may carry any day the site answered with.
        found = {f.id: f for f in self._papers.list_fetches(source="day", limit=LATEST_READ)}
        for source, period in freshness.wanted(now):
            for verdicts in (None, freshness.GOOD):
                row = self._papers.last_fetch(verdicts=verdicts, source=source, period=period)
                if row is not None:
                    found[row.id] = row
        return freshness.stale(list(found.values()), now)

    def _digest(
        self,
        subscriber: Subscriber,
        period: str,
        matches: Sequence[Match],
        start: datetime,
        now: datetime,
        cache: dict[object, DigestEntry],
        links: digests.Links | None = None,
    ) -> DigestRecord:
        selection = digests.select(matches, subscriber.max_papers)
        kind = digests.kind(selection, subscriber.send_empty)
        links = links or self.links(subscriber, period)
        html, text, selection = self._render(subscriber, period, selection, links, cache)
        subject = clean_subject(digests.subject(selection, period))
        message_id = f"<digest.{uuid.uuid4().hex}@{self._config.domain}>"
        # The message is built once, here: every retry sends the very same bytes (same
        # Message-ID and Date), and the sending loop does no rendering or encoding at all.
        message = build(
            self._outgoing(subscriber, subject, html, text, message_id),
            sender=self._config.sender,
            list_id=f"Paperboy digest <digest.{self._config.domain}>",
            date=now,
        )
        return DigestRecord(
            subscriber_id=subscriber.id,
            recipient=subscriber.email,
            period=period,
            kind=kind,
            window_start=start,
            window_end=now,
            paper_ids=selection.paper_ids,
            shown=selection.shown,
            subject=subject,
            message_id=message_id,
            html=html,
            text=text,
            message=message,
            created_at=now,
            deadline=schedule.retry_deadline(_timing(subscriber), now),
        )

    def _render(
        self,
        subscriber: Subscriber,
        period: str,
        selection: digests.Selection,
        links: digests.Links,
        cache: dict[object, DigestEntry],
    ) -> tuple[str, str, digests.Selection]:
        """Render; while over the size limit, show fewer papers and link to the rest."""
        while True:
            content = digests.content(subscriber.email, period, selection, links, cache)
            html, text = self._renderer.render(content)
            size = len(html.encode()) + len(text.encode())
            if size <= self._config.max_bytes or selection.shown <= 1:
                return html, text, selection
            selection = digests.trimmed(selection, max(1, selection.shown * 2 // 3))

    def links(self, subscriber: Subscriber, period: str) -> digests.Links:
        """The digest's links, each naming the subscriber's random link key (never the id)."""
        base = self._config.public_url
        key = subscriber.link_key
        return digests.Links(
            archive=f"{base}/d/{self._tokens.for_subscriber(Purpose.ARCHIVE, key, period)}",
            manage=f"{base}/m/{self._tokens.for_subscriber(Purpose.MANAGE, key)}",
            unsubscribe=f"{base}/u/{self._tokens.for_subscriber(Purpose.UNSUBSCRIBE, key)}",
        )

    # -- deliver -----------------------------------------------------------------------------

    def deliver(self, transports: Callable[[], Transport], *, workers: int | None = None) -> Report:
        """Send every due delivery over a few connections at once, each reused for many.

        Never hangs on a failure: a store that refuses writes, a transport that cannot take
        messages, or the breaker (``BREAKER_AFTER`` relay failures in a row) stops the whole
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
        for outcome in outcomes:
            if isinstance(outcome, RelayError):  # the transport refused us: said as breaker
                report.breaker = report.breaker or f"{outcome.message} ({outcome.hint})"
            elif isinstance(outcome, PaperboyError):  # the store failed: the CLI says why
                hint = f" ({outcome.hint})" if outcome.hint else ""
                report.errors.append(f"{outcome.message}{hint}")
            elif isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                raise outcome  # a bug, not a refusal or a store error: let it be seen

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
                outcome = await self._send_one(transport, claim, pending, run)
                setattr(run.report, outcome, getattr(run.report, outcome) + 1)
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
    ) -> str:
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
            return "requeued"
        except RelayError as e:
            # Our relay or our own sender refused: nobody's delivery is at fault. It waits (its
            # attempt not counted) and the run stops, like the breaker, with the operator told.
            # (_deliver says why in the report's ``breaker``.)
            await run.ledger(self._flush, pending)
            await run.ledger(self._ledger.release, claim, self._clock())
            log.error("delivery stopped: %s (%s)", e.message, e.hint)
            raise
        except Unconfirmed as e:  # at most once: it may have arrived, so never again
            await run.ledger(self._flush, pending)
            await run.ledger(self._ledger.unconfirmed, claim, self._clock(), error=e.message)
            log.warning("delivery %s to %s: %s", claim.delivery_id, claim.recipient, e)
            return "unconfirmed"
        except SendError as e:
            # Refused before DATA: the previous message's mark is written on its own.
            run.report.refusals[e.message] += 1
            await run.ledger(self._flush, pending)
            return await run.ledger(self._refused, claim, e)
        pending.append(Delivered(claim, self._clock(), code))
        return "sent"

    def _flush(self, pending: list[Delivered]) -> None:
        while pending:
            self._ledger.sent(pending.pop())

    def _refused(self, claim: Claim, error: SendError) -> str:
        """Record a refusal. Only a permanent refusal of the recipient is final (and counts
        toward the bounce rule); anything else is tried again until the next digest is due,
        then ``expired``."""
        now = self._clock()
        final = error.permanent and error.recipient_refused
        retry_at = None if final else now + self._backoff(claim.attempts)
        state = self._ledger.failed(
            claim, now, code=error.code, error=error.message, retry_at=retry_at
        )
        log.warning("delivery %s to %s: %s (%s)", claim.delivery_id, claim.recipient, error, state)
        if state == "temp_failed":
            return "retrying"
        if state == "expired":
            return "expired"
        if self._ledger.permanent_failures_in_a_row(claim.recipient) >= BOUNCE_AFTER:
            self._people.set_status(claim.recipient, "bounced", now)
            return "bounced"
        return "failed"

    def _backoff(self, attempts: int) -> timedelta:
        """1, 2, 4, ... minutes (capped at an hour), each with up to 50% jitter."""
        base = min(60.0, 2.0 ** max(0, attempts - 1))
        return timedelta(minutes=base * (1 + self._rng.random() / 2))

    def _outgoing(
        self,
        subscriber: Subscriber,
        subject: str,
        html: str,
        text: str,
        message_id: str,
    ) -> OutgoingEmail:
        token = self._tokens.for_subscriber(Purpose.UNSUBSCRIBE, subscriber.link_key)
        mailbox = self._sender or f"paperboy@{self._config.domain}"
        return OutgoingEmail(
            recipient=subscriber.email,
            subject=subject,
            text=text,
            html=html,
            message_id=message_id,
            unsubscribe_url=f"{self._config.public_url}/u/{token}",
            unsubscribe_mailto=f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}",
        )


class LeaseLost(Exception):
    """Another sender took this delivery over: stop before DATA."""


class _StartMarks:
    """Group commit of the "DATA started" marks: the marks asked for while one commit runs go
    together in the next, each with its own answer. A commit is most of a mark's cost (and on
    PostgreSQL a flush of its log), and every connection waits on its mark before DATA."""

    def __init__(self, ledger: Ledger, thread: _LedgerThread, clock: Clock) -> None:
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


def _unusable(matcher: Matcher) -> dict[int, list[str]]:
    """Subscribers with a profile the matcher refused (stored before the query limits, or
    written by hand), each refusal said with what to do about it.

    Such a subscriber gets no digest this run and stays due: a digest without one of their
    profiles would advance their window past papers that profile should have shown them.
    """
    found: dict[int, list[str]] = {}
    for spec, error in matcher.rejected:
        found.setdefault(spec.subscriber_id, []).append(
            f"{error.message}; fix or remove that profile "
            "(`paperboy profile edit` or `paperboy profile remove`)"
        )
    return found


def _count(report: Report, record: DigestRecord) -> None:
    report.matched += len(record.paper_ids)
    report.composed += record.kind != "skipped"
    report.empty += record.kind == "skipped"


def _timing(s: Subscriber) -> schedule.Timing:
    return schedule.Timing(s.time_zone, s.send_hour, s.frequency, s.weekday, s.send_minute)
