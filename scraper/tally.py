"""Counting the HTTP requests one piece of work made: every attempt, retry and redirect hop.

The polite client reports each request it sends; whoever wants the true cost of a fetch (the
``fetches.requests`` column) opens a tally around it. The open tallies live in a context
variable, so fetches in other threads or tasks never count each other's requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class RequestTally:
    """How many HTTP requests went out while it was open."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


_OPEN: ContextVar[tuple[RequestTally, ...]] = ContextVar("paperboy_request_tallies", default=())


@contextmanager
def counting_requests() -> Iterator[RequestTally]:
    """Count every request sent meanwhile; tallies nest, each sees everything inside it."""
    tally = RequestTally()
    token = _OPEN.set((*_OPEN.get(), tally))
    try:
        yield tally
    finally:
        _OPEN.reset(token)


def count_sent(requests: int) -> None:
    """The client sent ``requests`` more requests (an attempt and the redirects it followed)."""
    for tally in _OPEN.get():
        tally.count += requests
