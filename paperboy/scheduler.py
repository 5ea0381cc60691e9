"""`paperboy serve`'s scheduler: APScheduler 3.x jobs that only call the orchestrators."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from store.types import RunKind

log = logging.getLogger(__name__)
MISFIRE_GRACE = 3600  # a job that missed its time by less than an hour still runs, once


def build_scheduler(
    *,
    fetch: Callable[[], object],
    dispatch: Callable[[], object],
    fetch_every: float,
    dispatch_every: float,
) -> BlockingScheduler:
    """Two jobs with explicit ids: fetching the lists, and sending what is due."""
    scheduler = BlockingScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
        timezone="UTC",
    )
    scheduler.add_job(
        _logged(RunKind.FETCH, fetch),
        IntervalTrigger(seconds=fetch_every),
        id=RunKind.FETCH.value,
        replace_existing=True,
        next_run_time=_now(),
    )
    scheduler.add_job(
        _logged(RunKind.DISPATCH, dispatch),
        IntervalTrigger(seconds=dispatch_every),
        id=RunKind.DISPATCH.value,
        replace_existing=True,
        next_run_time=_now(),
    )
    return scheduler


def stop_on_signals(scheduler: BlockingScheduler, stopping: threading.Event) -> None:
    """SIGTERM and SIGINT: senders finish the message in hand and give back the rest of their
    claims; the scheduler waits for the running job, then stops."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the current message, then stopping", signum)
        stopping.set()
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _logged(name: RunKind, job: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:  # a failed run must not stop the schedule; it is logged and retried
            log.exception("the %s job failed; it runs again at its next time", name)

    run.__name__ = name.value
    return run


def _now() -> datetime:
    return datetime.now(UTC)
