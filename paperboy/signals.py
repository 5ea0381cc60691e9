"""SIGTERM and SIGINT for the one-shot commands (`send`, `run-once`), handled as `serve` does:
the message in hand is finished, every other claim is given back, and the command exits."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class Stop:
    """The signal that asked the run to stop, if one did."""

    signum: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a command a signal ended."""
        return 128 + (self.signum or 0)


@contextmanager
def stop_on_signals(stopping: threading.Event) -> Iterator[Stop]:
    """Within the block, the first SIGTERM or SIGINT sets ``stopping`` (the run winds down);
    a second one interrupts at once. The previous handlers are back afterwards."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():  # only there can Python
        yield stop
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.signum is not None:  # asked twice: do not wait for the message in hand
            raise KeyboardInterrupt
        stop.signum = signum
        stopping.set()
        log.warning("%s: finishing the message in hand, then stopping", stop.name)

    previous = {number: signal.signal(number, handler) for number in SIGNALS}
    try:
        yield stop
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
