"""Run ids for the logs (one line per event, each with the id of the run it belongs to) and the
heartbeat row each unattended run leaves in the store."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from paperboy.clock import Clock
from store.health import HealthStore, Run
from store.types import RunKind

current_run: ContextVar[str] = ContextVar("current_run", default="-")
LOG_FORMAT = "%(asctime)s %(levelname)s run=%(run_id)s %(name)s: %(message)s"


class RunIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = current_run.get()
        return True


def configure_logging(level: int) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RunIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@contextmanager
def run(kind: RunKind, health: HealthStore, clock: Clock) -> Iterator[dict[str, int]]:
    """A run: its id in every log line inside, and a heartbeat row with the counters it fills."""
    run_id = uuid.uuid4().hex[:8]
    token = current_run.set(run_id)
    started = clock()
    counters: dict[str, int] = {}
    logging.getLogger(__name__).info("%s run started", kind)
    try:
        yield counters
    finally:
        health.record_run(Run(run_id, kind, started, clock(), _ints(counters)))
        logging.getLogger(__name__).info("%s run finished: %s", kind, counters)
        current_run.reset(token)


def _ints(counters: Mapping[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in counters.items()}
