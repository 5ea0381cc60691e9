"""Build a real fetcher whose HTTP edge is respx replaying saved responses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import respx

from paperboy.clock import fixed_clock
from scraper.fetch import HuggingFaceFetcher
from scraper.http import ClientConfig, PoliteHttp, Politeness, build_client
from scraper.robots import RobotsGate
from tests.conftest import PINNED
from tests.fakes import FakeTime

BASE = "https://huggingface.co"


@contextmanager
def replaying_fetcher(
    *, robots: str | None = None, robots_status: int = 200
) -> Iterator[tuple[HuggingFaceFetcher, respx.MockRouter, FakeTime]]:
    """A fetcher on the real client and parsers; only the network is respx."""
    clock = FakeTime()
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        if robots is not None or robots_status != 200:
            router.get("/robots.txt").respond(robots_status, text=robots or "")
        else:
            router.get("/robots.txt").respond(404)
        with build_client(ClientConfig(base_url=BASE, user_agent="Paperboy-test")) as client:
            http = PoliteHttp(
                client,
                Politeness(delay=1.0, max_retries=1),
                sleep=clock.sleep,
                monotonic=clock.monotonic,
                jitter=lambda: 0.5,
            )
            yield (
                HuggingFaceFetcher(http, RobotsGate(http, BASE), fixed_clock(PINNED)),
                router,
                clock,
            )
