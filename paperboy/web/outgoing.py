"""The page mails' queue: the sign-up and link pages hand it a job and answer at once.

A page that waited for its mail would tell strangers who is subscribed: the time it takes, and
whether the relay's refusal shows, depend on what the address is. So a request only validates,
rate-limits and submits; one worker thread here does the rest: the job's look-ups and writes
(``prepare``, which returns the letters to send, if any), then the sending, with retries when
the relay says "later" (4xx, a dropped connection) and a log line when it gives up.

Why a thread and not the delivery ledger: a ledger row hangs on a subscriber, and the job exists
before anybody knows whether there is one (deciding that is the state-dependent work the request
must not do); a page mail also carries a short-lived link, so resending it after a restart is
worth less than the new tables and migration it would take. What a crash loses is a mail the
reader can ask for again from the same page; the log says which.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mailer.transports import SendError
from mailer.types import Envelope

log = logging.getLogger(__name__)

RETRY_DELAYS = (10.0, 60.0, 300.0, 900.0)  # seconds before each new try; then it gives up
CAPACITY = 1000  # jobs and letters waiting at once; more are refused, never waited for

Prepare = Callable[[], Sequence[Envelope]]
Send = Callable[[Envelope], object]


@dataclass(order=True)
class _Task:
    """A job still to prepare (``prepare``), or one letter still to send (``letter``)."""

    due: float
    order: int
    name: str = field(compare=False)
    prepare: Prepare | None = field(compare=False, default=None)
    letter: Envelope | None = field(compare=False, default=None)
    tries: int = field(compare=False, default=0)


class MailQueue:
    """A bounded queue and its one worker thread (started on the first job, stopped by close)."""

    def __init__(
        self,
        send: Send,
        *,
        capacity: int = CAPACITY,
        retries: Sequence[float] = RETRY_DELAYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._capacity = capacity
        self._retries = tuple(retries)
        self._clock = clock
        self._changed = threading.Condition()
        self._waiting: list[_Task] = []  # a heap on (due, order)
        self._busy = False  # the worker holds a task outside the heap
        self._order = itertools.count()
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, name: str, prepare: Prepare) -> bool:
        """Take a job without waiting for anything; False if full or closing (say "busy")."""
        with self._changed:
            if self._closing or len(self._waiting) + self._busy >= self._capacity:
                return False
            self._push(_Task(self._clock(), 0, name, prepare=prepare))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="paperboy-mail", daemon=True
                )
                self._thread.start()
        return True

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every job is done (sent or given up); False if ``timeout`` came first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._waiting or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or not self.running:
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Send what is due now, give up (and log) the retries waiting for later, stop."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the page mail worker did not stop within %.0f s", timeout)

    # -- the worker ----------------------------------------------------------------------------

    def _push(self, task: _Task) -> None:
        task.order = next(self._order)
        heapq.heappush(self._waiting, task)
        self._changed.notify_all()

    def _work(self) -> None:
        while (task := self._next()) is not None:
            follow: list[_Task] = []
            try:
                follow = self._attempt(task)
            finally:
                with self._changed:
                    for t in follow:
                        self._push(t)
                    self._busy = False
                    self._changed.notify_all()
        with self._changed:
            for left in self._waiting:
                log.warning("%s: gave up at shutdown, before try %d", left.name, left.tries + 1)
            self._waiting.clear()
            self._changed.notify_all()

    def _next(self) -> _Task | None:
        """The next task due, waiting for it; None once closing and nothing is due."""
        with self._changed:
            while True:
                now = self._clock()
                if self._waiting and self._waiting[0].due <= now:
                    self._busy = True
                    return heapq.heappop(self._waiting)
                if self._closing:
                    return None
                wait = self._waiting[0].due - now if self._waiting else None
                self._changed.wait(wait)

    def _attempt(self, task: _Task) -> list[_Task]:
        """Do one task; what is left to do (its letters, or itself again later)."""
        now = self._clock()
        if task.prepare is not None:
            try:
                letters = task.prepare()
            except Exception as e:  # the store, most likely: try the whole job again later
                return self._again(task, f"could not be prepared: {e}", e)
            return [_Task(now, 0, task.name, letter=letter) for letter in letters]
        assert task.letter is not None
        try:
            self._send(task.letter)
        except SendError as e:
            if e.permanent:
                log.warning("%s: the relay refused it for good: %s", task.name, e)
                return []
            return self._again(task, f"the relay did not take it: {e}", None)
        except Exception as e:
            return self._again(task, f"could not be sent: {e}", e)
        log.info("%s: handed over", task.name)
        return []

    def _again(self, task: _Task, why: str, error: Exception | None) -> list[_Task]:
        """The same task after the next delay, or nothing (logged) when none is left."""
        unexpected = error is not None and not isinstance(error, SendError)
        if task.tries >= len(self._retries):
            log.error(
                "%s: gave up after %d tries: %s",
                task.name,
                task.tries + 1,
                why,
                exc_info=unexpected,
            )
            return []
        delay = self._retries[task.tries]
        log.warning("%s: %s; trying again in %g s", task.name, why, delay, exc_info=unexpected)
        return [
            _Task(
                self._clock() + delay,
                0,
                task.name,
                prepare=task.prepare,
                letter=task.letter,
                tries=task.tries + 1,
            )
        ]
